"""The author chat widget (chalicelib/author_chat/widget_files/): HTML, JavaScript and CSS,
no build step, served by the API itself at /api/v3/author-chat/widget/<file> (the page:
index.html, whose relative links then work under any stage path). The files are read
on the first request that asks for them, never at import: a cold start pays nothing.

Two ways to embed it (docs/widget.md, "Embedding it in the CMS"): a `<script>` tag in the CMS's page
with a token provider the page supplies, or an `<iframe>` of `.../widget/index.html`
that asks its parent for a token by postMessage.
"""

import threading
from pathlib import Path

from chalicelib.web.errors import NotFound
from chalicelib.web.http import Request, Response

FILES = Path(__file__).with_name("widget_files")
TYPES = {  # file: Content-Type
    "index.html": "text/html; charset=utf-8",
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}
_cache: dict[str, bytes] = {}
_lock = threading.Lock()


def widget_file(name: str) -> bytes:
    """A widget file's bytes (read once per instance); NotFound for anything else."""
    if name not in TYPES:  # a fixed list: no path is ever built from the request
        raise NotFound()
    with _lock:
        if name not in _cache:
            _cache[name] = (FILES / name).read_bytes()
        return _cache[name]


def gzipped_size() -> int:
    """What the widget adds to a page, compressed as a web server sends it."""
    import gzip

    return sum(len(gzip.compress(widget_file(name), 9)) for name in TYPES)


def serve(name: str, frame_ancestors: str, websocket_url: str | None = None) -> Response:
    headers = {
        "Content-Type": TYPES.get(name, "application/json"),
        "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }
    body = widget_file(name)
    if name == "index.html":
        # The page runs only its own script and style and talks only to this API and its
        # WebSocket channel (WEBSOCKET_URL, docs/realtime.md); it may be framed by the
        # configured origins (the CMS) and nobody else.
        connect = "'self'" + (" " + websocket_url if websocket_url else "")
        headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src %s; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors %s"
            % (connect, frame_ancestors)
        )
    return Response(200, None, headers, raw=body)


def asset(services, request: Request, _anyone: None) -> Response:
    return serve(request.path_params["file"], _frame_ancestors(services), services.settings.websocket_url)


def page(services, request: Request, _anyone: None) -> Response:
    """The folder, `.../widget/`: the page itself. Without the slash its relative links
    would miss the folder, so that address is sent to the one with it (a relative
    Location: it works under any stage path or proxy prefix)."""
    if request.path and not request.path.endswith("/"):
        return Response(308, {"error": "The widget is at widget/."}, {"Location": "widget/"})
    return serve("index.html", _frame_ancestors(services), services.settings.websocket_url)


def _frame_ancestors(services) -> str:
    origins = services.settings.author_chat_origins
    return " ".join(("'self'",) + origins)
