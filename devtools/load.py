"""`make load`: a bounded load run on this machine, traffic only to 127.0.0.1.

Starts DynamoDB Local, the Zammad emulator (its webhook wired to the app) and the app
under gunicorn, then runs locust headless (devtools/locustfile.py): DEVICES simulated app
devices, each opening a chat, polling it every 15 s and writing now and then, and one
agent answering in Zammad. It stops by itself after SECONDS and prints throughput,
p50/p95/p99 latency per request kind, errors, and the Zammad calls the app made.

    python -m devtools.load --devices 1000 --seconds 60
"""

import argparse
import csv
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import servers

PROJECT = Path(__file__).resolve().parent.parent


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%d cores (%s), Python %s" % (
        os.cpu_count() or 0,
        model or platform.machine(),
        platform.python_version(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.load", description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spawn-rate", type=int, default=50, help="devices started per second")
    args = parser.parse_args()

    from chalicelib.platform.config import load_settings
    from chalicelib.regions.service import Regions
    from chalicelib.regions.store import DynamoRegionTable
    from chalicelib.storage.connection import bind_models
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from devtools.zammad_emulator import ZammadEmulator

    os.environ.update(
        AWS_ACCESS_KEY_ID="load", AWS_SECRET_ACCESS_KEY="load", AWS_DEFAULT_REGION="eu-central-1"
    )
    with servers.dynamodb_local() as endpoint, ZammadEmulator(token="load-token") as zammad:
        env = {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "CHAT_TABLE_PREFIX": "load-",
            "AUTH_JWT_SECRET": secrets.token_urlsafe(32),
            # Every device its own client, as behind one proxy: the rate limit counts each.
            "TRUSTED_IP_HEADER": "X-Forwarded-For",
            "TRUSTED_PROXY_COUNT": "1",
        }
        settings = load_settings(env)
        bind_models(ALL_MODELS, settings)
        create_tables(ALL_MODELS)
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        Regions(time.time, DynamoRegionTable()).put(
            "load",
            {
                "integreat_chat_enabled": True,
                "zammad_url": zammad.url,
                "zammad_access_token": zammad.token,
                "zammad_webhook_token": token,
                "zammad_webhook_secret": secret,
            },
        )
        port = servers.free_port()
        app = "http://127.0.0.1:%d" % port
        zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (app, token), secret)
        server_env = dict(os.environ, PYTHONPATH=str(PROJECT), **env)
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % port, "--workers", "2",
             "--threads", "16", "--log-level", "warning", "functions.wsgi:application"],
            cwd=str(PROJECT),
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # one JSON line per request: not for this screen
        )  # fmt: skip
        try:
            servers.wait_for_http(app, process=gunicorn)
            _warm_up(app)
            calls_before = zammad.api_request_count()
            with tempfile.TemporaryDirectory() as out:
                stats = _run_locust(app, zammad.url, args, Path(out))
            zammad_calls = zammad.api_request_count() - calls_before
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
    _report(args, stats, zammad_calls)


def _warm_up(app: str, requests_count: int = 300) -> None:
    """DynamoDB Local is a JVM: its first few hundred requests are compiled as they come.
    AWS's DynamoDB has no such start; the measured run begins warm."""
    import requests

    session = requests.Session()
    for index in range(requests_count // 3):
        chat = "%s/api/v3/load/de/chat/warm-up-%d/" % (app, index % 20)
        headers = {"X-Forwarded-For": "192.0.2.%d" % (index % 200)}
        session.post(chat, files={"message": (None, "warm-up %d" % index)}, headers=headers, timeout=30)
        session.get(chat, headers=headers, timeout=30)
        session.get(chat, headers=headers, timeout=30)


def _run_locust(app: str, zammad_url: str, args, out: Path) -> list[dict[str, str]]:
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f", str(PROJECT / "devtools" / "locustfile.py"),
        "--headless", "--only-summary",
        "--users", str(args.devices + 1),  # and the agent
        "--spawn-rate", str(args.spawn_rate),
        # The measured minute starts once every device has opened its chat (the ramp's burst
        # of first messages, ticket creations and their webhook deliveries is not counted).
        "--reset-stats",
        "--run-time", "%ds" % (args.seconds + args.devices // args.spawn_rate),
        "--stop-timeout", "5",
        "--host", app,
        "--csv", str(out / "load"),
        "--exit-code-on-error", "0",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    env = dict(os.environ, LOAD_REGION="load", ZAMMAD_URL=zammad_url, LOAD_DEVICES=str(args.devices))
    run = subprocess.run(
        command,
        env=env,
        timeout=args.seconds + args.devices // args.spawn_rate + 120,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        sys.exit("locust failed:\n%s" % run.stderr[-3000:])
    with open(out / "load_stats.csv") as stats:
        return list(csv.DictReader(stats))


def _report(args, stats: list[dict[str, str]], zammad_calls: int) -> None:
    print(
        "make load: %d devices for %d s after all opened their chats, on %s"
        % (args.devices, args.seconds, _machine())
    )
    print(
        "  %-44s %8s %7s %7s %7s %7s %7s"
        % ("request", "count", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms")
    )
    for row in stats:
        print(
            "  %-44s %8s %7s %7.1f %7s %7s %7s"
            % (
                row["Name"][:44],
                row["Request Count"],
                row["Failure Count"],
                float(row["Requests/s"]),
                row["50%"],
                row["95%"],
                row["99%"],
            )
        )
    print("  Zammad calls made by the app, ramp included: %d (a new chat 1, a message 1;" % zammad_calls)
    print("   a poll none: the webhook keeps the chats current)")
    print("  (targets with 1,000 devices for 60 s: no errors, p99 of polls below 250 ms)")


if __name__ == "__main__":
    main()
