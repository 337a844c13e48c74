"""`make dev`: the whole system on this machine, with nothing installed by hand.

Starts an embedded DynamoDB and SQS (moto in server mode), the Zammad emulator and the
chatbot emulator on 127.0.0.1, creates the tables and the chatbot's queue, writes a demo
region that points at the emulators, serves the API with Chalice's local server on
http://127.0.0.1:8000, runs the chatbot's worker (`python -m functions.worker`) beside it
and prints what to try. A message gets an automatic answer after a few seconds, with
`chatbot_typing` true meanwhile. Ctrl-C stops everything.
"""

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid

from moto.server import ThreadedMotoServer

from chalicelib.chatbot.queue import SqsJobQueue
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.regions.service import Regions
from chalicelib.storage.connection import bind_models
from chalicelib.storage.models import ALL_MODELS
from chalicelib.storage.tables import create_tables
from devtools.chatbot_emulator import ChatbotEmulator
from devtools.zammad_emulator import ZammadEmulator

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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.dev", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="API port")
    parser.add_argument("--zammad-port", type=int, default=8001, help="Zammad emulator port (0: any)")
    parser.add_argument("--dynamodb-port", type=int, default=8002, help="moto server port (0: any)")
    parser.add_argument("--chatbot-port", type=int, default=8003, help="chatbot emulator port (0: any)")
    parser.add_argument("--chatbot-delay", type=float, default=3.0, help="seconds the chatbot takes")
    args = parser.parse_args()

    dynamodb_port = args.dynamodb_port or _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_port, verbose=False)
    moto.start()
    zammad_token = secrets.token_urlsafe(24)
    emulator = ZammadEmulator(token=zammad_token, port=args.zammad_port).start()
    chatbot = ChatbotEmulator(port=args.chatbot_port, delay=args.chatbot_delay).start()

    env = dict(os.environ)
    env.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%d" % dynamodb_port,
            "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:%d" % dynamodb_port,
            "INTEGREAT_CHAT_BACKEND_URL": chatbot.url,
            "AWS_ACCESS_KEY_ID": "dev",
            "AWS_SECRET_ACCESS_KEY": "dev",
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "eu-central-1"),
            "SERVER_TIMING": env.get("SERVER_TIMING", "1"),
        }
    )
    env.setdefault("AUTH_JWT_SECRET", secrets.token_urlsafe(32))
    env.pop("AWS_PROFILE", None)
    os.environ.update(env)

    settings = load_settings(env)
    bind_models(ALL_MODELS, settings)
    for line in create_tables(ALL_MODELS):
        print("table " + line)
    print(SqsJobQueue(settings).create())
    webhook_token, webhook_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    Regions().put(
        DEMO_REGION,
        {
            "name": "Demo region",
            "integreat_chat_enabled": True,
            "zammad_url": emulator.url,
            "zammad_access_token": zammad_token,
            "chat_beta_tester_percentage": 100,
            "zammad_webhook_token": webhook_token,
            "zammad_webhook_secret": webhook_secret,
            "chatbot_enabled": True,
            "default_language": "de",
        },
    )
    # Agent replies reach the API as in production: through Zammad's (signed) webhook.
    emulator.configure_webhook(
        "http://127.0.0.1:%d/api/v3/webhook/zammad/?token=%s" % (args.port, webhook_token), webhook_secret
    )

    server = subprocess.Popen(
        [sys.executable, "-m", "devtools.local", "--host", "127.0.0.1", "--port", str(args.port)], env=env
    )
    # Short receives: a worker stopped mid-receive leaves little behind in moto.
    worker = subprocess.Popen([sys.executable, "-m", "functions.worker", "--wait", "2"], env=env)
    stopping: list[bool] = []

    def stop(*_args) -> None:
        if not stopping:
            stopping.append(True)
            server.terminate()
            worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        _wait_for_port(args.port, server)
        admin = issue_hs256_token(settings.jwt_secret or "", "dev-admin", ["admin"], name="Dev Admin")
        api = "http://127.0.0.1:%d" % args.port
        print(
            """
Integreat Chat is running.
  API             %(api)s
  DynamoDB (moto) http://127.0.0.1:%(ddb)d
  Zammad emulator %(zammad)s   (agent replies: POST %(zammad)s/_emulator/tickets/<id>/articles)
  chatbot         %(chatbot)s   (emulated integreat-chat; answers after %(delay)s s)
  demo region     %(region)s
  demo device id  %(device)s
  admin token     %(admin)s

Try:
  curl -H "Authorization: Bearer %(admin)s" %(api)s/api/v3/admin/regions
  curl -H "Authorization: Bearer %(admin)s" %(api)s/api/v3/admin/regions/%(region)s
  curl %(api)s/api/v3/%(region)s/%(device)s/is_chat_enabled/
  curl -F message=Hallo %(api)s/api/v3/%(region)s/de/chat/%(device)s/
  curl %(api)s/api/v3/%(region)s/de/chat/%(device)s/
      (chatbot_typing is true until the automatic answer arrives; "I want a human" hands over;
       write in /en/ instead of /de/ and agents get a translation note, you a translated reply)
  curl -X POST -H "Content-Type: application/json" -d '{"body": "<p>Hallo vom Team</p>"}' \\
       %(zammad)s/_emulator/tickets/1/articles
Ready. Ctrl-C stops everything."""
            % {
                "api": api,
                "ddb": dynamodb_port,
                "zammad": emulator.url,
                "chatbot": chatbot.url,
                "delay": args.chatbot_delay,
                "region": DEMO_REGION,
                "device": uuid.uuid4(),
                "admin": admin,
            },
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for process in (server, worker):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        emulator.stop()
        chatbot.stop()
        moto.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
