"""Before the switch (docs/migrating.md): ask the Integreat CMS's API and this backend the
same questions for imported devices, while both read the same Zammad, and name every
difference. Only questions that change nothing are asked: a poll (GET) of a chat, and
`is_chat_enabled` of a device that has a draw (the CMS draws, and stores, for a device
without one). Nothing is sent, no ticket is made.

The CMS keeps a chat's articles for 60 s and forgets them early only on its own webhook;
once Zammad's webhook points here, it never does. A difference in a chat's messages is
therefore asked again after `settle` seconds (61 by default), and only one that stays is
reported. Printed differences name message ids and fields, never a message's text.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import requests

from chalicelib.storage.models import ChatAssignmentRecord
from chalicelib.user_chat.service import UserChats
from chalicelib.web.errors import ApiError

if TYPE_CHECKING:
    from chalicelib.user_chat.service import CmsChats

CMS_CACHE_SECONDS = 60  # integreat_cms.cms.utils.zammad: cache.set(..., 60)
COMPARED_FIELDS = ("messages", "evaluation_consent", "chatbot_typing")


class Answer(NamedTuple):
    status: int
    body: Any


class Difference(NamedTuple):
    device: str  # shortened: enough to find it, not the whole id
    question: str  # "poll" or "is_chat_enabled"
    what: str


class CmsUnreachable(Exception):
    """The CMS gave no answer at all (refused, timed out, no such host): nothing to compare."""


class CmsApi:
    """The CMS's app API, GET only."""

    def __init__(self, url: str, timeout: float = 15):
        self._url = url.rstrip("/")
        self._session = requests.Session()
        self._timeout = timeout

    def get(self, path: str) -> Answer:
        try:
            answer = self._session.get(self._url + path, timeout=self._timeout)
        except requests.RequestException as error:
            raise CmsUnreachable(
                "the CMS at %s gave no answer (%s)" % (self._url, type(error).__name__)
            ) from None
        try:
            return Answer(answer.status_code, answer.json())
        except ValueError:
            return Answer(answer.status_code, {"error": "not JSON (%s)" % answer.headers.get("Content-Type")})


def imported_devices(chats: "CmsChats", region: str, limit: int) -> tuple[list, list]:
    """Up to `limit` chats of the region (device, language), the most recent first, and up
    to `limit` devices with a draw there. `chats`: the user chat's part for the switch-over
    (UserChats.cms_chats)."""
    chats_here = chats.recent(region, limit)
    draws = []
    for draw in ChatAssignmentRecord.scan(ChatAssignmentRecord.assignment_key.startswith(region + "#")):
        draws.append(draw.assignment_key.split("#", 1)[1])
        if len(draws) >= limit:
            break
    return chats_here, draws


def ours(ask: Callable[..., Any], *args: Any) -> Answer:
    """Our answer to one question, as the route gives it (an error as its status and body)."""
    try:
        return Answer(200, ask(*args))
    except ApiError as error:
        return Answer(error.status, {"error": error.message})


def differences(cms: Answer, here: Answer) -> list[str]:
    """What differs between two answers to one poll, in words without a message's text."""
    if cms.status != here.status:
        return ["status: CMS %d, here %d" % (cms.status, here.status)]
    if cms.status != 200:
        return [] if cms.body == here.body else ["error: CMS %r, here %r" % (cms.body, here.body)]
    if not isinstance(cms.body, dict):  # a proxy's page, another API: no chat at all
        return ["answer: the CMS's is a JSON %s, not a chat" % type(cms.body).__name__]
    found = []
    for field in COMPARED_FIELDS:
        theirs, mine = cms.body.get(field), here.body.get(field)
        if field == "messages" and theirs != mine:
            found.extend(_message_differences(theirs or [], mine or []))
        elif theirs != mine:
            found.append("%s: CMS %r, here %r" % (field, theirs, mine))
    ticket = str(cms.body.get("ticket_url", "")).rsplit("/", 1)[-1]
    if ticket != str(here.body.get("ticket_url", "")).rsplit("/", 1)[-1]:
        found.append(
            "ticket: CMS %s, here %s" % (ticket, str(here.body.get("ticket_url")).rsplit("/", 1)[-1])
        )
    return found


def _message_differences(theirs: list[dict], mine: list[dict]) -> list[str]:
    ids_theirs, ids_mine = [m.get("id") for m in theirs], [m.get("id") for m in mine]
    if ids_theirs != ids_mine:
        return ["messages: CMS has ids %s, here %s" % (ids_theirs, ids_mine)]
    return [
        "message %s: %s differs"
        % (a.get("id"), ", ".join(sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))))
        for a, b in zip(theirs, mine, strict=True)
        if a != b
    ]


def compare(
    cms: CmsApi,
    user_chats: UserChats,
    region: Any,
    chats: list[tuple[str, str]],
    draws: list[str],
    settle: float = CMS_CACHE_SECONDS + 1,
    sleep: Callable[[float], object] = time.sleep,
) -> list[Difference]:
    found: list[Difference] = []
    again: list[tuple[str, str]] = []
    for device, language in chats:
        path = "/api/v3/%s/%s/chat/%s/" % (region.slug, language, device)
        if differences(cms.get(path), ours(user_chats.poll, region, device)):
            again.append((device, path))
    if again:
        sleep(settle)  # the CMS's cache of those chats has run out
    for device, path in again:
        for what in differences(cms.get(path), ours(user_chats.poll, region, device)):
            found.append(Difference(device[:8] + "…", "poll", what))
    for device in draws:
        theirs = cms.get("/api/v3/%s/%s/is_chat_enabled/" % (region.slug, device))
        here = ours(user_chats.is_chat_enabled, region, device)
        here = Answer(here.status, {"is_chat_enabled": here.body} if here.status == 200 else here.body)
        if theirs != here:
            what = "CMS %d %r, here %d %r" % (theirs.status, theirs.body, here.status, here.body)
            found.append(Difference(device[:8] + "…", "is_chat_enabled", what))
    return found
