"""Health (docs/operating.md, "Health"): `GET /api/v3/health` for load balancers and uptime
checks, and `GET /api/v3/admin/health`, the deep check, for operators.

The shallow one calls nothing: it answers when this instance runs with a valid
configuration (settings are checked at start-up), however often it is asked, and names no
region and no person. The deep one, behind the admin token, asks what the chat depends on:
DynamoDB (the regions are read), the chatbot's queue and service where a region uses the
chatbot, and each chat region's Zammad with the region's own token (one `users/me` each, a
few regions at once), with the deliveries of its webhook as `manage doctor` judges them.
"""

import time
from typing import TYPE_CHECKING, Any

from chalicelib.regions.rules import chat_configured
from chalicelib.services import Services
from chalicelib.storage.models import RegionRecord
from chalicelib.web.http import Request, Response
from chalicelib.web.routing import ADMIN, ANYONE, Route

if TYPE_CHECKING:
    from chalicelib.platform.auth import Principal


def shallow(_services: Services, _request: Request, _anyone: None) -> Response:
    return Response(200, {"status": "ok"})


def deep(services: Services, _request: Request, _admin: "Principal") -> Response:
    checks: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        regions = services.regions.list()
    except Exception as error:
        checks.append(_check("storage", False, "DynamoDB cannot be read (%s)" % type(error).__name__))
        return _answer(checks)
    took = (time.monotonic() - started) * 1000
    checks.append(_check("storage", True, "%d regions read in %.0f ms" % (len(regions), took)))
    chat_regions = [region for region in regions if chat_configured(region)]
    if any(region.chatbot_enabled for region in chat_regions):
        checks += _chatbot(services)
    checks += _zammads(services, chat_regions)
    return _answer(checks)


def _chatbot(services: Services) -> list[dict[str, Any]]:
    from chalicelib.zammad_setup.doctor import chatbot_reachable

    try:
        queue_url = getattr(services.queue, "url", None)  # SQS: GetQueueUrl
        queue = _check("queue", True, "the chatbot's queue exists" if queue_url else "an in-process queue")
    except Exception as error:
        queue = _check("queue", False, "the chatbot's queue cannot be reached (%s)" % type(error).__name__)
    ok, detail = chatbot_reachable(services.settings.chatbot_url, services.settings.zammad_timeout_seconds)
    return [queue, _check("chatbot", ok, detail)]


# The whole deep check's Zammad part: well inside the function's 30 s and API Gateway's 29 s,
# so that a hanging Zammad is named in the report instead of timing the check out.
ZAMMAD_SECONDS = 15.0


def _zammads(services: Services, regions: list[RegionRecord]) -> list[dict[str, Any]]:
    # Loaded by the first deep check: a cold start serving polls never needs them.
    from chalicelib.zammad_setup.doctor import Check, chat_token, deliveries, region_zammad, side_by_side

    timeout, now = services.settings.zammad_timeout_seconds, services.clock()

    def region_checks(region: RegionRecord, deadline: float) -> list[Check]:
        own = region_zammad(region, timeout, deadline)
        return [chat_token(region, timeout, deadline), deliveries(region, now, own)]

    return [
        dict(_check(check.name, check.ok, check.detail), region=check.region)
        for checks in side_by_side(regions, region_checks, ZAMMAD_SECONDS)
        for check in checks
    ]


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def _answer(checks: list[dict[str, Any]]) -> Response:
    """200 either way: the check worked, and its report says what failed (an error status
    would hide the report behind our error shape); watch `status`."""
    ok = all(check["ok"] for check in checks)
    return Response(200, {"status": "ok" if ok else "failing", "checks": checks})


ROUTES = [
    Route("GET", "/api/v3/health", ANYONE, shallow, "health"),
    Route("GET", "/api/v3/admin/health", ADMIN, deep),
]
