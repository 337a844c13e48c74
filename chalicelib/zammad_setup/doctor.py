"""`manage doctor`: is each region's Zammad still set up for the chat? One check per line,
each with what is wrong in words; read-only (GETs), so it may run every hour.

It reads the admin objects, so it needs a token with the admin rights that reading them takes
(admin.group, admin.object, admin.webhook, admin.trigger); without them those checks say so.
Zammad never shows a webhook's secret: whether it still matches shows in the deliveries that
this backend could verify (the region's `webhook_seen_at`)."""

import time
from collections.abc import Callable
from typing import NamedTuple

from chalicelib.storage.models import RegionRecord
from chalicelib.zammad_setup.admin import AdminError, ZammadAdmin
from chalicelib.zammad_setup.setup import ATTRIBUTES, calls_webhook, webhook_url


class Check(NamedTuple):
    region: str
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return "%-20s %-11s %-4s %s" % (self.region, self.name, "ok" if self.ok else "FAIL", self.detail)


def diagnose(
    admin: ZammadAdmin,
    region: RegionRecord,
    group: str,
    public_base_url: str | None,
    clock: Callable[[], float] = time.time,
) -> list[Check]:
    slug = region.slug
    started = time.monotonic()
    try:
        me = admin.me()
    except AdminError as error:
        return [Check(slug, "zammad", False, str(error))]
    took = (time.monotonic() - started) * 1000
    login = me.get("login") if isinstance(me, dict) else None
    checks = [Check(slug, "zammad", True, "answers in %.0f ms; the token is %s's" % (took, login or "?"))]
    for name, check in (
        ("group", lambda: _group(admin, group)),
        ("attributes", lambda: _attributes(admin)),
        ("webhook", lambda: _webhook_and_trigger(admin, region, public_base_url)),
    ):
        try:
            checks += [Check(slug, n, ok, detail) for n, ok, detail in check()]
        except AdminError as error:
            checks.append(Check(slug, name, False, str(error)))
    checks.append(_deliveries(region, clock()))
    return checks


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
    if not any(t.get("active") for t in calling):
        detail = "switched off" if calling else "no trigger calls the webhook"
        results.append(("trigger", False, "%s: agents' replies reach apps only by polling" % detail))
    else:
        results.append(("trigger", True, "trigger %r calls it" % calling[0].get("name")))
    return results


def _deliveries(region: RegionRecord, now: float) -> Check:
    seen = region.webhook_seen_at
    if seen is None:
        return Check(region.slug, "deliveries", True, "none verified yet")
    return Check(region.slug, "deliveries", True, "last verified %.1f h ago" % ((now - seen) / 3600))
