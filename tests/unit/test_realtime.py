"""The rules of the WebSocket channel without a network (docs/realtime.md): the service on
the in-memory connections, with API Gateway's management API replaced at its edge by a
recording sender (a connection the test marks gone answers as GoneException does)."""

import json

from chalicelib.platform.auth import Authenticator, issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.realtime.connections import AUTHOR_CHANNEL, chat_channel
from chalicelib.realtime.service import Realtime
from tests.support.clock import Clock
from tests.support.memory.connections import MemoryConnections
from tests.support.memory.small_tables import MemoryCounters

SECRET = "realtime-unit-secret-long-enough-for-hs256"


class RecordingSender:
    def __init__(self):
        self.sent: list[tuple[str, dict]] = []
        self.gone: set[str] = set()

    def send(self, connection_id, data):
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, json.loads(data)))
        return True


def realtime(per_chat=2, per_minute=5, sender=None):
    sender, connections, clock = sender or RecordingSender(), MemoryConnections(), Clock()
    chats = {"augsburg#device-1": '"etag-1"'}
    service = Realtime(
        connections,
        MemoryCounters(),
        sender,
        Authenticator(load_settings({"AUTH_JWT_SECRET": SECRET})),
        clock,
        chat_of=lambda region, _language, device: (
            "%s#%s" % (region, device) if "%s#%s" % (region, device) in chats else None
        ),
        chat_etag=chats.get,
        per_chat=per_chat,
        per_minute=per_minute,
    )
    return service, sender, connections, clock


def frame(**fields):
    return json.dumps(fields).encode()


def test_a_device_subscribes_to_its_chat_only_while_it_exists():
    service, _, connections, _ = realtime()
    subscribe = frame(action="subscribe", region="augsburg", language="de", device_id="device-1")
    assert service.received("c1", subscribe) == {"type": "subscribed", "channel": "chat"}
    assert connections.of_channel(chat_channel("augsburg#device-1")) == ["c1"]
    missing = frame(action="subscribe", region="augsburg", language="de", device_id="device-9")
    assert service.received("c2", missing) == {"type": "error", "error": "Chat not found."}


def test_events_reach_the_chats_connections_and_gone_ones_are_forgotten():
    service, sender, connections, _ = realtime()
    subscribe = frame(action="subscribe", region="augsburg", language="de", device_id="device-1")
    service.received("c1", subscribe)
    service.received("c2", subscribe)
    sender.gone.add("c2")
    assert service.chat_changed("augsburg#device-1") == 1
    assert sender.sent == [("c1", {"type": "chat", "etag": '"etag-1"'})]
    assert connections.of_channel(chat_channel("augsburg#device-1")) == ["c1"]
    assert service.chat_changed("augsburg#device-2") == 0  # nobody listens: nothing sent


def test_connections_per_chat_are_capped_and_messages_per_minute_limited():
    service, _, _, clock = realtime(per_chat=2, per_minute=3)
    subscribe = frame(action="subscribe", region="augsburg", language="de", device_id="device-1")
    assert [service.received(c, subscribe)["type"] for c in ("c1", "c2", "c3")] == [
        "subscribed",
        "subscribed",
        "error",
    ]
    answers = [service.received("c4", frame(action="ping")) for _ in range(4)]
    assert answers[:3] == [{"type": "pong"}] * 3 and answers[3]["type"] == "error"
    clock.now += 60  # a new minute
    assert service.received("c4", frame(action="ping")) == {"type": "pong"}


def test_authors_subscribe_with_a_token_of_their_role():
    service, sender, connections, _ = realtime()
    author = issue_hs256_token(SECRET, "alice", ["author"])
    assert service.received("a1", frame(action="subscribe", token=author))["channel"] == "author_chat"
    assert (
        service.received("a2", frame(action="subscribe", token=issue_hs256_token(SECRET, "x", ["guest"])))[
            "type"
        ]
        == "error"
    )
    assert connections.of_channel(AUTHOR_CHANNEL) == ["a1"]
    # Places are per author, not one limit for the whole author channel (per_chat=2 here).
    bob = issue_hs256_token(SECRET, "bob", ["author"])
    assert service.received("a3", frame(action="subscribe", token=author))["type"] == "subscribed"
    assert service.received("a4", frame(action="subscribe", token=author))["type"] == "error"  # alice's two
    assert [service.received(c, frame(action="subscribe", token=bob))["type"] for c in ("b1", "b2")] == [
        "subscribed",
        "subscribed",
    ]
    for connection in ("a3", "b1", "b2"):
        service.disconnected(connection)
    service.author_changed("deleted", "m-1")
    assert sender.sent == [("a1", {"type": "author_chat", "change": "deleted", "id": "m-1"})]


def test_bad_frames_get_an_error_not_an_exception():
    service, _, _, _ = realtime()
    nested = b"[" * 60_000  # past the parser's stack: the HTTP bodies' nesting limit applies
    lone_surrogate = b'{"action": "subscribe", "region": "\\ud800"}'
    for bad in (b"not json", b"[1]", b"\xff", frame(action="dance"), b"x" * (128 * 1024 + 1), nested):
        assert service.received("c1", bad)["type"] == "error"
    assert service.received("c2", lone_surrogate) == {
        "type": "error",
        "error": "A message must be a JSON object.",
    }


def test_a_deleted_chat_tells_its_connections_then_forgets_them():
    service, sender, connections, _ = realtime()
    subscribe = frame(action="subscribe", region="augsburg", language="de", device_id="device-1")
    service.received("c1", subscribe)
    service.received("c2", subscribe)
    sender.gone.add("c2")
    assert service.chat_deleted("augsburg#device-1") == 1
    assert sender.sent == [("c1", {"type": "chat", "etag": None})]
    assert connections.of_channel(chat_channel("augsburg#device-1")) == []
    assert service.chat_deleted("augsburg#device-1") == 0


def test_a_failed_send_never_raises_and_logs_no_connection(caplog):
    class BrokenSender:
        def send(self, connection_id, data):
            raise ConnectionError("management API down for " + connection_id)

    service, _, _, _ = realtime(sender=BrokenSender())  # the edge fails; the caller must not
    subscribe = frame(action="subscribe", region="augsburg", language="de", device_id="device-1")
    service.received("c-secret-id", subscribe)
    with caplog.at_level("WARNING", logger="integreat_chat"):
        assert service.chat_changed("augsburg#device-1") == 0
        assert service.chat_deleted("augsburg#device-1") == 0
    assert [json.loads(r.getMessage()) for r in caplog.records] == [
        {"event": "realtime_failed", "error": "ConnectionError"}
    ] * 2


def test_fuzzed_frames_get_an_answer_never_an_exception():
    """Any bytes, and any JSON (deep, wide, odd keys), as a client's frame: an answer of
    the protocol's, never an exception (derandomized, bounded)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    service, _, _, _ = realtime(per_minute=10_000)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=30,
    )
    frames = st.binary(max_size=300) | json_values.map(lambda value: json.dumps(value).encode())
    frames |= st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth)

    @given(frames)
    @settings(max_examples=300, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(data):
        answer = service.received("fuzz", data)
        assert answer["type"] in ("error", "pong", "subscribed")

    fuzz()


def test_connections_and_subscriptions_count_against_the_clients_rate_limit():
    """Subscribing answers whether a chat exists: it is limited per client address as the
    HTTP routes are (one budget for both), so it is no faster an oracle than polling."""
    from chalicelib.rate_limit import RateLimiter
    from chalicelib.web.http import Request

    clock = Clock()
    limiter = RateLimiter(load_settings({"API_RATE_LIMIT_WINDOW": "3"}), clock, MemoryCounters())
    service, _, _, _ = realtime(per_minute=100)
    service._limit_client, service._client_of = limiter.check_client, limiter.client_of
    here = Request("GET", "", source_ip="192.0.2.7")
    assert service.connected("c1", here)
    missing = frame(action="subscribe", region="augsburg", language="de", device_id="device-9")
    assert [service.received("c1", missing)["error"] for _ in range(3)] == [
        "Chat not found.",
        "Chat not found.",
        "Too many requests. Please try again later.",
    ]
    assert not service.connected("c2", here)  # a new connection does not start afresh
    assert service.connected("c3", Request("GET", "", source_ip="192.0.2.8"))
