"""Storage of the user chats: one DynamoDB item per chat of a device in a region, with
its messages, and the conditional writes that keep it consistent when requests race
(claiming a new chat, sending, refreshing from Zammad, the webhook, the clean-up job).

Every write names the chat it means (its generation, or the claim's lease), so a write
racing a deletion fails instead of recreating a partial item: `ChatGone`.
"""

from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.platform.config import Settings
from chalicelib.platform.times import utc_datetime
from chalicelib.storage.conditions import condition_failed, delete_if, too_large
from chalicelib.storage.models import entries
from chalicelib.user_chat.chat_writes import ChatGone, not_deleting, same_chat, update_if
from chalicelib.user_chat.marks import SendMark
from chalicelib.user_chat.push_marks import PushMarks
from chalicelib.user_chat.records import (
    NewChat,
    StoredMessage,
    UserChatRecord,
    deleting,
    new_claim,
    ticket_key,
)
from chalicelib.user_chat.states import ChatState
from chalicelib.web.errors import Busy


def _holds_lease(claim: UserChatRecord):
    # The item must exist too: a missing lease_id compared with a missing one is no lease.
    return UserChatRecord.chat_key.exists() & (UserChatRecord.lease_id == claim.lease_id)


class ChatStore(PushMarks):
    """The chat items and the conditional writes that keep them consistent."""

    def __init__(self, settings: Settings):
        self.retention_seconds = settings.ticket_retention_days * 86400

    def get(self, key: str, consistent: bool = True) -> UserChatRecord | None:
        """The chat; `consistent=False` for a poll (half the read units, and at worst a
        second behind: every write is conditional anyway)."""
        try:
            return UserChatRecord.get(key, consistent_read=consistent)
        except UserChatRecord.DoesNotExist:
            return None

    # --- a new chat: claim, then open (or withdraw, or leave uncertain) -----------------
    def claim(
        self, new: NewChat, previous: UserChatRecord | None, now: float, lease_seconds: float
    ) -> UserChatRecord | None:
        """Claim a new chat in place of `previous` (None: no item). None if another won."""
        record = new_claim(new, previous, now, lease_seconds, self.retention_seconds)
        condition: Condition = (
            UserChatRecord.chat_key.does_not_exist()
            if previous is None
            else UserChatRecord.generation == previous.generation
        )
        try:
            record.save(condition=condition)
        except PutError as error:
            if condition_failed(error):
                return None
            raise
        return record

    def withdraw(self, claim: UserChatRecord) -> bool:
        """Remove a claim whose ticket does not exist (unless someone took it over)."""
        return delete_if(claim, _holds_lease(claim))

    def leave_uncertain(self, claim: UserChatRecord, now: float) -> None:
        """Creating the ticket was sent but not answered: Zammad may have it."""
        try:
            update_if(
                claim,
                [UserChatRecord.state.set(ChatState.UNCERTAIN), UserChatRecord.lease_until.set(now)],
                _holds_lease(claim),
            )
        except ChatGone:
            pass  # another request took the claim over; it settles the chat

    def open(
        self,
        claim: UserChatRecord,
        ticket_id: int,
        messages: list[Any],  # dicts, or StoredMessage
        now: float,
        fetched_at: float,
        bot_job: str | None = None,
    ) -> None:
        """The claim has its ticket (created, or found when settling). `ChatGone` if the
        claim was taken over or withdrawn meanwhile. `bot_job`: a chatbot job that will
        answer the first message (the app sees the typing indicator)."""
        actions = [
            UserChatRecord.state.set(ChatState.OPEN),
            UserChatRecord.ticket_id.set(ticket_id),
            UserChatRecord.ticket_key.set(ticket_key(claim.region_slug, ticket_id)),
            UserChatRecord.messages.set(messages),
            UserChatRecord.messages_version.add(1),
            UserChatRecord.messages_fetched_at.set(fetched_at),
            UserChatRecord.last_activity.set(now),
            UserChatRecord.expires_at.set(utc_datetime(now + self.retention_seconds)),
            UserChatRecord.lease_id.remove(),
            UserChatRecord.lease_until.remove(),
        ]
        if claim.creating_mark:
            actions.append(UserChatRecord.sent[claim.creating_mark].set(now))
        if bot_job is not None:
            actions.append(UserChatRecord.bot_jobs.set({bot_job: now}))
        update_if(claim, actions, _holds_lease(claim))

    # --- a later message: begin (the mark), then finish or abandon ---------------------
    def begin_send(
        self, chat: UserChatRecord, mark: str, now: float, until: float, sent_before: float | None
    ) -> bool:
        """Mark a message as being sent, unless the same one is being sent, or was sent
        after `sent_before` (None: ever) (False). `ChatGone` when the chat is no longer this
        open chat; `Busy` while it is being deleted (nothing is written to its ticket after
        the deletion's note). One conditional write: requests that read the chat a moment
        apart agree. Every write to the ticket begins here, the chatbot's too."""
        was_sent = UserChatRecord.sent[mark].does_not_exist()
        if sent_before is not None:
            was_sent = was_sent | (UserChatRecord.sent[mark] < sent_before)
        try:
            chat.update(
                actions=[UserChatRecord.sending[mark].set(until), UserChatRecord.writes_begun.add(1)],
                condition=same_chat(chat)
                & (UserChatRecord.state == ChatState.OPEN)
                & not_deleting(now)
                & (UserChatRecord.sending[mark].does_not_exist() | (UserChatRecord.sending[mark] < now))
                & was_sent,
            )
            return True
        except UpdateError as error:
            if not condition_failed(error):
                raise
        fresh = self.get(chat.chat_key)
        if fresh is None or fresh.generation != chat.generation or fresh.state != ChatState.OPEN:
            raise ChatGone()
        if deleting(fresh, now):
            raise Busy()
        return False

    def finish_send(
        self,
        chat: UserChatRecord,
        mark: str,
        message: dict[str, Any],
        now: float,
        language: str,
        consent: bool | None,
        bot_job: str | None = None,
    ) -> None:
        """Store a sent message with the chat (atomically: concurrent sends all stay), and
        the chatbot job that will answer it, if any."""
        actions = [
            UserChatRecord.sending[mark].remove(),
            UserChatRecord.sent[mark].set(now),
            UserChatRecord.last_activity.set(now),
            UserChatRecord.expires_at.set(utc_datetime(now + self.retention_seconds)),
            UserChatRecord.language.set(language),
        ]
        if mark in entries(chat.unanswered):
            actions.append(UserChatRecord.unanswered[mark].remove())
        for old, sent_at in entries(chat.sent).items():
            if old != mark and SendMark(old).expired(sent_at, now):
                actions.append(UserChatRecord.sent[old].remove())
        if consent is not None:
            actions.append(UserChatRecord.evaluation_consent.set(consent))
        if bot_job is not None:
            actions.append(UserChatRecord.bot_jobs[bot_job].set(now))
        if not chat.messages_stored:
            update_if(chat, actions, same_chat(chat))
            return
        try:
            update_if(
                chat,
                actions
                + [
                    UserChatRecord.messages.set(UserChatRecord.messages.append([message])),
                    UserChatRecord.messages_version.add(1),
                ],
                same_chat(chat),
            )
        except UpdateError as error:
            if not too_large(error):
                raise
            update_if(chat, actions + self._stop_storing(), same_chat(chat))

    def abandon_send(self, chat: UserChatRecord, mark: str, unanswered_after: int | None = None) -> None:
        """The message was not sent (or, with `unanswered_after`, may have been)."""
        actions = [UserChatRecord.sending[mark].remove()]
        if unanswered_after is not None:
            actions.append(UserChatRecord.unanswered[mark].set(unanswered_after))
        try:
            update_if(chat, actions, same_chat(chat))
        except ChatGone:
            pass

    # --- deleting: no write to the ticket in flight, none begins ------------------------
    def begin_deletion(self, chat: UserChatRecord, now: float, until: float) -> bool:
        """Hold the chat for its deletion until `until`, unless a write to its ticket is in
        flight (as `chat` shows) or began since `chat` was read (`writes_begun` moved), or
        another deletion holds it (False: the caller answers busy). From then on no write
        begins (`begin_send`), so the deletion's note is the ticket's last article."""
        if any(lease >= now for lease in entries(chat.sending).values()):
            return False
        unchanged = (
            UserChatRecord.writes_begun.does_not_exist()
            if chat.writes_begun is None
            else UserChatRecord.writes_begun == chat.writes_begun
        )
        try:
            update_if(
                chat,
                [UserChatRecord.deleting_until.set(until)],
                same_chat(chat) & unchanged & not_deleting(now),
            )
        except ChatGone:
            return False
        chat.deleting_until = until
        return True

    def end_deletion(self, chat: UserChatRecord) -> None:
        """The deletion failed (Zammad): writes may begin again."""
        try:
            update_if(chat, [UserChatRecord.deleting_until.remove()], same_chat(chat))
        except ChatGone:
            pass

    @staticmethod
    def _stop_storing() -> list:
        return [
            UserChatRecord.messages.set([]),
            UserChatRecord.messages_stored.set(False),
            UserChatRecord.messages_version.add(1),
        ]

    def _give_up_storing(self, chat: UserChatRecord) -> bool:
        """The messages outgrew DynamoDB's item: from now on they are read from Zammad.
        False if the chat is gone meanwhile."""
        try:
            update_if(chat, self._stop_storing(), same_chat(chat))
            return True
        except ChatGone:
            return False

    # --- messages learnt from Zammad ----------------------------------------------------
    def replace_messages(
        self, chat: UserChatRecord, messages: list[StoredMessage], now: float, settled_mark: str | None = None
    ) -> None:
        """Store what Zammad said, unless a send changed the messages meanwhile."""
        actions = [
            UserChatRecord.messages.set(messages),
            UserChatRecord.messages_version.add(1),
            UserChatRecord.messages_fetched_at.set(now),
        ]
        if settled_mark is not None:  # an unanswered send, found in the ticket
            actions += [
                UserChatRecord.unanswered[settled_mark].remove(),
                UserChatRecord.sent[settled_mark].set(now),
            ]
        try:
            update_if(chat, actions, UserChatRecord.messages_version == chat.messages_version)
        except ChatGone:
            pass  # changed meanwhile (or forgotten): the next read refreshes again
        except UpdateError as error:
            if not too_large(error):
                raise
            self._give_up_storing(chat)
        chat.messages = messages  # answer with Zammad's list in any case

    def finish_bot_job(
        self, chat: UserChatRecord, job: str | None, message: dict[str, Any] | None, handover: bool
    ) -> None:
        """A chatbot job ended: its answer (if any) joins the messages, its typing mark
        goes, and with `handover` the chat stays with humans from now on. `ChatGone` if
        the chat is gone (or replaced)."""
        actions: list = []
        if job is not None and job in entries(chat.bot_jobs):
            actions.append(UserChatRecord.bot_jobs[job].remove())
        if handover:
            actions.append(UserChatRecord.automatic_answers.set(False))
        known = message is not None and any(int(m.id) == int(message["id"]) for m in chat.messages or [])
        if message is not None and chat.messages_stored and not known:
            actions += [
                UserChatRecord.messages.set(UserChatRecord.messages.append([message])),
                UserChatRecord.messages_version.add(1),
            ]
        if not actions:
            return
        try:
            update_if(chat, actions, same_chat(chat))
        except UpdateError as error:
            if not too_large(error):
                raise
            update_if(chat, actions[:-2] + self._stop_storing(), same_chat(chat))

    def find_by_ticket(self, region: str, ticket_id: int) -> UserChatRecord | None:
        """The open chat of a ticket (the index is read eventually consistent: the chat
        itself is then read consistently and checked)."""
        hits = UserChatRecord.ticket_index.query(ticket_key(region, ticket_id), limit=1)
        return next((c for c in map(self._whole, hits) if c is not None and c.ticket_id == ticket_id), None)

    def add_message(self, chat: UserChatRecord, message: StoredMessage) -> bool:
        """Add a message learnt from Zammad unless the chat has it; False if it had.
        Conditional on the messages' version, retried on a race: no message is lost;
        `Busy` (503, Zammad retries the delivery) when the chat kept changing."""
        for _attempt in range(5):
            if any(int(known.id) == int(message.id) for known in chat.messages):
                return False
            try:
                update_if(
                    chat,
                    [
                        UserChatRecord.messages.set(list(chat.messages) + [message]),
                        UserChatRecord.messages_version.add(1),
                    ],
                    UserChatRecord.messages_version == chat.messages_version,
                )
                return True
            except ChatGone:
                pass
            except UpdateError as error:
                if not too_large(error):
                    raise
                return self._give_up_storing(chat)
            fresh = self.get(chat.chat_key)
            if fresh is None or fresh.generation != chat.generation:
                return False
            chat = fresh
        raise Busy()

    # --- forgetting ---------------------------------------------------------------------
    def inactive(self, region: str, inactive_since: float) -> list[UserChatRecord]:
        """The region's chats with no activity since then (an index range query, then each
        item: the index holds keys only)."""
        hits = UserChatRecord.activity_index.query(region, UserChatRecord.last_activity < inactive_since)
        return [c for c in map(self._whole, hits) if c is not None and c.last_activity < inactive_since]

    def active_since(
        self,
        region: str,
        since: float,
        limit: int | None = None,
        skip: Callable[[str], bool] = lambda _key: False,
    ) -> list[UserChatRecord]:
        """`skip(chat key)`: a chat the caller needs not, told from the index's keys, so its
        item is never read (a second import passes over each chat the CMS still has)."""
        later = UserChatRecord.last_activity > since
        hits = UserChatRecord.activity_index.query(region, later, scan_index_forward=False, limit=limit)
        wanted = (hit for hit in hits if not skip(hit.chat_key))
        return [c for c in map(self._whole, wanted) if c is not None and c.last_activity > since]

    def _whole(self, hit: UserChatRecord) -> UserChatRecord | None:
        return self.get(hit.chat_key)  # an index hit holds the keys only

    def forget_if_inactive(self, chat: UserChatRecord, inactive_since: float) -> bool:
        """Delete the chat unless it became active meanwhile."""
        return delete_if(UserChatRecord(chat.chat_key), UserChatRecord.last_activity < inactive_since)

    def forget(self, chat: UserChatRecord) -> None:
        delete_if(chat, same_chat(chat))
