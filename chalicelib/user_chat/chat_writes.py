"""What every conditional write of a chat item shares (store.py, push_marks.py): the
conditions that it is still the same chat and that no deletion holds it, and `ChatGone`
when one fails."""

from pynamodb.exceptions import UpdateError

from chalicelib.storage.conditions import condition_failed
from chalicelib.user_chat.records import UserChatRecord


class ChatGone(Exception):
    """The chat item was deleted or replaced by a newer chat meanwhile."""


def same_chat(chat: UserChatRecord):
    # Fails on a missing item too: a comparison with an absent attribute is false.
    return UserChatRecord.generation == chat.generation


def not_deleting(now: float):
    """No deletion holds the chat (a lease that ran out, its request gone, holds nothing)."""
    return UserChatRecord.deleting_until.does_not_exist() | (UserChatRecord.deleting_until < now)


def update_if(chat: UserChatRecord, actions: list, condition) -> None:
    """A conditional update; `ChatGone` when the condition fails."""
    try:
        chat.update(actions=actions, condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            raise ChatGone() from None
        raise
