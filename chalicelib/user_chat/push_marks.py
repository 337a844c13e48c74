"""The writes of push (chalicelib/push) on a chat item: its target, what a poll showed
the device, and the one push claimed per answer. Part of `ChatStore` (store.py)."""

from chalicelib.user_chat.chat_writes import ChatGone, not_deleting, same_chat, update_if
from chalicelib.user_chat.records import UserChatRecord
from chalicelib.user_chat.states import ChatState


class PushMarks:
    def set_push_target(
        self,
        chat: UserChatRecord,
        target: dict[str, str] | None,
        now: float,
        only_if: dict[str, str] | None = None,
    ) -> bool:
        """The chat's push target (None: none), while it is open and not being deleted;
        `only_if`: only while its target is still that one (one found gone is not one
        registered meanwhile). False when nothing was written."""
        condition = same_chat(chat) & (UserChatRecord.state == ChatState.OPEN) & not_deleting(now)
        if only_if is not None:
            field = "token" if only_if["kind"] == "fcm" else "endpoint"
            condition = condition & (UserChatRecord.push_target[field] == only_if[field])
        action = UserChatRecord.push_target.set(target) if target else UserChatRecord.push_target.remove()
        try:
            update_if(chat, [action], condition)
            return True
        except ChatGone:
            return False

    def mark_seen(self, chat: UserChatRecord, article_id: int) -> None:
        """A poll showed the device the agents' messages up to `article_id`."""
        older = UserChatRecord.push_seen.does_not_exist() | (UserChatRecord.push_seen < article_id)
        try:
            update_if(chat, [UserChatRecord.push_seen.set(article_id)], same_chat(chat) & older)
        except ChatGone:
            pass  # seen more already, or the chat is gone: nothing to remember

    def claim_push(self, chat: UserChatRecord, article_id: int, now: float) -> bool:
        """Take the push for the answers up to `article_id`: True for one caller only, and
        only while no poll has shown them and the chat is open and not being deleted."""
        condition = (
            same_chat(chat)
            & (UserChatRecord.state == ChatState.OPEN)
            & not_deleting(now)
            & (UserChatRecord.push_sent.does_not_exist() | (UserChatRecord.push_sent < article_id))
            & (UserChatRecord.push_seen.does_not_exist() | (UserChatRecord.push_seen < article_id))
        )
        try:
            update_if(chat, [UserChatRecord.push_sent.set(article_id)], condition)
            return True
        except ChatGone:
            return False
