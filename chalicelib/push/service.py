"""Telling a person of an answer while her app is closed (docs/push.md).

- The app registers its device's one push target with its chat (targets.py); the target
  lives on the chat item, so it goes with the chat (its deletion, the retention) and is in
  its export.
- When an agent's reply or an automatic answer is stored (the webhook, the chatbot's job),
  a push job is queued with the chatbot's queue, delayed by PUSH_DELAY_SECONDS: a webhook
  delivery never waits for FCM.
- When the job comes, a push goes out only if the device has not seen the answer (a poll
  answered with it marks it seen: `push_seen`) and no push went out for it or a later one
  (`push_sent`, claimed by one conditional write: two replies within the delay, or a job
  delivered twice, make one push). Never for the person's own messages or internal notes
  (the webhook stores neither as an agent's), nor for a chat being deleted.
- What a push says: that an answer came, in the chat's language (texts.py), never its text.
"""

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.platform import telemetry
from chalicelib.platform.config import Settings
from chalicelib.push.texts import push_data, push_text
from chalicelib.user_chat.ports import UserChatRecord
from chalicelib.user_chat.service import UserChats
from chalicelib.web.errors import ServiceUnavailable

log = logging.getLogger("integreat_chat")

MAX_ATTEMPTS = 5  # sends of one push before it is given up
TIMEOUT_SECONDS = 10  # per call to FCM, its token endpoint or a push service
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds


class PushOff(ServiceUnavailable):
    message = "Push is not enabled here."


class Pushes:
    def __init__(
        self, settings: Settings, user_chats: UserChats, queue: Callable[[], Any], clock: Callable[[], float]
    ):
        self._settings = settings
        self._user_chats = user_chats
        self._queue = queue  # the chatbot's (made on first use: a poll never queues)
        self._clock = clock

    # The clients and the VAPID key, made by the first push that needs them.
    @functools.cached_property
    def _session(self) -> Any:
        import requests

        from chalicelib.platform import metrics

        def counted(response: Any, *_args: Any, **_kwargs: Any) -> Any:
            metrics.record("push", response.elapsed.total_seconds())  # FCM, its tokens, push services
            return response

        session = requests.Session()
        session.hooks["response"].append(counted)
        return session

    @functools.cached_property
    def _fcm(self) -> Any:
        from chalicelib.push.fcm import FcmClient, service_account

        account = service_account(self._settings.fcm_credentials or "")
        return FcmClient(account, self._settings.fcm_url, self._session, TIMEOUT_SECONDS, self._clock)

    @functools.cached_property
    def _vapid_key(self) -> Any:
        from chalicelib.push.web_push import vapid_key

        return vapid_key(self._settings.vapid_private_key or "")

    @functools.cached_property
    def _web_push(self) -> Any:
        from chalicelib.push.web_push import WebPushClient

        subject = self._settings.vapid_subject or ""
        return WebPushClient(self._vapid_key, subject, self._session, TIMEOUT_SECONDS, self._clock)

    def vapid_public_key(self) -> str:
        from chalicelib.push.web_push import public_key

        self.require("web_push")
        return public_key(self._vapid_key)

    def enabled(self, kind: str | None = None) -> bool:
        fcm, web = bool(self._settings.fcm_credentials), bool(self._settings.vapid_private_key)
        return {None: self._settings.push_enabled, "fcm": fcm, "web_push": web}[kind]

    def require(self, kind: str) -> None:
        if not self.enabled(kind):
            raise PushOff("%s push is not enabled here." % ("FCM" if kind == "fcm" else "Web"))

    # --- in the request ---------------------------------------------------------------
    def answer_stored(self, chat: UserChatRecord, article_id: int) -> bool:
        """An agent's reply or an automatic answer was stored: a push job, delayed, if the
        chat has a target. True when one was queued."""
        if not self.enabled() or not self._user_chats.has_push_target(chat):
            return False
        job = {
            "kind": "push",
            "chat": chat.chat_key,
            "generation": int(chat.generation),
            "article": int(article_id),
            "attempt": 0,
        }
        self._queue().send(job, delay_seconds=min(self._settings.push_delay_seconds, MAX_DELAY_SECONDS))
        return True

    # --- in the worker ----------------------------------------------------------------
    def run(self, job: dict[str, Any]) -> str:
        claimed = job["claimed"] if job["attempt"] else None
        turn = self._user_chats.take_push(job["chat"], job["generation"], job["article"], claimed)
        if turn.outcome != "due" or turn.chat is None or turn.target is None:
            return self._done(turn.outcome, turn.words)
        chat, target = turn.chat, turn.target
        outcome = self._send(chat, target)
        if outcome.kind == "gone":
            self._user_chats.forget_push_target(chat, target)
        elif outcome.kind == "retry" and job["attempt"] + 1 < MAX_ATTEMPTS:
            # Queued again with its claim; if this send fails (SQS down), the queue delivers
            # the job again, which finds the claim taken: that push is lost (docs/push.md).
            delay = outcome.retry_after if outcome.retry_after is not None else 30 * 2 ** job["attempt"]
            again = dict(job, attempt=job["attempt"] + 1, claimed=turn.claimed)
            self._queue().send(again, delay_seconds=int(min(max(delay, 1), MAX_DELAY_SECONDS)))
        elif outcome.kind in ("invalid", "auth_failed", "retry"):
            log.warning(json.dumps({"event": "push_failed", "target": target["kind"], "outcome": outcome.kind,
                                    "reason": outcome.reason}))  # fmt: skip
        return self._done(outcome.kind, "%s: %s" % (target["kind"], outcome.reason))

    def _send(self, chat: UserChatRecord, target: dict[str, str]):
        from chalicelib.push.fcm import collapse_key, fcm_message

        title, body = push_text(chat.language)
        data = push_data(chat.region_slug, chat.language)
        collapse = collapse_key(chat.chat_key)
        if target["kind"] == "fcm":
            return self._fcm.send(fcm_message(target["token"], title, body, data, collapse))
        return self._web_push.send(target, {"title": title, "body": body, "data": data}, collapse)

    @staticmethod
    def _done(outcome: str, words: str) -> str:
        telemetry.count("PushSends", Outcome=outcome)
        return words


_JOB_FIELDS = {"chat": str, "generation": int, "article": int, "attempt": int}


def checked_job(job: dict[str, Any]) -> dict[str, Any]:
    """A push job as the queue brought it (not trusted); ValueError if it is not one."""
    for field, kind in _JOB_FIELDS.items():
        value = job.get(field)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError("a push job's %s must be %s" % (field, kind.__name__))
    if job["attempt"] > 0 and (not isinstance(job.get("claimed"), int) or isinstance(job["claimed"], bool)):
        raise ValueError("a retried push job names what it claimed")
    return job
