"""`make load`, real time (docs/realtime.md): DEVICES devices connected over WebSockets,
traffic only to 127.0.0.1, stopping by itself.

DynamoDB Local, the Zammad emulator (its signed webhook wired to the app), the app under
gunicorn sending its events to the local WebSocket server (functions/websocket.py), which
runs here. Every device opens its chat over HTTP, connects and subscribes; then an agent
answers EVENTS of them, one after another, through the webhook, and each answer's time to
its device's event is measured. Idle devices send nothing (a client keeps its connection
with a ping before API Gateway's 10-minute idle timeout: 6 an hour). Prints p50/p99 of
reply-to-event, requests per idle device, and DynamoDB capacity per event.

    python -m devtools.load_realtime --devices 1000 --events 100
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from websockets.asyncio.client import connect

from tests.support import servers

PROJECT = Path(__file__).resolve().parent.parent


class Devices:
    """The devices' WebSockets, in one event loop in a thread: the time each event came."""

    def __init__(self, url: str, region: str, device_ids: list[str]):
        self.url, self.region, self.device_ids = url, region, device_ids
        self.arrived: dict[str, list[float]] = {device: [] for device in device_ids}
        self.frames_sent = 0
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.failed: list[str] = []
        self.subscribed: list[str] = []
        self.event_bytes: list[int] = []

    def run(self) -> None:
        asyncio.run(self._all())

    async def _all(self) -> None:
        subscribed = asyncio.Semaphore(50)  # connect in waves, not all at once
        tasks = [asyncio.create_task(self._device(device, subscribed)) for device in self.device_ids]
        while len(self.subscribed) < len(tasks) and not self.failed:
            await asyncio.sleep(0.05)
        self.ready.set()
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _device(self, device: str, gate: asyncio.Semaphore) -> None:
        async with gate:
            socket = await connect(self.url, open_timeout=30, ping_interval=None)
            await socket.send(
                json.dumps(
                    {"action": "subscribe", "region": self.region, "language": "de", "device_id": device}
                )
            )
            self.frames_sent += 1
            answer = json.loads(await socket.recv())
            if answer.get("type") != "subscribed":
                self.failed.append(str(answer))
                return
            self.subscribed.append(device)
        async with socket:
            async for frame in socket:
                if json.loads(frame).get("type") == "chat":
                    self.arrived[device].append(time.perf_counter())
                    self.event_bytes.append(len(frame))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.load_realtime", description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()

    from chalicelib.platform import metrics
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.user_chat.records import chat_key
    from devtools.zammad_emulator import ZammadEmulator
    from functions.websocket import WebSocketServer

    os.environ.update(
        AWS_ACCESS_KEY_ID="load", AWS_SECRET_ACCESS_KEY="load", AWS_DEFAULT_REGION="eu-central-1"
    )
    ws_port, management_port, port = servers.free_port(), servers.free_port(), servers.free_port()
    with servers.dynamodb_local() as endpoint, ZammadEmulator(token="load-token") as zammad:
        env = {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "CHAT_TABLE_PREFIX": "rt-",
            "API_RATE_LIMIT_WINDOW": "1000000",
            "WEBSOCKET_ENDPOINT": "http://127.0.0.1:%d" % management_port,
            "WEBSOCKET_CONNECTIONS_PER_CHAT": "5",
        }
        settings = load_settings(env)
        services = aws_services(settings)
        create_tables(ALL_MODELS)
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        services.regions.put(
            "load",
            {"integreat_chat_enabled": True, "zammad_url": zammad.url, "zammad_access_token": zammad.token,
             "zammad_webhook_token": token, "zammad_webhook_secret": secret},
        )  # fmt: skip
        app = "http://127.0.0.1:%d" % port
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (app, token), secret)
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % port, "--workers", "2",
             "--threads", "16", "--log-level", "warning", "functions.wsgi:application"],
            cwd=str(PROJECT), env=dict(os.environ, PYTHONPATH=str(PROJECT), **env),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with WebSocketServer(services, ws_port, management_port) as channel:
                servers.wait_for_http(app, process=gunicorn)
                devices = ["rt-%05d" % index for index in range(args.devices)]
                with ThreadPoolExecutor(16) as pool:  # every device's first message
                    opened = list(pool.map(lambda d: _open(app, d), devices))
                assert all(opened), "some chats did not open"
                tickets = {
                    ticket["title"].rsplit(" ", 1)[-1]: ticket_id
                    for ticket_id, ticket in zammad.tickets.items()
                }
                sockets = Devices(channel.ws_url, "load", devices)
                thread = threading.Thread(target=sockets.run, daemon=True)
                thread.start()
                if not sockets.ready.wait(300) or sockets.failed:
                    raise SystemExit("devices could not subscribe: %s" % sockets.failed[:3])
                frames_before = sockets.frames_sent
                started_idle = time.monotonic()
                latencies = []
                warm_up = 4  # each gunicorn worker makes its management API client once: not measured
                for index in range(-warm_up, args.events):
                    device = devices[(index * 7919 + warm_up) % len(devices)]
                    count = len(sockets.arrived[device])
                    began = time.perf_counter()
                    zammad.add_article(tickets[device], "<p>Antwort %d</p>" % index)
                    deadline = time.monotonic() + 10
                    while len(sockets.arrived[device]) == count and time.monotonic() < deadline:
                        time.sleep(0.001)
                    if len(sockets.arrived[device]) > count and index >= 0:
                        latencies.append(sockets.arrived[device][count] - began)
                idle_seconds = time.monotonic() - started_idle
                idle_frames = sockets.frames_sent - frames_before
                with metrics.collect() as stats:  # one event, its DynamoDB cost as the app pays it
                    told = services.realtime.chat_changed(chat_key("load", devices[0]))
                # Events carry no content (decided): what one carrying the chat would weigh.
                busiest = max(devices, key=lambda d: len(sockets.arrived[d]))
                poll = requests.get("%s/api/v3/load/de/chat/%s/" % (app, busiest), timeout=10)
                poll_bytes = len(poll.content)
                sizes = (max(sockets.event_bytes, default=0), len(sockets.arrived[busiest]) + 1, poll_bytes)
                sockets.stop.set()
                thread.join(timeout=30)
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
    _report(args, latencies, idle_frames, idle_seconds, stats, told, sizes)


def _open(app: str, device: str) -> bool:
    url = "%s/api/v3/load/de/chat/%s/" % (app, device)
    return requests.post(url, files={"message": (None, "Hallo")}, timeout=30).status_code == 200


def _report(
    args, latencies: list[float], idle_frames: int, idle_seconds: float, stats, told: int, sizes
) -> None:
    ordered = sorted(latencies)
    nan = float("nan")
    p50 = statistics.median(ordered) if ordered else nan
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else nan
    worst = ordered[-1] if ordered else nan
    print(
        "make load, real time: %d devices connected over WebSockets, %d agent replies"
        % (args.devices, args.events)
    )
    print(
        "  agent reply -> device event: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d of %d came; goal p99 < 1 s)"
        % (p50 * 1000, p99 * 1000, worst * 1000, len(ordered), args.events)
    )
    print("  frames sent by idle devices: %d in %.0f s" % (idle_frames, idle_seconds))
    print("  (a real client adds a ping every 9 minutes against API Gateway's idle timeout: 6.7 an hour)")
    print(
        "  per event to one connection: %d DynamoDB calls, %.1f read units, %.1f write units, %d told"
        % (stats.calls["ddb"], stats.read_units, stats.write_units, told)
    )
    print(
        "  an event: %d bytes; the poll it prompts, of a chat of %d messages: %d bytes"
        " (what an event carrying the chat would weigh)" % sizes
    )


if __name__ == "__main__":
    main()
