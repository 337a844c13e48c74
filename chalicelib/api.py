"""The API as one object: `ChatApi.handle(Request) -> Response`, the top of the house: it
imports the route table (routes.py, which imports every feature) and the services; the
toolkit below it (`chalicelib/web/`) imports no feature.

Every entry point (Chalice on Lambda, `chalice local`, WSGI) hands its requests to
`handle`, which finds the route's row (routes.py), applies its policy (rate limit, token,
webhook signature, CORS), calls the handler with the services, turns domain errors into
`{"error": ...}` JSON, adds `X-Request-Id` (and `Server-Timing` when asked), logs one
JSON line per request and writes its metrics to the METRICS sink (platform/telemetry.py).
"""

import json
import logging
import re
import sys
import time
import traceback
import uuid
from typing import Any

from chalicelib.platform import metrics, telemetry, tracing
from chalicelib.routes import ROUTES
from chalicelib.services import Services
from chalicelib.storage.failures import storage_unavailable
from chalicelib.web.errors import ApiError, MethodNotAllowed, NotFound, PayloadTooLarge
from chalicelib.web.http import Request, Response
from chalicelib.web.routing import ADMIN, APP, AUTHOR, ZAMMAD, Route

log = logging.getLogger("integreat_chat")

MAX_BODY_BYTES = 1024 * 1024
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}\Z")


class ChatApi:
    """The dispatcher in front of the services of one instance (wired in services.py)."""

    def __init__(self, services: Services):
        self.services = services
        self.settings = services.settings

    def handle_path(self, method: str, path: str, **request_fields) -> Response:
        """Route a concrete path (for servers that do not route themselves, e.g. WSGI)."""
        found = ROUTES.match(path)
        route, params = found if found else ("", {})
        return self.handle(Request(method, route, params, path=path, **request_fields))

    def handle(self, request: Request) -> Response:
        """Never raises: whatever fails, the answer is JSON and the log line has its status."""
        started = time.perf_counter()
        request.request_id = _request_id(request)
        with (
            telemetry.measuring(self.services.metrics) as measures,
            metrics.collect() as calls,
            tracing.traced(request.request_id),
        ):
            response = self._respond(request)
            try:
                response.body_bytes()  # encoded here, so a failure is still ours to answer
            except Exception:
                response = self._internal_error(request)
            milliseconds = (time.perf_counter() - started) * 1000
            if measures is not None:
                kind = measures.kind or _route_kind(request)
                telemetry.count_request(measures, kind, response.status, milliseconds)
        response.headers["X-Request-Id"] = request.request_id
        response.headers["X-Content-Type-Options"] = "nosniff"  # JSON is never taken for a page
        if ROUTES.for_app(request.route):
            response.headers["Access-Control-Allow-Origin"] = "*"
            # A web app's script reads these (a poll's ETag after a real-time event; when to retry).
            response.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After, X-Request-Id"
        elif self._trusted_origin(request):
            response.headers["Access-Control-Allow-Origin"] = request.header("origin") or ""
            response.headers["Access-Control-Expose-Headers"] = "Retry-After, X-Request-Id"
            response.headers["Vary"] = "Origin"
        if self.settings.server_timing:
            response.headers["Server-Timing"] = calls.server_timing()
        log.info(
            json.dumps(
                {
                    "event": "request",
                    "method": request.method,
                    "route": request.route or None,  # the template: never a device id or a token
                    "status": response.status,
                    "duration_ms": round(milliseconds, 1),
                    "ddb_calls": calls.calls["ddb"],
                    "zammad_calls": calls.calls["zammad"],
                    "request_id": request.request_id,
                }
            )
        )
        return response

    def _respond(self, request: Request) -> Response:
        try:
            route = self._route(request)
            if route is None:
                return _preflight(request)
            if len(request.body) > MAX_BODY_BYTES:
                raise PayloadTooLarge()
            return route.handler(self.services, request, self._caller(route, request))
        except ApiError as error:
            return Response(error.status, {"error": error.message}, dict(error.headers))
        except Exception as error:
            unavailable = storage_unavailable(error)
            if unavailable is not None:
                return Response(unavailable.status, {"error": unavailable.message}, dict(unavailable.headers))
            return self._internal_error(request)

    @staticmethod
    def _internal_error(request: Request) -> Response:
        log.error(
            json.dumps(
                {
                    "event": "unhandled_exception",
                    "request_id": request.request_id,
                    "route": request.route or None,
                    "error_type": getattr(sys.exc_info()[0], "__name__", None),
                    # The frames, not the exception's message: that may quote the input.
                    "traceback": "".join(traceback.format_tb(sys.exc_info()[2])),
                }
            )
        )
        return Response(500, {"error": "Internal server error."})

    def _trusted_origin(self, request: Request) -> bool:
        """A page of a configured origin (the CMS) calling a route that takes a token."""
        origin = request.header("origin")
        return (
            bool(origin) and origin in self.settings.author_chat_origins and ROUTES.for_tokens(request.route)
        )

    def _route(self, request: Request) -> Route | None:
        """The request's row; None for a browser's CORS preflight of an app route, or of a
        token route from a configured origin."""
        methods = ROUTES.by_path.get(request.route)
        if methods is None:
            raise NotFound()
        if request.method == "OPTIONS" and (ROUTES.for_app(request.route) or self._trusted_origin(request)):
            return None
        route = methods.get(request.method)
        if route is None:
            raise MethodNotAllowed(headers={"Allow": ", ".join(sorted(methods))})
        return route

    def _caller(self, route: Route, request: Request) -> Any:
        """The row's policy, applied: who is calling (None for the app and anyone)."""
        services = self.services
        if route.caller == APP:
            services.rate_limiter.check(request)
        elif route.caller == AUTHOR:
            return services.auth.require(request.header("authorization"), "author", "admin")
        elif route.caller == ADMIN:
            return services.auth.require(request.header("authorization"), "admin")
        elif route.caller == ZAMMAD:
            return services.webhook.authenticate(
                request.query.get("token"), request.body, request.header("x-hub-signature")
            )
        return None


def _preflight(request: Request) -> Response:
    """A browser's CORS preflight: of an app route, or of a token route (the origin checked)."""
    methods = ", ".join(sorted(ROUTES.by_path[request.route]))
    allowed = (
        # sentry-trace and baggage: the app's Sentry adds them to every request once its
        # tracing is on; a preflight without them would make the browser refuse the chat.
        "Content-Type, Idempotency-Key, If-None-Match, sentry-trace, baggage"
        if ROUTES.for_app(request.route)
        else "Authorization, Content-Type"
    )
    return Response(
        204,
        None,
        {
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": allowed,
            "Access-Control-Max-Age": "86400",
        },
    )


def _request_id(request: Request) -> str:
    incoming: str | None = request.header("x-request-id")
    if incoming and _CLIENT_REQUEST_ID.match(incoming):
        return incoming
    return request.request_id or uuid.uuid4().hex


def _route_kind(request: Request) -> str:
    route = (ROUTES.by_path.get(request.route) or {}).get(request.method)
    return route.metric_kind if route is not None else "not_found"
