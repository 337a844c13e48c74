"""`make dev`: the whole system on this machine, with nothing installed by hand.

Starts an embedded DynamoDB, SQS and S3 (moto in server mode), the Zammad emulator, the
chatbot emulator and stand-ins of FCM and of a browser's push service on 127.0.0.1, creates
the tables and the chatbot's queue, writes a demo region that points at the emulators, sets
that Zammad up with `manage zammad-setup` (the group, the attributes, the signed webhook to
this server, its trigger), serves the API with Chalice's local server on
http://127.0.0.1:8000, runs the chatbot's worker (`python -m functions.worker`) beside it
and prints what to try. A message gets an automatic answer after a few seconds, with
`chatbot_typing` true meanwhile; an unseen answer is pushed. Ctrl-C stops everything.
"""

import argparse
import base64
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from moto.server import ThreadedMotoServer

from chalicelib.attachments.bucket import FileBucket
from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.push.web_push import public_key, vapid_key
from chalicelib.regions.service import Regions
from chalicelib.regions.store import DynamoRegionTable
from chalicelib.services import aws_services
from chalicelib.storage.connection import bind_models
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.fcm_standin import FcmStandIn
from devtools.web_push_standin import WebPushStandIn
from devtools.zammad_emulator import ZammadEmulator
from functions.websocket import WebSocketServer

DEMO_REGION = "demo"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the API server exited during start-up (code %s)" % process.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the API server did not start within %d s" % seconds)


def _check_ports_free(ports: dict[str, int]) -> None:
    """Stop before starting anything when a port is taken (say, by another `make dev`)."""
    for option, port in ports.items():
        if not port:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise SystemExit(
                    "make dev: port %d is in use (another make dev?); choose another: make dev %s=<port>"
                    % (port, option)
                ) from None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.dev", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="API port (make dev PORT=...)")
    parser.add_argument("--zammad-port", type=int, default=8001, help="Zammad emulator port (0: any)")
    parser.add_argument("--dynamodb-port", type=int, default=8002, help="moto server port (0: any)")
    parser.add_argument("--chatbot-port", type=int, default=8003, help="chatbot emulator port (0: any)")
    parser.add_argument("--chatbot-delay", type=float, default=3.0, help="seconds the chatbot takes")
    parser.add_argument("--ws-port", type=int, default=8004, help="WebSocket channel port (0: any)")
    parser.add_argument("--fcm-port", type=int, default=8005, help="FCM stand-in port (0: any)")
    parser.add_argument("--web-push-port", type=int, default=8006, help="Web Push stand-in port (0: any)")
    args = parser.parse_args()
    _check_ports_free(
        {
            "PORT": args.port,
            "ZAMMAD_PORT": args.zammad_port,
            "DYNAMODB_PORT": args.dynamodb_port,
            "CHATBOT_PORT": args.chatbot_port,
            "WS_PORT": args.ws_port,
            "FCM_PORT": args.fcm_port,
            "WEB_PUSH_PORT": args.web_push_port,
        }
    )
    # Our lines, readable: not moto's coloured access log nor its libraries' chatter.
    for name in ("werkzeug", "moto", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        sys.exit(_run(args))
    except ConfigError as error:
        sys.exit("configuration error: %s" % error)


# What `manage` needs to work on this run's tables and Zammad, printed for the operator's
# recipes (docs/operating.md): the names of the settings among `env`.
OPERATOR_SETTINGS = (
    "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "ATTACHMENT_BUCKET", "INTEGREAT_CHAT_BACKEND_URL",
    "PUBLIC_BASE_URL", "AUTH_JWT_SECRET",
)  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    """Everything, until Ctrl-C (0) or until the API server dies (1)."""
    # Ctrl-C stops it whatever this process inherited: a shell's background job starts with
    # SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "dev",
            "AWS_SECRET_ACCESS_KEY": "dev",
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "eu-central-1"),
            "SERVER_TIMING": env.get("SERVER_TIMING", "1"),
        }
    )
    env.setdefault("AUTH_JWT_SECRET", secrets.token_urlsafe(32))
    load_settings(env)  # the developer's own settings, checked before anything starts

    dynamodb_port = args.dynamodb_port or _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_port, verbose=False)
    moto.start()
    metrics_dir = tempfile.mkdtemp(prefix="integreat-chat-metrics-")
    zammad_token, zammad_admin_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    # A Zammad with nothing of the chat in it: `zammad-setup` makes it ready, as in production.
    emulator = ZammadEmulator(
        token=zammad_token, port=args.zammad_port, groups=("Users",), admin_token=zammad_admin_token
    ).start()
    chatbot = ChatbotEmulator(port=args.chatbot_port, delay=args.chatbot_delay).start()
    # Push (docs/push.md): FCM and a browser's push service, each a stand-in on loopback.
    fcm = FcmStandIn(port=args.fcm_port).start()
    vapid = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    web_push = WebPushStandIn(public_key(vapid_key(vapid)), port=args.web_push_port).start()
    env.update(
        {
            "FCM_CREDENTIALS": json.dumps(fcm.service_account()),
            "FCM_URL": fcm.send_url,
            "VAPID_PRIVATE_KEY": vapid,
            "VAPID_SUBJECT": "mailto:dev@example.org",
            "WEB_PUSH_HOSTS": web_push.url,
        }
    )
    env.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%d" % dynamodb_port,
            "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:%d" % dynamodb_port,
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:%d" % dynamodb_port,
            "ATTACHMENT_BUCKET": env.get("ATTACHMENT_BUCKET", "integreat-chat-files-dev"),
            "INTEGREAT_CHAT_BACKEND_URL": chatbot.url,
            # The webhook zammad-setup makes points here (make dev's own server, not a setting's).
            "PUBLIC_BASE_URL": "http://127.0.0.1:%d" % args.port,
            # The metrics at /metrics, the API's, the worker's and real time's summed
            # (chalicelib/platform/prometheus.py): a directory the three processes share.
            "METRICS": env.get("METRICS", "prometheus"),
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
    )
    management_port = _free_port()  # the WebSocket channel's management API (events go there)
    env["WEBSOCKET_ENDPOINT"] = "http://127.0.0.1:%d" % management_port
    os.environ.update(env)
    server = worker = None
    channel: WebSocketServer | None = None
    try:
        settings = load_settings(env)
        bind_models(ALL_MODELS, settings)
        for line in create_tables(ALL_MODELS):
            print("table " + line)
        queue = SqsJobQueue(settings)
        print(queue.create())
        print(FileBucket(settings).create(notify_queue_arn=queue.arn))
        # Real time (docs/realtime.md): the WebSocket channel over the same handlers.
        channel = WebSocketServer(aws_services(settings), args.ws_port, management_port).start()
        Regions(time.time, DynamoRegionTable()).put(
            DEMO_REGION,
            {
                "name": "Demo region",
                "integreat_chat_enabled": True,
                "zammad_url": emulator.url,
                "zammad_access_token": zammad_token,
                "chat_beta_tester_percentage": 100,
                "chatbot_enabled": True,
                "default_language": "de",
            },
        )
        # Agent replies reach the API as in production: through the (signed) webhook that
        # zammad-setup makes in Zammad, with the admin token for this run only.
        setup = subprocess.run(
            [sys.executable, "-m", "functions.manage", "zammad-setup", "--region", DEMO_REGION],
            env=dict(env, ZAMMAD_ADMIN_TOKEN=zammad_admin_token),
            check=False,
        )
        if setup.returncode != 0:
            print("make dev: zammad-setup failed for the demo region; stopping", flush=True)
            return 1
        server = subprocess.Popen(
            [sys.executable, "-m", "devtools.local", "--host", "127.0.0.1", "--port", str(args.port)], env=env
        )
        # Short receives: a worker stopped mid-receive leaves little behind in moto.
        worker = subprocess.Popen([sys.executable, "-m", "functions.worker", "--wait", "2"], env=env)
        signal.signal(signal.SIGTERM, lambda *_args: _stop(server, worker))
        _wait_for_port(args.port, server)
        operator = {name: env[name] for name in OPERATOR_SETTINGS if env.get(name)}
        operator.update(
            ZAMMAD_URL=emulator.url, ZAMMAD_AGENT_TOKEN=zammad_token, ZAMMAD_ADMIN_TOKEN=zammad_admin_token
        )
        print(
            _banner(
                args,
                settings,
                dynamodb_port,
                emulator.url,
                chatbot.url,
                channel.ws_url,
                operator,
                fcm.url,
                web_push.url,
            ),
            flush=True,
        )
        code = server.wait()
        if code not in (0, -signal.SIGTERM):
            print("make dev: the API server stopped (exit code %s); stopping everything" % code, flush=True)
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(server, worker)
        if channel is not None:
            channel.stop()
        emulator.stop()
        chatbot.stop()
        fcm.stop()
        web_push.stop()
        moto.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        print("stopped", flush=True)


def _stop(*processes: subprocess.Popen | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _banner(
    args,
    settings,
    dynamodb_port: int,
    zammad: str,
    chatbot: str,
    ws_url: str,
    operator: dict,
    fcm: str = "",
    web_push: str = "",
) -> str:
    import shlex

    secret = settings.jwt_secret or ""
    admin = issue_hs256_token(secret, "dev-admin", ["admin"], name="Dev Admin")
    # Two authors, so that two terminals (or browser windows) can talk to each other.
    alice = issue_hs256_token(secret, "dev-alice", ["author"], name="Alice Author", email="alice@example.org")
    bob = issue_hs256_token(secret, "dev-bob", ["author"], name="Bob Author", email="bob@example.org")
    return """
Integreat Chat is running.
  API             %(api)s
  DynamoDB (moto) http://127.0.0.1:%(ddb)d
  Zammad emulator %(zammad)s   (agent replies: POST %(zammad)s/_emulator/tickets/<id>/articles)
  chatbot         %(chatbot)s   (emulated integreat-chat; answers after %(delay)s s)
  WebSocket       %(ws)s   (real time: send {"action": "subscribe", "region", "language", "device_id"})
  FCM stand-in    %(fcm)s   (what arrived: GET %(fcm)s/_standin/messages)
  Web Push        %(web_push)s   (a browser's push service: POST /_standin/subscribe, GET /_standin/received)
  demo region     %(region)s
  demo device id  %(device)s
  admin token     %(admin)s
  author tokens   %(alice)s
                  %(bob)s
  (tokens are signed with this run's random AUTH_JWT_SECRET; set it to keep tokens across runs)

Try, the app user chat:
  curl %(api)s/api/v3/%(region)s/%(device)s/is_chat_enabled/
  curl -F message=Hallo %(api)s/api/v3/%(region)s/de/chat/%(device)s/
  curl %(api)s/api/v3/%(region)s/de/chat/%(device)s/
      (chatbot_typing is true until the automatic answer arrives; "I want a human" hands over;
       write in /en/ instead of /de/ and agents get a translation note, you a translated reply)
  curl -X POST -H "Content-Type: application/json" -d '{"body": "<p>Hallo vom Team</p>"}' \\
       %(zammad)s/_emulator/tickets/1/articles
  files (docs/files.md), once the chat has begun: an upload form, the file straight to S3
  (moto), then the message that names it
  curl -d filename=Brief.pdf -d content_type=application/pdf -d size=<bytes> \\
       %(api)s/api/v3/%(region)s/de/chat/%(device)s/attachments/
  curl <each upload.fields as -F name=value> -F file=@Brief.pdf <upload.url>
  curl -F message="Was steht hier?" -F attachments=<id> %(api)s/api/v3/%(region)s/de/chat/%(device)s/
push (docs/push.md), once the chat has begun: register the device, let an agent reply, poll
  nothing, and after PUSH_DELAY_SECONDS (%(delay_push)d s) the push has arrived at the FCM stand-in
  curl -H "Content-Type: application/json" -d '{"fcm_token": "dev-fcm-token-of-the-demo-device"}' \\
       %(api)s/api/v3/%(region)s/de/chat/%(device)s/push/
  curl -X POST -H "Content-Type: application/json" -d '{"body": "<p>Antwort des Teams</p>"}' \\
       %(zammad)s/_emulator/tickets/1/articles
  sleep %(wait_push)d; curl %(fcm)s/_standin/messages
the author chat widget, as two authors (open both, side by side):
  %(api)s/api/v3/author-chat/widget/index.html#token=%(alice)s
  %(api)s/api/v3/author-chat/widget/index.html#token=%(bob)s
the author chat API (the body's field is "text"):
  curl -H "Authorization: Bearer %(alice)s" -H "Content-Type: application/json" \\
       -d '{"text": "Hallo aus Augsburg"}' %(api)s/api/v3/author-chat/messages
  curl -H "Authorization: Bearer %(bob)s" %(api)s/api/v3/author-chat/messages
the admin API, and the health checks (the deep one with the admin token):
  curl -H "Authorization: Bearer %(admin)s" %(api)s/api/v3/admin/regions/%(region)s
  curl %(api)s/api/v3/health
  curl -H "Authorization: Bearer %(admin)s" %(api)s/api/v3/admin/health
the metrics (Prometheus' text format; docs/operating.md, "What to watch"):
  curl %(api)s/metrics
the operator's commands (docs/operating.md) on this run, in another shell in this checkout:
  . .venv/bin/activate
  export %(operator)s
  python -m functions.manage doctor --region %(region)s
  (ZAMMAD_URL, ZAMMAD_AGENT_TOKEN and ZAMMAD_ADMIN_TOKEN: the emulated Zammad, for "A new region")
Ready. Ctrl-C stops everything.""" % {
        "operator": " ".join("%s=%s" % (name, shlex.quote(value)) for name, value in operator.items()),
        "api": "http://127.0.0.1:%d" % args.port,
        "ddb": dynamodb_port,
        "zammad": zammad,
        "chatbot": chatbot,
        "ws": ws_url,
        "fcm": fcm,
        "web_push": web_push,
        "delay_push": settings.push_delay_seconds,
        "wait_push": settings.push_delay_seconds + 3,
        "delay": args.chatbot_delay,
        "region": DEMO_REGION,
        "device": uuid.uuid4(),
        "admin": admin,
        "alice": alice,
        "bob": bob,
    }


if __name__ == "__main__":
    main()
