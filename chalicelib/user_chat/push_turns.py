"""What push's job (chalicelib/push) asks of a chat before it sends: whether the chat
still wants the push for an answer, and the one push claimed for it (docs/push.md)."""

from typing import NamedTuple

from chalicelib.storage.models import entries
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.records import UserChatRecord, deleting, unseen_answers


class PushTurn(NamedTuple):
    """`outcome` "due": send to `target` for the answers up to `claimed`; otherwise what
    the job ends as ("dropped" or "seen"), with the log's words."""

    outcome: str
    words: str
    chat: UserChatRecord | None = None
    target: dict[str, str] | None = None
    claimed: int = 0


def take_push(
    context: ChatContext, key: str, generation: int, article_id: int, claimed: int | None
) -> PushTurn:
    """The push for the answers up to `article_id` (at least), taken by one job only;
    `claimed`: what the job took before, if this is its retry."""
    store = context.store
    chat = store.get(key)
    now = context.clock()
    if not context.usable(chat) or chat.generation != generation or deleting(chat, now):
        return PushTurn("dropped", "chat gone")
    target = entries(chat.push_target)
    if not target:
        return PushTurn("dropped", "no target")
    unseen = unseen_answers(chat)
    if not unseen or unseen[-1] < article_id:
        return PushTurn("seen", "seen")
    if claimed is None:
        if not store.claim_push(chat, unseen[-1], now):
            return PushTurn("dropped", "pushed already")
    elif int(chat.push_sent or 0) != claimed:
        return PushTurn("dropped", "a newer push took over")
    return PushTurn("due", "", chat, target, unseen[-1])
