"""AWS Chalice adapter: registers every route of `chalicelib.routes` and hands each request,
as a plain `Request`, to `ChatApi.handle`, schedules the jobs of `chalicelib.jobs`, and
consumes the chatbot's queue. No business logic lives here."""

import os
import sys
from collections.abc import Mapping

from chalice import Chalice, Rate
from chalice import Response as ChaliceResponse

from chalicelib.api import ChatApi
from chalicelib.platform import telemetry
from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.platform.logs import configure_logging
from chalicelib.routes import ROUTES
from chalicelib.schedules import EVERY_MINUTES
from chalicelib.services import aws_services
from chalicelib.web.http import Request

configure_logging()
app = Chalice(app_name="integreat-chat")
# Read and validated at import: a bad value fails the Lambda init, naming the variable.
try:
    settings = load_settings(os.environ)
except ConfigError as error:
    # One line naming the variable, no traceback; the Lambda init stops. (`chalice local`
    # imports the app in a thread of its reloader: printed here, or it would be lost.)
    print("configuration error: %s" % error, file=sys.stderr, flush=True)
    raise SystemExit(1) from None
api = ChatApi(aws_services(settings))

# Every method goes to ChatApi, which answers unknown methods with a JSON 405 itself, and
# every content type, which the handlers check (Chalice's own 405/415 are not JSON of ours).
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _adapt(template: str):
    def view(**path_params):
        current = app.current_request
        assert current is not None  # Chalice sets it for every request it routes here
        query: Mapping[str, str] = current.query_params or {}
        raw_body = current.raw_body or b""
        response = api.handle(
            Request(
                method=current.method,
                route=template,
                path_params=path_params,
                query={name: query[name] for name in query},
                headers={name: current.headers[name] for name in current.headers},
                body=raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body,
                source_ip=current.context.get("identity", {}).get("sourceIp", ""),
                request_id=current.context.get("requestId", ""),
                path=current.context.get("path", ""),
            )
        )
        headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **response.headers}
        return ChaliceResponse(
            body=response.body_bytes().decode("utf-8"), status_code=response.status, headers=headers
        )

    return view


for _index, _template in enumerate(ROUTES.paths()):
    app.route(_template, methods=_METHODS, content_types=["*/*"], name="route_%d" % _index)(_adapt(_template))

# Paths no route matches, up to this many segments, reach ChatApi too, which answers our
# JSON 404: plain `chalice local` would answer them itself with API Gateway's 403 "Missing
# Authentication Token". In AWS these catch-alls and, for what they miss, the template's
# gateway responses (deploy/cloudformation/edge.py) give the same 404. Real routes win:
# API Gateway and `chalice local` both prefer literal segments.
UNKNOWN_PATH_DEPTH = 8
for _depth in range(UNKNOWN_PATH_DEPTH + 1):
    _unknown = "/" + "/".join("{unknown_%d}" % level for level in range(_depth))
    app.route(_unknown, methods=_METHODS, content_types=["*/*"], name="unknown_%d" % _depth)(_adapt(""))


def _scheduled(name: str, function: str):
    def run(event):
        from chalicelib import jobs  # a job's code: not a poll's cold start

        return jobs.run_job(api.services, name)

    run.__name__ = run.__qualname__ = function  # Chalice writes the handler as app.<__name__>
    return run


# The scheduled jobs (python -m functions.jobs runs the same ones elsewhere). Lambda finds a
# function's handler, `app.<name>`, with getattr on this module and calls it with (event,
# context): the module must hold what app.schedule returned (Chalice's wrapper, which takes
# both) under that name, not the plain function.
for _name, _minutes in EVERY_MINUTES.items():
    _function = _name.replace("-", "_")
    _schedule = app.schedule(Rate(_minutes, unit=Rate.MINUTES), name=_function)
    globals()[_function] = _schedule(_scheduled(_name, _function))


# The chatbot's jobs (python -m functions.worker consumes the same queue elsewhere), one
# message per invocation. The answer names the messages that failed (the event source
# reports batch item failures: deploy/cloudformation/queue.py), so only those come again,
# and a failed job is not a failed invocation (the job's own metric and line tell of it).
@app.on_sqs_message(queue=settings.chatbot_queue_name, batch_size=1, name="chatbot_worker")
def chatbot_worker(event):
    from chalicelib import jobs

    failed = []
    for record in event:
        try:
            jobs.run_chatbot_job(api.services, record.body)
        except Exception:  # logged and counted by run_chatbot_job
            failed.append({"itemIdentifier": record.to_dict()["messageId"]})
    return {"batchItemFailures": failed}


# Real time (docs/realtime.md): API Gateway's WebSocket API, over the same handlers that
# functions/websocket.py serves locally. A message's answer goes back on its connection.
app.experimental_feature_flags.update(["WEBSOCKETS"])


@app.on_ws_connect(name="websocket_connect")
def websocket_connect(event):
    raw = event.to_dict()
    handshake = Request(
        "GET",
        "",
        headers=raw.get("headers") or {},
        source_ip=(raw.get("requestContext") or {}).get("identity", {}).get("sourceIp", ""),
    )
    with telemetry.invocation(api.services.metrics, "realtime"):
        if not api.services.realtime.connected(event.connection_id, handshake):
            return ChaliceResponse(body="", status_code=429)  # refused: too many requests
    return None  # accepted; the client subscribes with its first message


@app.on_ws_message(name="websocket_message")
def websocket_message(event):
    body = event.body.encode("utf-8") if isinstance(event.body, str) else (event.body or b"")
    with telemetry.invocation(api.services.metrics, "realtime"):
        api.services.realtime.answer(
            event.connection_id, api.services.realtime.received(event.connection_id, body)
        )


@app.on_ws_disconnect(name="websocket_disconnect")
def websocket_disconnect(event):
    with telemetry.invocation(api.services.metrics, "realtime"):
        api.services.realtime.disconnected(event.connection_id)
