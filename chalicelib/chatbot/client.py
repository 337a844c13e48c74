"""The Integreat chatbot service (integreat-chat, no authentication): its two calls.

    POST {base}/chatanswers/extract_answer/    {"messages": [{"role", "content"}], "language", "region"}
    POST {base}/chatanswers/translate_message/ {"message", "source_language", "target_language"}

Both succeed only with 200 and `"status": "success"`; anything else (an error status, a 5xx,
a timeout, a body that is not the expected JSON) is `ServiceFailed`, and the caller falls
back. A call whose connection could not be made is tried once more (urllib3 `Retry`); one
that reached the service is not (an answer takes ~20 s and costs money).
"""

import logging
from typing import Any, NamedTuple

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger("integreat_chat")

CONNECT_SECONDS = 2.0


class ServiceFailed(Exception):
    """The chatbot service gave no usable answer (the message says why, for the log)."""


class Answer(NamedTuple):
    html: str  # in the chat's language; may end with a list of source links
    automatic_answers: bool  # False: the user asked for a human; the bot hands over
    sources: list[str]  # the pages the answer is based on (for the agents' note)


class ChatbotClient:
    def __init__(self, base_url: str, timeout_seconds: float):
        self.base_url = base_url.rstrip("/")
        self._timeout = (CONNECT_SECONDS, timeout_seconds)
        retry = Retry(total=1, connect=1, read=False, other=0, status=0, raise_on_status=False)
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.mount("http://", HTTPAdapter(max_retries=retry))
        self._session.mount("https://", HTTPAdapter(max_retries=retry))

    def extract_answer(self, messages: list[str], language: str, region: str) -> Answer:
        """An answer to the user's last messages (oldest first)."""
        body = {
            "messages": [{"role": "user", "content": text} for text in messages],
            "language": language,
            "region": region,
        }
        found = self._post("/chatanswers/extract_answer/", body)
        answer, automatic = found.get("answer"), found.get("automatic_answers", True)
        if not isinstance(answer, str) or not isinstance(automatic, bool):
            raise ServiceFailed("extract_answer: unexpected body")
        sources = found.get("rag_sources") or found.get("sources") or []
        if not isinstance(sources, list):
            sources = []
        return Answer(answer, automatic, [str(source) for source in sources if isinstance(source, str)])

    def translate(self, text: str, source_language: str, target_language: str) -> str:
        body = {"message": text, "source_language": source_language, "target_language": target_language}
        translation = self._post("/chatanswers/translate_message/", body).get("translation")
        if not isinstance(translation, str):
            raise ServiceFailed("translate_message: unexpected body")
        return translation

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session.post(self.base_url + path, json=body, timeout=self._timeout)
        except requests.Timeout:
            raise ServiceFailed("%s: timed out" % path) from None
        except requests.RequestException as error:
            raise ServiceFailed("%s: %s" % (path, type(error).__name__)) from None
        if response.status_code != 200:
            raise ServiceFailed("%s: status %d" % (path, response.status_code))
        try:
            found = response.json()
        except ValueError:
            raise ServiceFailed("%s: not JSON" % path) from None
        if not isinstance(found, dict) or found.get("status") != "success":
            reason = found.get("message") or found.get("reason") if isinstance(found, dict) else None
            # Its reason is not logged: the service may quote the message it was given.
            raise ServiceFailed("%s: error (%s)" % (path, type(reason).__name__))
        return found
