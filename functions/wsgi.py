"""The API as a WSGI application, for any WSGI server (a container platform, Cloud Run,
Knative, a VM):

    gunicorn --bind 0.0.0.0:8000 --workers 2 --threads 8 functions.wsgi:application

The same route table and handlers as the Chalice app (`ChatApi.handle`), so the same
status codes, headers and bodies; only the transport differs. Unknown paths are a JSON 404
here (API Gateway's gateway responses do that in AWS). The client IP is the connection's
(`REMOTE_ADDR`); behind a proxy, set `TRUSTED_IP_HEADER`.

With METRICS=prometheus, `GET /metrics` answers Prometheus' text format
(chalicelib/platform/prometheus.py): on the backend's own port, for a scraper inside the
network; the public nginx locations (deploy/nginx/) never forward it.
"""

import os
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qsl, quote

from chalicelib.api import MAX_BODY_BYTES, ChatApi
from chalicelib.platform.config import load_settings
from chalicelib.platform.logs import configure_logging
from chalicelib.services import aws_services


def _headers(environ: dict) -> dict[str, str]:
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers


def _path(environ: dict) -> str:
    # The undecoded path where the server gives it, so an encoded "/" stays inside its segment.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw.split("?", 1)[0]
    return quote((environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8", "replace"))


def _body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Read at most one byte past the limit: enough for ChatApi to answer 413.
    return environ["wsgi.input"].read(min(length, MAX_BODY_BYTES + 1)) if length > 0 else b""


def make_application(api: ChatApi) -> Callable:
    serve_metrics = api.settings.metrics == "prometheus"

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if serve_metrics and environ.get("PATH_INFO") == "/metrics" and environ["REQUEST_METHOD"] == "GET":
            from chalicelib.platform.prometheus import exposition

            text, content_type = exposition()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(text)))])
            return [text]
        query = {}
        for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            query[name] = value  # the last value of a repeated name, as Chalice gives it
        response = api.handle_path(
            environ["REQUEST_METHOD"],
            _path(environ),
            query=query,
            headers=_headers(environ),
            body=_body(environ),
            source_ip=environ.get("REMOTE_ADDR", ""),
        )
        body = response.body_bytes()
        fields = {"Content-Type": "application/json", **response.headers, "Content-Length": str(len(body))}
        headers = list(fields.items())
        start_response("%d %s" % (response.status, HTTPStatus(response.status).phrase), headers)
        return [body]

    return application


configure_logging()
# Read and validated at import: a bad value stops the worker, naming the variable.
application = make_application(ChatApi(aws_services(load_settings(os.environ))))
