"""The chatbot (integreat-chat) in the user chat: automatic answers and translations, done
by jobs on a queue, never inside the app's request.

- An app user's message, in a region with the chatbot on and words left in its budget,
  queues one "message" job (chalicelib/user_chat/service.py). While an answer is due the
  chat carries the job (`bot_jobs`): the app sees `chatbot_typing` for up to
  TYPING_SECONDS (user_chat/views.py). The job writes a translation of the message for the agents (an internal
  note) when the chat's language is not the region's, and, while the chat is automatic,
  the service's answer as a visible article (sender Agent, subject "automatically
  generated message", so the app marks it and Zammad's trigger skips it), with the sources
  in a note. `automatic_answers: false` hands the chat over to humans for good. When no
  answer can be had, a fallback message in the chat's language says so: never silence.
- An agent's reply (webhook) in a chat whose language is not the region's queues a
  "reply" job: its translation is added as a visible automatic article. Articles we made
  are automatic, and automatic articles never queue a job: no loops.
- Each job id is derived from the article it answers, so the same message never gets two
  jobs; the ledger (ledger.py) makes a job delivered twice run once.
- Words of visible generated text are counted per region and month; past the region's
  `chatbot_words_budget` nothing more is queued and the chat stays with humans.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.chatbot.client import Answer, ChatbotClient, ServiceFailed
from chalicelib.chatbot.ledger import JobLedger, JobProgress
from chalicelib.chatbot.queue import JobQueue
from chalicelib.chatbot.texts import fallback_message, link_list, note_body, plain_text, word_count
from chalicelib.platform.config import Settings
from chalicelib.platform.safe_html import escape_user_text, sanitize_html
from chalicelib.platform.times import utc_datetime
from chalicelib.storage.models import RegionRecord
from chalicelib.storage.small_tables import Counters
from chalicelib.user_chat.ports import StoredMessage, UserChatRecord
from chalicelib.user_chat.service import ChatGone, UserChats

if TYPE_CHECKING:
    from chalicelib.user_chat.service import BotTicket

log = logging.getLogger("integreat_chat")

HISTORY_MESSAGES = 10  # the user's last messages the service reads, as the CMS sends
JOB_MEMORY_DAYS = 7  # how long a job's ledger entry outlives it (redeliveries come sooner)
WORDS_MEMORY_DAYS = 100  # a month's word count is kept this long (the admin API shows it)


class ChatbotJob(NamedTuple):
    """A job as it travels on the queue (its fields, as JSON): for the app user's message
    (kind "message") or an agent's reply (kind "reply") with this article id, in this
    chat of this generation; `answer`: the chat shows it typing until its answer comes."""

    id: str
    kind: str
    region: str
    chat: str
    generation: int
    article: int
    answer: bool

    @classmethod
    def of(cls, job: Any) -> "ChatbotJob":
        """A job as the queue brought it (not trusted); `BadJob` if it is not one of ours."""
        if not isinstance(job, dict) or job.get("kind") not in ("message", "reply"):
            raise BadJob("not a chatbot job")
        for field, kind in cls.__annotations__.items():
            value = job.get(field)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise BadJob("%s must be %s" % (field, kind.__name__))
        return cls(**{field: job[field] for field in cls._fields})


class Work(NamedTuple):
    """One job being carried out, with what it works on."""

    region: RegionRecord
    chat: UserChatRecord
    job: ChatbotJob
    progress: JobProgress
    ticket: "BotTicket"


class BadJob(ValueError):
    """A queue message that is not a job of ours: dropped, with a log line."""


def job_id(kind: str, chat: UserChatRecord, article_id: int) -> str:
    """One id per article and kind: a message queued twice is still one job."""
    seed = "%s|%s|%d|%d" % (kind, chat.chat_key, int(chat.generation), article_id)
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


def words_key(slug: str, at: float) -> str:
    return "chatbot-words#%s#%s" % (slug, datetime.fromtimestamp(at, UTC).strftime("%Y-%m"))


class Chatbot:
    def __init__(
        self,
        settings: Settings,
        *,
        user_chats: UserChats,
        ledger: JobLedger,
        counters: Counters,
        queue: JobQueue,
        find_region: Callable[[str], RegionRecord | None],
        clock: Callable[[], float] = time.time,
    ):
        self._settings = settings
        self._user_chats = user_chats
        self._ledger = ledger
        self._counters = counters
        self._queue = queue
        self._find_region = find_region
        self._clock = clock
        self._client = (
            ChatbotClient(settings.chatbot_url, settings.chatbot_timeout_seconds)
            if settings.chatbot_url
            else None
        )

    # --- in the app's request ---------------------------------------------------------
    def enabled(self, region: RegionRecord) -> bool:
        return self._client is not None and bool(region.chatbot_enabled)

    def words_used(self, slug: str) -> int:
        return self._counters.value(words_key(slug, self._clock()))

    def within_budget(self, region: RegionRecord) -> bool:
        budget = region.chatbot_words_budget
        return budget is None or self.words_used(region.slug) < int(budget)

    def message_job(self, region: RegionRecord, chat: UserChatRecord, article_id: int) -> ChatbotJob | None:
        """The job for an app user's message just sent, or None."""
        answer = bool(chat.automatic_answers)
        if not self.enabled(region) or not (answer or chat.language != region.default_language):
            return None
        if not self.within_budget(region):
            return None
        return self._job("message", region, chat, article_id, answer=answer)

    def reply_job(
        self, region: RegionRecord, chat: UserChatRecord, message: dict[str, Any]
    ) -> ChatbotJob | None:
        """The job for an article learnt from the webhook: an agent's reply to translate."""
        if (
            message["role"] != "agent"
            or message["automatic_answer"]  # ours (or Zammad's auto-reply): never a loop
            or not self.enabled(region)
            or chat.language == region.default_language
            or not self.within_budget(region)
        ):
            return None
        return self._job("reply", region, chat, int(message["id"]), answer=False)

    def enqueue(self, chat: UserChatRecord, job: ChatbotJob) -> None:
        """Queue the job; if the queue refuses, the typing indicator goes off again (the
        message reached the agents; only the automatic answer is lost)."""
        try:
            self._queue.send(job._asdict())
        except Exception as error:
            log.error(json.dumps({"event": "chatbot_queue_failed", "error": type(error).__name__}))
            if job.answer:
                self._user_chats.drop_bot_job(chat, job.id)

    @staticmethod
    def _job(
        kind: str, region: RegionRecord, chat: UserChatRecord, article_id: int, answer: bool
    ) -> ChatbotJob:
        return ChatbotJob(
            job_id(kind, chat, article_id),
            kind,
            region.slug,
            chat.chat_key,
            int(chat.generation),
            article_id,
            answer,
        )

    # --- in the worker ----------------------------------------------------------------
    def run(self, raw: Any) -> str:
        """Carry a job out (at most once, however often it is delivered); returns what
        happened, for the log. Raises when it should be tried again (Zammad failing)."""
        job = ChatbotJob.of(raw)
        chat = self._user_chats.bot_chat(job.chat, job.generation)
        if chat is None:
            return "chat gone"  # deleted, replaced, or expired: nothing to answer
        region = self._find_region(job.region)
        if region is None or not self.enabled(region):
            self._finish(chat, job, None)
            return "chatbot off"
        now = self._clock()
        lease = 2 * self._settings.chatbot_timeout_seconds + 3 * self._settings.zammad_timeout_seconds + 30
        progress = self._ledger.begin(job.id, now, now + lease, utc_datetime(now + JOB_MEMORY_DAYS * 86400))
        if progress is None:
            return "duplicate: done or running"
        try:
            ticket = self._user_chats.bot_ticket(region, chat)
            outcome = self._carry_out(Work(region, chat, job, progress, ticket))
        except ChatGone:  # deleted (or replaced) before a write began: nothing to answer
            outcome = "chat gone"
        except BaseException:
            self._ledger.release(job.id)
            raise
        self._ledger.done(job.id)
        return outcome

    def _carry_out(self, work: "Work") -> str:
        message = _message_of(work.chat, work.job.article)
        if message is None or not self.within_budget(work.region):
            self._finish(work.chat, work.job, None)
            return "message gone" if message is None else "budget exhausted"
        if work.progress.after is not None:  # an earlier copy wrote, unanswered: look first
            found = work.ticket.posted_after(work.progress.after)
            if found is not None:
                self._finish(work.chat, work.job, found)
                return "answer found, written before"
        if work.job.kind == "message":
            return self._answer_message(work, message)
        return self._translate_reply(work, message)

    def _answer_message(self, work: "Work", message: StoredMessage) -> str:
        assert self._client is not None
        region, chat, job, ticket = work.region, work.chat, work.job, work.ticket
        outcome = []
        if chat.language != region.default_language and not work.progress.noted:
            try:
                text = plain_text(message.content)
                translation = self._client.translate(text, chat.language, region.default_language)
                title = "Translation (%s → %s)" % (chat.language, region.default_language)
                with ticket.writing(job.id):
                    ticket.note(note_body(title, escape_user_text(translation)))
                self._ledger.noted(job.id)
                outcome.append("translation noted")
            except ServiceFailed as error:
                log.warning(json.dumps({"event": "chatbot_failed", "call": str(error)}))
                outcome.append("translation failed")
        if not job.answer or not chat.automatic_answers:
            self._finish(chat, job, None)
            return ", ".join(outcome + ["no answer: the chat is with humans"])
        answer = self._answer(region, chat, job.article)
        body = sanitize_html(answer.html) if answer is not None else fallback_message(chat.language)
        handover = answer is not None and not answer.automatic_answers
        posted = None
        with ticket.writing(job.id):
            if plain_text(body):
                posted = self._post(ticket, job.id, body)
                self._count_words(region, body if answer is not None else "")
            if answer is not None and answer.sources:
                self._note_quietly(
                    ticket, note_body("Sources of the automatic answer", link_list(answer.sources))
                )
            if handover:
                try:
                    ticket.hand_over()
                except Exception:  # the chat's own flag is what counts; Zammad's mirrors it
                    log.warning(json.dumps({"event": "chatbot_handover_not_mirrored"}))
        self._finish(chat, job, posted, handover=handover)
        if answer is None:
            return ", ".join(outcome + ["fallback answered"])
        return ", ".join(outcome + ["answered" + (", handed over to humans" if handover else "")])

    def _translate_reply(self, work: "Work", message: StoredMessage) -> str:
        assert self._client is not None
        region, chat = work.region, work.chat
        try:
            translation = self._client.translate(message.content, region.default_language, chat.language)
        except ServiceFailed as error:  # the agent's own words are shown: nothing is lost
            log.warning(json.dumps({"event": "chatbot_failed", "call": str(error)}))
            return "translation failed"
        body = sanitize_html(translation)
        if not plain_text(body):
            return "empty translation"
        with work.ticket.writing(work.job.id):
            posted = self._post(work.ticket, work.job.id, body)
        self._count_words(region, body)
        self._finish(chat, work.job, posted)
        return "reply translated"

    # --- parts ------------------------------------------------------------------------
    def _answer(self, region: RegionRecord, chat: UserChatRecord, article_id: int) -> Answer | None:
        assert self._client is not None
        history = [
            plain_text(m.content)
            for m in sorted(chat.messages or [], key=lambda m: int(m.id))
            if m.role == "user" and int(m.id) <= article_id
        ][-HISTORY_MESSAGES:]
        try:
            return self._client.extract_answer(history, chat.language, region.slug)
        except ServiceFailed as error:
            log.warning(json.dumps({"event": "chatbot_failed", "call": str(error)}))
            return None

    def _post(self, ticket: "BotTicket", job: str, body: str) -> dict[str, Any]:
        """Write a visible automatic article, recording first that it may exist."""
        self._ledger.posting(job, ticket.last_article_id)
        message = ticket.post(body)
        if message is None:  # Zammad said yes without an article: the next poll reads it
            raise ServiceFailed("Zammad's answer to the article was not an article")
        return message

    @staticmethod
    def _note_quietly(ticket: "BotTicket", body: str) -> None:
        try:
            ticket.note(body)
        except Exception:  # a note for agents: not worth a second answer
            log.warning(json.dumps({"event": "chatbot_note_failed"}))

    def _finish(
        self, chat: UserChatRecord, job: ChatbotJob, message: dict[str, Any] | None, handover: bool = False
    ) -> None:
        self._user_chats.end_bot_job(chat, job.id if job.answer else None, message, handover=handover)

    def _count_words(self, region: RegionRecord, body: str) -> None:
        words = word_count(body) if body else 0
        if words:
            now = self._clock()
            self._counters.increment(
                words_key(region.slug, now), utc_datetime(now + WORDS_MEMORY_DAYS * 86400), amount=words
            )


def _message_of(chat: UserChatRecord, article_id: int) -> StoredMessage | None:
    return next((m for m in chat.messages or [] if int(m.id) == article_id), None)
