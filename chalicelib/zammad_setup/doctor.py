"""`manage doctor` and the hourly `zammad-doctor` job: is each region's Zammad still set up
for the chat? One check per line, each with what is wrong in words; read-only (GETs).

The admin objects need a token with the admin rights that reading them takes (admin.group,
admin.object, admin.webhook, admin.trigger). `manage doctor` is given one and counts a
refusal as a failure; the hourly job has only each region's own token and leaves what that
token may not read unchecked (`checked` false), so it fails only on what it could see.
Zammad never shows a webhook's secret: one that no longer matches shows as deliveries to the
region's URL that we refused for their signature after the last one we could verify (each
is an article Zammad told us of: `webhook_refused_at` newer than `webhook_seen_at`)."""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import NamedTuple

import requests

from chalicelib.platform.config import Settings
from chalicelib.platform.times import iso_utc, utc_datetime
from chalicelib.regions.rules import delete_days, zammad_identity
from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.service import DELETE_TAG
from chalicelib.zammad_setup.admin import AdminError, ZammadAdmin
from chalicelib.zammad_setup.setup import (
    ATTRIBUTES,
    calls_webhook,
    deletes,
    deletes_tagged,
    trigger_condition,
    webhook_url,
)

PARALLEL_REGIONS = 8  # regions checked at once (each waits on its own Zammad)
DEADLINE_SECONDS = 120.0  # the whole of `manage doctor`; the hourly job and the deep check pass their own
CHATBOT_PATH = "/chatanswers/extract_answer/"  # a GET of it costs the service nothing


class Check(NamedTuple):
    region: str
    name: str
    ok: bool
    detail: str
    checked: bool = True  # False: the token may not read it (the hourly job's own token)

    def line(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        return "%-20s %-11s %-4s %s" % (
            self.region,
            self.name,
            verdict if self.checked else "--",
            self.detail,
        )


class Doctor(NamedTuple):
    """What every region's checks share: this deployment's settings, read once."""

    group: str  # INTEGREAT_CHAT_TICKET_GROUP, for a region without its own
    public_base_url: str | None
    timeout: float
    chatbot_url: str | None = None
    admin_token: str | None = None  # None: each region's own token
    clock: Callable[[], float] = time.time
    forbidden_fails: bool = True  # False (the hourly job): what the token may not read is unchecked
    admin_url: str | None = None  # the Zammad the admin token belongs to: sent to no other
    deadline_seconds: float = DEADLINE_SECONDS  # for all the regions together

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        clock: Callable[[], float],
        admin_token: str | None = None,
        forbidden_fails: bool = True,
        admin_url: str | None = None,
        deadline_seconds: float = DEADLINE_SECONDS,
    ) -> "Doctor":
        return cls(
            settings.ticket_group,
            settings.public_base_url,
            settings.zammad_timeout_seconds,
            settings.chatbot_url,
            admin_token,
            clock,
            forbidden_fails,
            admin_url,
            deadline_seconds,
        )

    def run(self, regions: list[RegionRecord]) -> Iterator[list[Check]]:
        """Each region's checks, in the order given, a few regions at once, all within the
        deadline: a region whose Zammad has not answered by then is told so."""
        chatbot = (
            chatbot_reachable(self.chatbot_url, min(self.timeout, self.deadline_seconds / 4))
            if any(region.chatbot_enabled for region in regions)
            else None
        )
        yield from side_by_side(
            regions, lambda region, deadline: self.region(region, chatbot, deadline), self.deadline_seconds
        )

    def region(
        self, region: RegionRecord, chatbot: tuple[bool, str] | None = None, deadline: float | None = None
    ) -> list[Check]:
        admin_here = bool(self.admin_token and region.zammad_url and self.admin_url) and (
            zammad_identity(region.zammad_url) == zammad_identity(self.admin_url)
        )
        own = region_zammad(region, self.timeout, deadline)  # reads the region's tickets too
        admin = (
            ZammadAdmin(
                region.zammad_url or "", self.admin_token or "", self.timeout, "the admin token", deadline
            )
            if admin_here
            else own
        )
        group = region.ticket_group or self.group
        forbidden_fails = self.forbidden_fails and (admin_here or not self.admin_token)
        checks = diagnose(admin, region, group, self.public_base_url, self.clock, forbidden_fails, own)
        if checks[0].ok and admin_here and self.admin_token != region.zammad_access_token:
            checks.insert(1, chat_token(region, self.timeout, deadline))  # the one the chat works with
        if region.chatbot_enabled and chatbot is not None:
            checks.append(Check(region.slug, "chatbot", *chatbot))
        return checks


def side_by_side(
    regions: list[RegionRecord],
    check: Callable[[RegionRecord, float], list[Check]],
    seconds: float,
) -> Iterator[list[Check]]:
    """`check(region, deadline)` for each region, PARALLEL_REGIONS at once, in the order given,
    all within `seconds`: a region not done by then, or whose check raised (an answer no check
    expected), is a failed check in words, never an exception."""
    deadline = time.monotonic() + seconds
    pool = ThreadPoolExecutor(PARALLEL_REGIONS)
    try:
        futures = [pool.submit(check, region, deadline) for region in regions]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        for region, future in zip(regions, futures, strict=True):
            yield _outcome(region, future, seconds)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung call ends by its own timeout


def _outcome(region: RegionRecord, future: "Future[list[Check]]", seconds: float) -> list[Check]:
    if not future.done():
        detail = "not checked within the %.0f s the checks have: Zammad at %s is too slow or hangs" % (
            seconds,
            region.zammad_url,
        )
        return [Check(region.slug, "zammad", False, detail)]
    error = future.exception()
    if error is not None:
        return [Check(region.slug, "zammad", False, "the check failed (%s)" % type(error).__name__)]
    return future.result()


def chatbot_reachable(url: str | None, timeout: float) -> tuple[bool, str]:
    """Whether the chatbot service answers at all: any answer below 500 to a GET of its
    answer path (which it serves without asking its language model)."""
    if not url:
        return False, "the region uses the chatbot, but INTEGREAT_CHAT_BACKEND_URL is not set"
    started = time.monotonic()
    try:
        response = requests.get(url.rstrip("/") + CHATBOT_PATH, timeout=(2.0, timeout))
    except requests.Timeout:
        return False, "the chatbot service did not answer within %.0f s" % timeout
    except requests.RequestException as error:
        return False, "the chatbot service cannot be reached (%s)" % type(error).__name__
    if response.status_code >= 500:
        return False, "the chatbot service fails with %d" % response.status_code
    return True, "the chatbot service answers in %.0f ms" % ((time.monotonic() - started) * 1000)


def diagnose(
    admin: ZammadAdmin,
    region: RegionRecord,
    group: str,
    public_base_url: str | None,
    clock: Callable[[], float] = time.time,
    forbidden_fails: bool = True,
    own_token: ZammadAdmin | None = None,
) -> list[Check]:
    """`own_token`: the Zammad with the region's own token, which may read its tickets' articles."""
    slug = region.slug
    started = time.monotonic()
    try:
        me = admin.me()
    except AdminError as error:
        return [Check(slug, "zammad", False, str(error))]
    took = (time.monotonic() - started) * 1000
    login = me.get("login")
    checks = [Check(slug, "zammad", True, "answers in %.0f ms; the token is %s's" % (took, login or "?"))]
    for name, check in (
        ("group", lambda: _group(admin, group)),
        ("attributes", lambda: _attributes(admin)),
        ("webhook", lambda: _webhook_and_trigger(admin, region, public_base_url)),
        ("retention", lambda: _retention(admin, region)),
    ):
        try:
            checks += [Check(slug, n, ok, detail) for n, ok, detail in check()]
        except AdminError as error:
            if error.forbidden and not forbidden_fails:
                checks.append(Check(slug, name, True, "not checked: %s" % error, checked=False))
            else:
                checks.append(Check(slug, name, False, str(error)))
    checks.append(deliveries(region, clock(), own_token))
    return checks


def region_zammad(
    region: RegionRecord, timeout: float, deadline: float | None = None, whose: str = "the region's token"
) -> ZammadAdmin:
    """The region's Zammad asked with the region's own token, the one the chat works with."""
    return ZammadAdmin(region.zammad_url or "", region.zammad_access_token or "", timeout, whose, deadline)


def chat_token(region: RegionRecord, timeout: float, deadline: float | None = None) -> Check:
    if not region.zammad_access_token:
        return Check(
            region.slug, "token", False, "the region has no Zammad token: the chat cannot open tickets"
        )
    try:
        me = region_zammad(region, timeout, deadline, "the region's token (the chat's)").me()
    except AdminError as error:
        return Check(region.slug, "token", False, str(error))
    return Check(region.slug, "token", True, "the chat's token is %s's" % me.get("login", "?"))


def _group(admin: ZammadAdmin, group: str) -> list[tuple[str, bool, str]]:
    found = next((g for g in admin.list("groups") if g.get("name") == group), None)
    if found is None:
        return [("group", False, "no group %r: new chats cannot open tickets (run zammad-setup)" % group)]
    if not found.get("active"):
        return [("group", False, "group %r is switched off" % group)]
    return [("group", True, "group %r" % group)]


def _attributes(admin: ZammadAdmin) -> list[tuple[str, bool, str]]:
    found = {a.get("name"): a for a in admin.list("object_manager_attributes") if a.get("object") == "Ticket"}
    missing = [name for name in ATTRIBUTES if name not in found or not found[name].get("active")]
    waiting = [name for name in ATTRIBUTES if name in found and found[name].get("to_create")]
    if missing:
        return [("attributes", False, "missing or off: %s (run zammad-setup)" % ", ".join(missing))]
    if waiting:
        return [("attributes", False, "not migrated yet: %s (run zammad-setup)" % ", ".join(waiting))]
    return [("attributes", True, ", ".join(ATTRIBUTES))]


def _webhook_and_trigger(
    admin: ZammadAdmin, region: RegionRecord, public_base_url: str | None
) -> list[tuple[str, bool, str]]:
    if not public_base_url or not region.zammad_webhook_token:
        return [("webhook", False, "no webhook URL to look for (PUBLIC_BASE_URL, or the region's token)")]
    url = webhook_url(public_base_url, region.zammad_webhook_token)
    webhook = next((w for w in admin.list("webhooks") if w.get("endpoint") == url), None)
    if webhook is None:
        return [
            ("webhook", False, "no webhook points at this backend's URL for the region (run zammad-setup)")
        ]
    results: list[tuple[str, bool, str]] = []
    if not webhook.get("active"):
        results.append(("webhook", False, "webhook %r is switched off" % webhook.get("name")))
    elif not webhook.get("signature_token") or not region.zammad_webhook_secret:
        results.append(
            ("webhook", False, "webhook %r is not signed with a secret we hold" % webhook.get("name"))
        )
    else:
        results.append(("webhook", True, "webhook %r, active, signed" % webhook.get("name")))
    calling = [t for t in admin.list("triggers") if calls_webhook(t, webhook.get("id"))]
    active = [t for t in calling if t.get("active")]
    region_only = trigger_condition(region.slug)["ticket.region_slug"]
    if not active:
        detail = "switched off" if calling else "no trigger calls the webhook"
        results.append(("trigger", False, "%s: agents' replies reach apps only by polling" % detail))
    elif not any((t.get("condition") or {}).get("ticket.region_slug") == region_only for t in active):
        results.append(
            (
                "trigger",
                False,
                "trigger %r calls it for every ticket, not only the region's: on a Zammad that "
                "regions share, each is told of the others' (run zammad-setup)" % active[0].get("name"),
            )
        )
    else:
        results.append(
            ("trigger", True, "trigger %r calls it for the region's tickets" % active[0].get("name"))
        )
    return results


def _retention(admin: ZammadAdmin, region: RegionRecord) -> list[tuple[str, bool, str]]:
    """Our job closes and later deletes tickets (docs/privacy.md); where the token may not
    delete, it tags them for a Zammad scheduler, which must then exist."""
    jobs = [job for job in admin.list("jobs") if job.get("active")]
    ours = [job for job in jobs if deletes_tagged(job)]
    others = [str(job.get("name")) for job in jobs if deletes(job) and job not in ours]
    also = "; Zammad's own schedulers also delete tickets: %s" % ", ".join(others) if others else ""
    days = delete_days(region)
    if region.zammad_deletes_tickets:
        return [("retention", True, "we delete tickets %d days after closing them%s" % (days, also))]
    if not ours:
        return [
            (
                "retention",
                False,
                "no active scheduler deletes the tickets our retention tags %r: they are never "
                "deleted (run zammad-setup)" % DELETE_TAG,
            )
        ]
    return [
        (
            "retention",
            True,
            "tickets are tagged %d days after closing; scheduler %r deletes them%s"
            % (days, ours[0].get("name"), also),
        )
    ]


def deliveries(region: RegionRecord, now: float, zammad: ZammadAdmin | None = None) -> Check:
    """Refusals after the last verified delivery fail, unless Zammad (asked with the region's
    token, `zammad`) has no such article as the refused delivery claimed: then it was not
    Zammad's, and one made-up delivery cannot turn the check red."""
    seen, refused = region.webhook_seen_at, region.webhook_refused_at
    if refused is not None and (seen is None or refused > seen):
        mine = _refused_is_zammads(region, zammad)
        if mine is False:
            return Check(
                region.slug,
                "deliveries",
                True,
                "a delivery to the region's URL at %s failed its signature, but Zammad has no article "
                "as it named: it was not Zammad's (someone holds the URL's token; last verified: "
                "%s)" % (_when(refused), "never" if seen is None else _when(seen)),
            )
        unsure = "" if mine else " (the article it named could not be looked up in Zammad)"
        return Check(
            region.slug,
            "deliveries",
            False,
            "Zammad told of articles at %s that we could not verify (last verified: %s)%s: it signs "
            "with a secret we do not hold; run zammad-setup --rotate-secret"
            % (_when(refused), _when(seen) if seen is not None else "never", unsure),
        )
    if seen is None:
        return Check(region.slug, "deliveries", True, "none verified yet")
    return Check(region.slug, "deliveries", True, "last verified %.1f h ago" % ((now - seen) / 3600))


def _refused_is_zammads(region: RegionRecord, zammad: ZammadAdmin | None) -> bool | None:
    """Whether the refused delivery's article is Zammad's own: True, False, or None when it
    cannot be told (no lookup given, nothing recorded, Zammad not answering)."""
    from chalicelib.webhook.service import claimed_article_id, is_claimed

    claim, article_id = region.webhook_refused_article, claimed_article_id(region.webhook_refused_article)
    if zammad is None or claim is None or article_id is None:
        return None
    try:
        article = zammad.article(article_id)
    except AdminError:
        return None
    return article is not None and is_claimed(claim, article)


def _when(epoch: float) -> str:
    return iso_utc(utc_datetime(epoch))
