"""The author chat widget as people use it: Debian's Chromium (installed by `make chromium`),
driven by Playwright, against the running app (gunicorn on DynamoDB Local). Each test has
its own tables. The browser's clock is Playwright's, so polls happen when a test moves it.
Screenshots of the main states go to build/screenshots/ (not committed)."""

import json
import shutil
import time
from datetime import UTC, datetime

import pytest
import requests

from chalicelib.author_chat.service import ROOM
from chalicelib.author_chat.store import AuthorMessageRecord
from chalicelib.platform.auth import issue_hs256_token
from tests.conftest import JWT_SECRET, PROJECT, running_api
from tests.support.regions import chat_region

playwright = pytest.importorskip("playwright.sync_api")

SCREENSHOTS = PROJECT / "build" / "screenshots"
CHROMIUM_FLAGS = [  # as root in a container, on a machine with no internet
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is not installed: run `make chromium` (make test does)")
    return found


def token(sub, name, roles=("author",), lifetime=3600):
    return issue_hs256_token(JWT_SECRET, sub, list(roles), name=name, lifetime_seconds=lifetime)


ALICE, BOB, ADMIN = token("alice", "Alice"), token("bob", "Bob"), token("root", "Admin", ("admin",))


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def app(dynamodb_local, tmp_path):
    with running_api(dynamodb_local, tmp_path / "app.log", server="gunicorn") as (url, _admin, env):
        yield url, env


@pytest.fixture
def open_widget(browser, app):
    url, _env = app
    contexts = []

    def open_as(bearer, timezone="Europe/Berlin", locale="de-DE"):
        context = browser.new_context(
            timezone_id=timezone, locale=locale, viewport={"width": 480, "height": 640}
        )
        contexts.append(context)
        page = context.new_page()
        page.clock.install()
        page.goto("%s/api/v3/author-chat/widget/index.html#token=%s" % (url, bearer))
        page.wait_for_selector(".iac-window:not(:empty), .iac-status:not(:empty)")
        return page

    yield open_as
    for context in contexts:
        context.close()


def texts(page):
    return page.locator(".iac-message .iac-text").all_inner_texts()


def send(page, text):
    page.locator("textarea").fill(text)
    page.locator("textarea").press("Enter")
    shown = "[...document.querySelectorAll('.iac-message[data-id] .iac-text')].map(e => e.textContent)"
    page.wait_for_function("text => %s.includes(text)" % shown, arg=text)


def poll(page, seconds=11):
    """Move the browser's clock past the next poll and let its answer be shown."""
    with page.expect_response(lambda response: "/author-chat/messages" in response.url):
        page.clock.run_for(seconds * 1000)
    page.wait_for_timeout(100)


def shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / ("widget-%s.png" % name)))


def test_two_authors_talk_and_new_messages_are_highlighted_then_read(open_widget):
    alice = open_widget(ALICE)
    bob = open_widget(BOB)
    assert "Messages older than 30 days are deleted." in alice.locator(".iac-window").inner_text()
    send(alice, "Hallo Bob, wie geht's?")
    poll(bob)
    [message] = bob.locator(".iac-message[data-id]").all()
    assert message.locator(".iac-text").inner_text() == "Hallo Bob, wie geht's?"
    assert message.locator(".iac-sender").inner_text() == "Alice"
    assert "iac-unread" in message.get_attribute("class") and message.locator(".iac-new").count() == 1
    assert "New message from Alice" in bob.locator("[aria-live=polite]").inner_text()  # for screen readers
    shoot(bob, "new-message")
    send(bob, "Gut, danke!")
    poll(alice)
    assert texts(alice) == ["Hallo Bob, wie geht's?", "Gut, danke!"]
    # Bob's visit marked Alice's message read: his next visit shows nothing new.
    again = open_widget(BOB)
    assert again.locator(".iac-unread").count() == 0
    assert texts(again) == ["Hallo Bob, wie geht's?", "Gut, danke!"]
    # Times in the reader's time zone, a separator per day.
    assert again.locator(".iac-day").count() == 1
    shoot(again, "conversation")


def test_times_follow_the_reader_s_time_zone(open_widget):
    alice = open_widget(ALICE)
    send(alice, "Wann ist das Treffen?")
    sent_at = alice.locator("time").get_attribute("datetime")
    tokyo = open_widget(BOB, timezone="Asia/Tokyo", locale="en-GB")
    berlin = open_widget(BOB, timezone="Europe/Berlin", locale="en-GB")
    expected = {
        page: datetime.fromisoformat(sent_at.replace("Z", "+00:00")).astimezone(zone).strftime("%H:%M")
        for page, zone in ((tokyo, _zone("Asia/Tokyo")), (berlin, _zone("Europe/Berlin")))
    }
    for page, hour_minute in expected.items():
        assert page.locator("time").inner_text() == hour_minute


def _zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_only_the_sender_or_an_admin_may_delete_after_confirming(open_widget):
    alice = open_widget(ALICE)
    send(alice, "Bitte löschen")
    bob = open_widget(BOB)
    admin = open_widget(ADMIN)
    assert bob.locator(".iac-delete").count() == 0  # not his
    assert admin.locator(".iac-delete").count() == 1 and alice.locator(".iac-delete").count() == 1
    alice.once("dialog", lambda dialog: dialog.dismiss())
    alice.locator(".iac-delete").click()
    alice.wait_for_timeout(200)
    assert texts(alice) == ["Bitte löschen"]  # dismissed: kept
    alice.once("dialog", lambda dialog: dialog.accept())
    alice.locator(".iac-delete").click()
    alice.wait_for_function("() => !document.querySelector('.iac-message[data-id]')")
    assert alice.locator("[role=status]").inner_text() == "Message deleted."
    poll(admin)
    assert texts(admin) == []


def test_an_expired_token_says_so_and_stops(open_widget):
    page = open_widget(token("alice", "Alice", lifetime=-60))
    assert "Your session has expired" in page.locator("[role=status]").inner_text()
    assert page.locator("textarea").is_disabled()
    shoot(page, "expired")


def test_a_server_error_and_a_429_are_shown_and_the_retry_after_is_honoured(open_widget):
    page = open_widget(ALICE)
    seen = []

    def answer(route):
        seen.append(route.request.url)
        if len(seen) == 1:
            return route.fulfill(
                status=500, content_type="application/json", body='{"error": "Internal server error."}'
            )
        if len(seen) == 2:
            return route.fulfill(
                status=429,
                headers={"Retry-After": "40"},
                content_type="application/json",
                body='{"error": "Too many requests. Please try again later."}',
            )
        return route.continue_()

    page.route("**/author-chat/messages?*", answer)
    page.clock.run_for(11_000)
    page.wait_for_function(
        "() => document.querySelector('[role=status]').textContent.includes('unavailable')"
    )
    assert page.locator("[role=status]").get_attribute("class") == "iac-status iac-error"
    shoot(page, "server-error")
    page.clock.run_for(11_000)  # the back-off after one failure is 10 s
    page.wait_for_function("() => document.querySelector('[role=status]').textContent.includes('Too many')")
    assert page.locator("[role=status]").inner_text() == "Too many requests: waiting 40 s."
    page.clock.run_for(30_000)  # within Retry-After: no request
    page.wait_for_timeout(200)
    assert len(seen) == 2
    page.clock.run_for(11_000)
    page.wait_for_function("() => document.querySelector('[role=status]').textContent === ''")
    assert len(seen) == 3


def test_a_message_that_failed_to_send_stays_with_a_retry_button(open_widget):
    page = open_widget(ALICE)
    page.route(
        "**/author-chat/messages",
        lambda route: route.abort() if route.request.method == "POST" else route.continue_(),
    )
    page.locator("textarea").fill("Kommt das an?")
    page.locator("textarea").press("Enter")
    failed = page.locator(".iac-failed")
    failed.wait_for()
    assert failed.locator(".iac-text").inner_text() == "Kommt das an?"
    assert page.locator("textarea").input_value() == ""
    shoot(page, "not-sent")
    page.unroute("**/author-chat/messages")
    failed.locator(".iac-retry").click()
    page.wait_for_selector(".iac-message[data-id]")
    assert page.locator(".iac-failed").count() == 0 and texts(page) == ["Kommt das an?"]


def test_a_message_older_than_the_window_is_never_shown(open_widget, app):
    _url, env = app
    from chalicelib.platform.config import load_settings
    from chalicelib.storage.connection import bind_models
    from chalicelib.tables import ALL_MODELS

    bind_models(ALL_MODELS, load_settings(env))
    now = time.time()
    for days, text in ((31, "from last month"), (1, "from yesterday")):
        sent = now - days * 86400
        AuthorMessageRecord(
            ROOM,
            "%013d-0000000%d" % (int(sent * 1000), days % 10),
            text=text,
            sender_id="carol",
            sender_name="Carol",
            sent_at=datetime.fromtimestamp(sent, UTC),
            expires_at=datetime.fromtimestamp(now + 86400, UTC),  # still stored
        ).save()
    page = open_widget(BOB)
    assert texts(page) == ["from yesterday"]


def test_keyboard_only_and_right_to_left(open_widget):
    page = open_widget(ALICE, locale="ar")
    for _ in range(5):  # to the message box, by Tab alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "TEXTAREA":
            break
    assert page.evaluate("document.activeElement.labels[0].textContent").startswith("Message")
    page.keyboard.type("مرحبا بالجميع")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("سطر ثان")
    page.keyboard.press("Enter")
    page.wait_for_selector(".iac-message[data-id]")
    text = page.locator(".iac-message[data-id] .iac-text")
    assert text.inner_text() == "مرحبا بالجميع\nسطر ثان"
    assert text.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator(".iac").get_attribute("dir") == "rtl"  # the layout mirrors too
    assert page.locator(".iac-older").is_hidden()  # nothing older to load
    shoot(page, "right-to-left")
    # To its delete button, and delete it, by keyboard.
    page.locator(".iac-delete").focus()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('.iac-message[data-id]')")


def test_text_is_shown_as_text_never_as_html(open_widget):
    page = open_widget(ALICE)
    send(page, "<img src=x onerror=alert(1)><b>bold</b>")
    assert page.locator(".iac-text img, .iac-text b").count() == 0
    assert texts(page) == ["<img src=x onerror=alert(1)><b>bold</b>"]


def test_older_messages_load_when_scrolled_to_the_top(open_widget, app):
    _url, env = app
    from chalicelib.platform.config import load_settings
    from chalicelib.storage.connection import bind_models
    from chalicelib.tables import ALL_MODELS

    bind_models(ALL_MODELS, load_settings(env))
    now = time.time()
    with AuthorMessageRecord.batch_write() as batch:
        for index in range(60):
            sent = now - 3600 + index * 30
            batch.save(
                AuthorMessageRecord(
                    ROOM,
                    "%013d-%08d" % (int(sent * 1000), index),
                    text="message %d" % index,
                    sender_id="carol",
                    sender_name="Carol",
                    sent_at=datetime.fromtimestamp(sent, UTC),
                    expires_at=datetime.fromtimestamp(now + 86400, UTC),
                )
            )
    page = open_widget(BOB)
    assert len(texts(page)) == 50 and texts(page)[-1] == "message 59"  # newest at the bottom
    page.locator(".iac-log").evaluate("log => { log.scrollTop = 0; log.dispatchEvent(new Event('scroll')); }")
    page.wait_for_function("() => document.querySelectorAll('.iac-message[data-id]').length === 60")
    assert texts(page)[0] == "message 0"


class HostPages:
    """The CMS's pages, on an origin of their own (another port): what embeds the widget."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                body = pages.get(self.path, "").encode("utf-8")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def embedded(browser, dynamodb_local, tmp_path):
    """(host pages, the API's URL, a browser page factory): the API trusts the host's origin."""
    host = HostPages()
    try:
        with running_api(
            dynamodb_local, tmp_path / "app.log", server="gunicorn", AUTHOR_CHAT_ORIGINS=host.origin
        ) as (url, _admin, _env):
            context = browser.new_context()
            yield host, url, context
            context.close()
    finally:
        host.close()


SCRIPT_PAGE = """<!doctype html><html><body>
<div id="author-chat" style="height: 30rem"></div>
<script>window.cmsToken = () => Promise.resolve("%(token)s");</script>
<script src="%(api)s/api/v3/author-chat/widget/widget.js" data-target="#author-chat"
        data-token-provider="cmsToken"></script>
</body></html>"""

FRAME_PAGE = """<!doctype html><html><body>
<iframe id="chat" src="%(api)s/api/v3/author-chat/widget/index.html" title="Author chat"
        style="width: 30rem; height: 30rem"></iframe>
<script>
window.addEventListener("message", (event) => {
  if (event.origin !== "%(api)s" || event.data.type !== "integreat-author-chat:token-request") return;
  document.getElementById("chat").contentWindow.postMessage(
    {type: "integreat-author-chat:token", token: "%(token)s"}, "%(api)s");
});
</script>
</body></html>"""


def test_embedded_by_a_script_tag_with_the_cms_s_token_provider(embedded):
    host, api, context = embedded
    host.pages["/dashboard"] = SCRIPT_PAGE % {"token": ALICE, "api": api}
    page = context.new_page()
    page.goto(host.origin + "/dashboard")  # another origin than the API's: CORS at work
    page.wait_for_selector(".iac-window:not(:empty)")
    page.locator("#author-chat textarea").fill("Aus dem CMS")
    page.locator("#author-chat textarea").press("Enter")
    page.wait_for_selector(".iac-message[data-id]")
    assert page.locator(".iac-message[data-id] .iac-text").inner_text() == "Aus dem CMS"


def test_a_page_of_another_origin_gets_no_answer(embedded):
    _host, api, context = embedded
    stranger = HostPages()  # an origin the API was not told of
    try:
        stranger.pages["/"] = SCRIPT_PAGE % {"token": ALICE, "api": api}
        page = context.new_page()
        page.goto(stranger.origin + "/")
        page.wait_for_selector(".iac-status:not(:empty)")
        assert "unavailable" in page.locator("[role=status]").inner_text()  # the browser refused
        assert page.locator(".iac-message").count() == 0
    finally:
        stranger.close()


def test_embedded_by_an_iframe_that_asks_its_parent_for_the_token(embedded):
    host, api, context = embedded
    host.pages["/dashboard"] = FRAME_PAGE % {"token": BOB, "api": api}
    page = context.new_page()
    page.goto(host.origin + "/dashboard")
    frame = page.frame_locator("#chat")
    frame.locator(".iac-window:not(:empty)").wait_for()
    frame.locator("textarea").fill("Aus dem Rahmen")
    frame.locator("textarea").press("Enter")
    frame.locator(".iac-message[data-id]").wait_for()
    assert frame.locator(".iac-sender").inner_text() == "Bob"


def test_polls_slow_down_while_the_tab_is_hidden_and_catch_up_when_it_is_back(open_widget):
    page = open_widget(ALICE)
    polls = []
    page.on("request", lambda request: polls.append(request.url) if "/messages?" in request.url else None)

    def visible(yes):
        page.evaluate(
            "yes => { Object.defineProperty(document, 'hidden', {value: !yes, configurable: true});"
            " document.dispatchEvent(new Event('visibilitychange')); }",
            yes,
        )

    poll(page)  # visible: every 10 s
    assert len(polls) == 1
    visible(False)
    poll(page)  # the poll already scheduled
    page.clock.run_for(30_000)
    page.wait_for_timeout(200)
    assert len(polls) == 2  # hidden: nothing for a minute
    poll(page, seconds=31)
    assert len(polls) == 3
    with page.expect_response(lambda response: "/messages?" in response.url):
        visible(True)  # back: at once, not after the minute
    assert len(polls) == 4


def test_a_message_from_another_author_appears_without_a_poll_over_the_websocket(
    browser, dynamodb_local, tmp_path
):
    """Real time (docs/realtime.md): the widget subscribes on the WebSocket channel (the local
    server over the same handlers) and shows Alice's message while its clock, and so its
    polling, stands still; the page's CSP allows exactly that channel."""
    from chalicelib.platform.config import load_settings
    from chalicelib.realtime.connections import AUTHOR_CHANNEL, ConnectionRecord
    from chalicelib.services import aws_services
    from functions.websocket import WebSocketServer
    from tests.support.servers import free_port

    ws_port, management_port = free_port(), free_port()
    live = {
        "WEBSOCKET_ENDPOINT": "http://127.0.0.1:%d" % management_port,
        "WEBSOCKET_URL": "ws://127.0.0.1:%d" % ws_port,
    }
    with running_api(dynamodb_local, tmp_path / "app.log", server="gunicorn", **live) as (url, _admin, env):  # noqa: SIM117 (the channel needs the app's env)
        with WebSocketServer(aws_services(load_settings(env)), ws_port, management_port) as channel:
            context = browser.new_context(viewport={"width": 480, "height": 640})
            page = context.new_page()
            frames: list[str] = []
            page.on("websocket", lambda socket: socket.on("framesent", lambda frame: frames.append(frame)))
            page.clock.install()  # no poll happens unless the test moves this clock
            page_url = "%s/api/v3/author-chat/widget/index.html#token=%s&ws=%s" % (url, BOB, channel.ws_url)
            answer = page.goto(page_url)
            assert (
                "connect-src 'self' %s;" % live["WEBSOCKET_URL"] in answer.headers["content-security-policy"]
            )
            page.wait_for_selector(".iac-window:not(:empty)")
            deadline = time.monotonic() + 10
            while not list(ConnectionRecord.channel_index.query(AUTHOR_CHANNEL)):
                assert time.monotonic() < deadline, "the widget did not subscribe"
                time.sleep(0.05)
            posted = requests.post(
                url + "/api/v3/author-chat/messages",
                json={"text": "Ganz ohne Warten"},
                headers={"Authorization": "Bearer " + ALICE},
                timeout=10,
            )
            assert posted.status_code == 201
            shown = "() => [...document.querySelectorAll('.iac-text')].some(e => e.textContent === %r)"
            page.wait_for_function(shown % "Ganz ohne Warten", timeout=5000)
            # Idle, it pings every 9 minutes (API Gateway closes a connection idle for 10).
            assert [json.loads(frame)["action"] for frame in frames] == ["subscribe"]
            page.clock.run_for(9 * 60 * 1000)
            deadline = time.monotonic() + 5
            while len(frames) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [json.loads(frame)["action"] for frame in frames] == ["subscribe", "ping"]
            context.close()


def test_a_web_app_of_another_origin_reads_the_etag_and_revalidates_with_it(
    browser, dynamodb_local, tmp_path
):
    """The app's poll from a page of another origin, as the Integreat web app makes it: the
    script reads the ETag (exposed by CORS) and sends it back in If-None-Match (allowed in
    the preflight), so after a real-time event it can skip an unchanged chat (304); and a
    message with the headers Sentry's tracing adds is let through by the preflight."""
    from devtools.zammad_emulator import ZammadEmulator

    host = HostPages()
    host.pages["/"] = "<!doctype html><title>Integreat</title><p>web app</p>"
    with (
        ZammadEmulator(token="web-app-zammad-token") as zammad,
        running_api(dynamodb_local, tmp_path / "app.log", server="gunicorn") as (url, admin, _env),
    ):
        region = chat_region(zammad, chat_beta_tester_percentage=100)
        assert requests.put(url + "/api/v3/admin/regions/augsburg", json=region, headers=admin, timeout=10).ok
        chat = "%s/api/v3/augsburg/de/chat/web-app-device-1/" % url
        assert requests.post(chat, data={"message": "Hallo"}, timeout=30).status_code == 200
        page = browser.new_page()
        try:
            page.goto(host.origin + "/")
            seen = page.evaluate(
                """async (url) => {
                    const first = await fetch(url, {cache: "no-store"});
                    const etag = first.headers.get("ETag");
                    const again = await fetch(url, {cache: "no-store", headers: {"If-None-Match": etag}});
                    // The app's Sentry, with tracing on, adds its two headers to every request.
                    const traced = await fetch(url, {
                        method: "POST",
                        headers: {
                            "Content-Type": "application/json",
                            "sentry-trace": "771a43a4192642f0b136d5159a501700-b5c8d2a1e3f40a6b-1",
                            "baggage": "sentry-environment=production,sentry-public_key=abc",
                        },
                        body: JSON.stringify({message: "Mit Sentry"}),
                    }).then((answer) => answer.status, (error) => String(error));
                    return {status: first.status, etag: etag, again: again.status, traced: traced};
                }""",
                chat,
            )
        finally:
            page.close()
            host.close()
    assert seen["status"] == 200 and seen["etag"].startswith('"') and seen["again"] == 304
    assert seen["traced"] == 200  # the preflight allowed sentry-trace and baggage
