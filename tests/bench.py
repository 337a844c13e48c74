"""`make bench`: figures anyone can rerun. Prints, does not assert.

1. Import time of `app` (what a Lambda cold start imports) against importing its bare
   dependencies alone, median of fresh processes, as a ratio.
2. DynamoDB and Zammad calls per request, read from the `Server-Timing` header that the
   client-level counters fill (in process on moto, Zammad emulated over HTTP).
3. Zammad calls per 1,000 polls of an active chat, with and without the webhook.
4. Items the author history query reads on DynamoDB Local with 10,000 expired messages.
5. The chatbot: time from a message to its stored automatic answer through the queue and
   a worker, against the emulated service's delay; calls per answered message.
6. Files: the function's time, peak memory and calls for an upload form, a message with
   files and a download link (moto's S3 and the Zammad emulator in processes of their own,
   so the peak is ours alone).
7. The deployment zip (`make package`): its size, and what is in it by package.
8. Cold starts: the API's and the worker's init from that zip under AWS's runtime interface
   client (a new process each time), their first invocation and the next one.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.support.clock import Clock
from tests.support.signing import hub_signature

PROJECT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "9"))

BARE = "import chalice.app, pynamodb.models, pynamodb.attributes, pynamodb.indexes, requests"
APP = "import app"


# Both in one fresh process: the bare dependencies, then `import app` on top of them, which
# is what our code adds. (Timing `import app` alone in a process of its own swings by 10-20 ms
# with the order its dependencies happen to load in, here on a 2-core VM: noise larger
# than our modules' whole cost.)
_BOTH = (
    "import time; t0 = time.perf_counter(); %s; t1 = time.perf_counter(); %s; "
    "print(t1 - t0, time.perf_counter() - t1)"
)


def import_times():
    """(bare dependencies, what `import app` adds to them), medians over RUNS processes."""
    env = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1", PYTHONDONTWRITEBYTECODE="")
    bare, own = [], []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", _BOTH % (BARE, APP)],
            cwd=str(PROJECT), env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        first, second = map(float, result.stdout.split())
        bare.append(first)
        own.append(second)
    return statistics.median(bare), statistics.median(own)


def package_sizes(out: Path) -> tuple[int, list[tuple[str, int]]]:
    """`make package` into `out`; the zip's bytes and its packages' bytes."""
    from deploy.package import sizes

    subprocess.run(
        ["make", "-s", "package", "STAGE=prod", "OUT=%s" % out],
        cwd=str(PROJECT), check=True, capture_output=True,
    )  # fmt: skip
    path = out / "deployment.zip"
    return path.stat().st_size, sizes(str(path))


def cold_starts(out: Path, runs: int = 5) -> dict[str, tuple[float, float, float]]:
    """From the zip in `out`, unpacked, under awslambdaric (devtools/lambda_runtime.py), on
    moto's server and the emulators: per function, the medians over `runs` new processes of
    its init, its first invocation (a poll; a chatbot job) and the next one, in seconds."""
    import uuid
    import zipfile

    from moto.server import ThreadedMotoServer

    from chalicelib.chatbot.queue import SqsJobQueue
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.connection import bind_models
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from devtools.chatbot_emulator import ChatbotEmulator
    from devtools.lambda_runtime import LambdaFunction, runtime_dir
    from devtools.zammad_emulator import ZammadEmulator
    from tests.rehearsal.events import rest_event, sqs_event
    from tests.support.regions import chat_region

    task = out / "task"
    with zipfile.ZipFile(out / "deployment.zip") as deployment:
        deployment.extractall(task)
    body = json.loads((out / "sam.json").read_text())["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    aws = "http://127.0.0.1:%d" % moto.get_host_and_port()[1]
    try:
        with ZammadEmulator(token="bench") as zammad, ChatbotEmulator() as bot:
            env = {
                "CHAT_TABLE_PREFIX": "bench-%s-" % uuid.uuid4().hex[:6],
                "AWS_ENDPOINT_URL": aws,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_REGION": "eu-central-1",
                "AWS_DEFAULT_REGION": "eu-central-1",
                "INTEGREAT_CHAT_BACKEND_URL": bot.url,
                "API_RATE_LIMIT_WINDOW": "1000000",
            }
            os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # for moto, here too
            settings = load_settings(dict(env, AWS_ENDPOINT_URL_DYNAMODB=aws, AWS_ENDPOINT_URL_SQS=aws))
            bind_models(ALL_MODELS, settings)
            create_tables(ALL_MODELS)
            queue = SqsJobQueue(settings)
            queue.create()
            aws_services(settings).regions.put("bench", chat_region(zammad, chatbot_enabled=True))
            chat = "/api/v3/bench/de/chat/bench-device/"
            form = {"Content-Type": "application/json"}

            def message(api: LambdaFunction) -> dict:
                """A message through `api`; the job it queued, as Lambda's SQS batch."""
                text = json.dumps({"message": "Wo melde ich mich an? (%s)" % uuid.uuid4().hex[:6]})
                api.invoke(rest_event(body, "POST", chat, form, text.encode()))
                [delivery] = queue.receive(wait_seconds=1)
                queue.delete(delivery.receipt)
                arn = "arn:aws:sqs:eu-central-1:123456789012:" + settings.chatbot_queue_name
                return sqs_event(arn, [{"MessageId": str(uuid.uuid4()), "Body": delivery.body}])

            def function(handler: str) -> LambdaFunction:
                return LambdaFunction(task, handler, env, runtime_dir(), timeout_seconds=100)

            figures: dict[str, list[tuple[float, float, float]]] = {"api": [], "worker": []}
            with function("app.app") as sender:
                message(sender)  # the chat exists before the first poll is timed
                for _ in range(runs):
                    with function("app.app") as api:
                        first = api.invoke(rest_event(body, "GET", chat)).seconds
                        figures["api"].append(
                            (api.init_seconds, first, api.invoke(rest_event(body, "GET", chat)).seconds)
                        )
                    jobs = [message(sender), message(sender)]
                    with function("app.chatbot_worker") as worker:
                        first = worker.invoke(jobs[0]).seconds
                        figures["worker"].append((worker.init_seconds, first, worker.invoke(jobs[1]).seconds))
    finally:
        moto.stop()
    return {
        name: tuple(statistics.median(run[i] for run in runs_of) for i in range(3))  # type: ignore[misc]
        for name, runs_of in figures.items()
    }


def _calls(header: str):
    return {kind: int(count) for kind, count in re.findall(r'(\w+);desc="(\d+) calls?"', header)}


def _units(header: str):
    """DynamoDB's consumed (read, write) capacity units, from Server-Timing."""
    found = dict(re.findall(r'(rcu|wcu);desc="([\d.]+) \w+ units"', header))
    return float(found.get("rcu", 0)), float(found.get("wcu", 0))


def calls_per_request(endpoint: str | None = None):
    """Each kind of request once, in process: on moto, or on DynamoDB Local (`endpoint`),
    which also reports the capacity units each consumed."""
    from contextlib import nullcontext

    from moto import mock_aws

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-central-1"
    )
    from chalicelib.api import ChatApi
    from chalicelib.platform.auth import issue_hs256_token
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from devtools.zammad_emulator import ZammadEmulator
    from tests.support.regions import chat_region

    secret = "bench-secret-bench-secret-bench-secret"
    admin = {"Authorization": "Bearer " + issue_hs256_token(secret, "bench", ["admin"])}
    clock = Clock(time.time())
    chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
    enabled = "/api/v3/{region}/{language_or_device}/is_chat_enabled"
    device = {"region": "bench", "language_or_device": "de", "device_id": "device-1"}
    other = dict(device, device_id="device-2")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    rows = []
    env = {"AUTH_JWT_SECRET": secret, "SERVER_TIMING": "1"}
    if endpoint:
        env.update(AWS_ENDPOINT_URL_DYNAMODB=endpoint, CHAT_TABLE_PREFIX="bench%d-" % time.time_ns())
    with nullcontext() if endpoint else mock_aws(), ZammadEmulator(token="bench") as zammad:
        api = ChatApi(aws_services(load_settings(env), clock=clock))
        create_tables(ALL_MODELS)
        # As the template deploys it: real time on (events go nowhere here; nobody listens).
        realtime = dict(env, WEBSOCKET_ENDPOINT="http://127.0.0.1:9")
        api_realtime = ChatApi(aws_services(load_settings(realtime), clock=clock))
        cases = [
            (
                "admin: PUT region (new)",
                "PUT",
                "/api/v3/admin/regions/{slug}",
                {"slug": "bench"},
                admin,
                json.dumps(chat_region(zammad, chat_beta_tester_percentage=100)),
            ),
            (
                "admin: PUT region (update)",
                "PUT",
                "/api/v3/admin/regions/{slug}",
                {"slug": "bench"},
                admin,
                '{"name": "Bench"}',
            ),
            ("admin: GET region", "GET", "/api/v3/admin/regions/{slug}", {"slug": "bench"}, admin, ""),
            ("admin: GET regions", "GET", "/api/v3/admin/regions", {}, admin, ""),
            (
                "is_chat_enabled (first, cold)",
                "GET",
                enabled,
                {"region": "bench", "language_or_device": "device-1"},
                {},
                "",
            ),
            (
                "is_chat_enabled (again)",
                "GET",
                enabled,
                {"region": "bench", "language_or_device": "device-1"},
                {},
                "",
            ),
            ("first message (cold instance)", "POST", chat, device, form, "message=Hallo"),
            ("first message (warm)", "POST", chat, other, form, "message=Hallo"),
            ("later message", "POST", chat, device, form, "message=Noch+eine+Frage"),
            ("(warm the real-time instance: not shown)", "GET", chat, device, {}, ""),
            ("later message (real time on)", "POST", chat, device, form, "message=Und+noch+eine"),
            ("poll inside cache window", "GET", chat, device, {}, ""),
            ("+61 s", None, None, None, None, None),
            ("poll after cache window", "GET", chat, device, {}, ""),
            ("poll inside cache window", "GET", chat, device, {}, ""),
        ]
        for label, method, route, params, headers, body in cases:
            if method is None:
                clock.now += 61
                continue
            served_by = api_realtime if "real-time" in label or "real time" in label else api
            response = served_by.handle(
                Request(method, route, params, headers=headers, body=body.encode(), source_ip="127.0.0.1")
            )
            assert response.status == 200, (label, response.body)
            timing = response.headers["Server-Timing"]
            if not label.startswith("("):
                rows.append((label, _calls(timing), _units(timing)))
    return rows


def capacity_per_thousand_polls(endpoint: str) -> tuple[float, float]:
    """On DynamoDB Local: the read and write units of 1,000 polls of one active chat, one per
    15 s (the app's interval), its region's webhook working (no Zammad read)."""
    from chalicelib.api import ChatApi
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from devtools.zammad_emulator import ZammadEmulator
    from tests.support.regions import chat_region

    clock = Clock(time.time())
    chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
    device = {"region": "bench", "language_or_device": "de", "device_id": "device-1"}
    env = {
        "SERVER_TIMING": "1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "CHAT_TABLE_PREFIX": "poll%d-" % time.time_ns(),
    }
    with ZammadEmulator(token="bench") as zammad:
        api = ChatApi(aws_services(load_settings(env), clock=clock))
        create_tables(ALL_MODELS)
        api.services.regions.put("bench", chat_region(zammad))
        api.services.regions.table.mark_webhook_seen("bench", clock.now)  # deliveries arrive
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        api.handle(Request("POST", chat, device, headers=form, body=b"message=Hallo", source_ip="10.0.0.1"))
        reads = writes = 0.0
        for _ in range(1000):
            clock.now += 15
            response = api.handle(Request("GET", chat, device, source_ip="10.0.0.1"))
            assert response.status == 200, response.body
            read, write = _units(response.headers["Server-Timing"])
            reads, writes = reads + read, writes + write
        return reads, writes


def zammad_calls_per_thousand_polls(webhook: bool) -> int:
    """1,000 polls of one active chat, one every 15 s (the app's interval), agents replying
    now and then; with the region's webhook delivering the replies, or without a webhook."""
    from moto import mock_aws

    from chalicelib.api import ChatApi
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from devtools.zammad_emulator import ZammadEmulator
    from tests.support.regions import chat_region

    clock = Clock(time.time())
    chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
    device = {"region": "bench", "language_or_device": "de", "device_id": "device-1"}
    token, secret = "bench-webhook-token-0123456789", "bench-webhook-secret-0123456789"
    with mock_aws(), ZammadEmulator(token="bench") as zammad:
        api = ChatApi(aws_services(load_settings({"SERVER_TIMING": "1"}), clock=clock))
        create_tables(ALL_MODELS)
        api.services.regions.put(
            "bench", chat_region(zammad, zammad_webhook_token=token, zammad_webhook_secret=secret)
        )
        api.handle(
            Request(
                "POST",
                chat,
                device,
                headers={"Content-Type": "application/json"},
                body=b'{"message": "Hallo"}',
                source_ip="127.0.0.1",
            )
        )
        [ticket_id] = zammad.tickets

        def deliver(article):  # as Zammad's trigger does for each new article
            if webhook:
                body = json.dumps({"ticket": zammad.tickets[ticket_id], "article": article}).encode()
                delivered = api.handle(
                    Request(
                        "POST",
                        "/api/v3/webhook/zammad",
                        query={"token": token},
                        headers={"X-Hub-Signature": hub_signature(secret, body)},
                        body=body,
                    )
                )
                assert delivered.status == 200, delivered.body

        deliver(zammad.articles[zammad.tickets[ticket_id]["article_ids"][0]])  # the user's own
        total = 0
        for index in range(1000):
            clock.now += 15
            if index % 100 == 50:  # an agent replies
                deliver(zammad.add_article(ticket_id, "<p>reply %d</p>" % index))
            response = api.handle(Request("GET", chat, device, source_ip="127.0.0.1"))
            assert response.status == 200
            total += _calls(response.headers["Server-Timing"])["zammad"]
        return total


def author_history_reads():
    """On DynamoDB Local: 10,000 messages older than the window but still stored, and 50
    inside it. Items the history query reads (ScannedCount), and the whole GET's calls."""
    from chalicelib.api import ChatApi
    from chalicelib.platform.auth import issue_hs256_token
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from tests.support import author_history, servers

    secret = "bench-secret-bench-secret-bench-secret"
    reader = {"Authorization": "Bearer " + issue_hs256_token(secret, "bob", ["author"])}
    with servers.dynamodb_local() as endpoint:
        now = time.time()
        api = ChatApi(
            aws_services(
                load_settings(
                    {
                        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
                        "AUTH_JWT_SECRET": secret,
                        "AUTHOR_CHAT_HISTORY_DAYS": "7",
                        "SERVER_TIMING": "1",
                    }
                ),
                clock=lambda: now,
            )
        )
        create_tables(ALL_MODELS)
        author_history.seed(now, old=10_000, recent=50, window_days=7)
        _page, _next, scanned = api.services.author_chat.read_page(50, None)
        response = api.handle(
            Request("GET", "/api/v3/author-chat/messages", query={"limit": "50"}, headers=reader)
        )
        assert response.status == 200 and len(response.body["messages"]) == 50
        return scanned, _calls(response.headers["Server-Timing"])["ddb"]


# `manage` as an operator runs it, then its own peak memory (KB) on stderr's last line.
_MANAGE_WITH_PEAK = """
import resource, runpy, sys
sys.argv = ["manage", *sys.argv[1:]]
try:
    runpy.run_module("functions.manage", run_name="__main__")
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def cms_import_rate(chats: int = 10_000):
    """`manage import-cms` of the recorded CMS dump with `chats` more chats (each with a
    draw) into DynamoDB Local, as an operator runs it (its own process): the records it
    writes, records a second for the first run (everything new) and a second run
    (everything found), the dump's MB and the first run's peak memory in MB."""
    import tempfile

    from chalicelib.migration.cms_dump import read_dump
    from chalicelib.platform.config import load_settings
    from chalicelib.storage.connection import bind_models
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from tests.conftest import PROJECT, python_env, unique_prefix
    from tests.support import cms, servers

    with servers.dynamodb_local() as endpoint, tempfile.TemporaryDirectory() as folder:
        env = {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "CHAT_TABLE_PREFIX": unique_prefix()}
        bind_models(ALL_MODELS, load_settings(env))
        create_tables(ALL_MODELS)
        dump = cms.synthetic(chats, time.time(), "https://zammad.example")
        path = Path(folder) / "dump.json"
        path.write_text(json.dumps(dump))
        read = read_dump(path.read_bytes(), time.time(), 30, 30)
        records = len(read.regions) + len(read.chats) + len(read.draws) + len(read.author_messages)
        rates, peaks = [], []
        for _run in range(2):
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-c", _MANAGE_WITH_PEAK, "import-cms", str(path)],
                cwd=str(PROJECT),
                env=python_env(**env),
                capture_output=True,
                text=True,
                check=True,
            )
            rates.append(records / (time.monotonic() - started))
            peaks.append(int(done.stderr.split()[-1]) / 1024)
        return records, rates, path.stat().st_size / 1e6, peaks[0]


def chatbot_figures(delay: float = 1.0, messages: int = 5):
    """In process on moto (DynamoDB and SQS), the worker's loop in a thread, the chatbot
    service and Zammad emulated over HTTP. Returns (median seconds from the POST's answer to
    the stored automatic answer, and the calls of one job, same language and translated)."""
    import threading

    from moto import mock_aws

    from chalicelib.api import ChatApi
    from chalicelib.chatbot.queue import SqsJobQueue
    from chalicelib.platform import metrics
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from devtools.chatbot_emulator import ChatbotEmulator
    from devtools.zammad_emulator import ZammadEmulator
    from functions import worker
    from tests.support.regions import chat_region

    chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
    with mock_aws(), ZammadEmulator(token="bench") as zammad, ChatbotEmulator(delay=delay) as bot:
        settings = load_settings(
            {"SERVER_TIMING": "1", "INTEGREAT_CHAT_BACKEND_URL": bot.url, "API_RATE_LIMIT_WINDOW": "1000000"}
        )
        queue = SqsJobQueue(settings)
        queue.create()
        api = ChatApi(aws_services(settings, queue=queue))
        create_tables(ALL_MODELS)
        api.services.regions.put("bench", chat_region(zammad, chatbot_enabled=True, default_language="de"))

        def request(method, language, device, body=b""):
            params = {"region": "bench", "language_or_device": language, "device_id": device}
            headers = {"Content-Type": "application/json"}
            return api.handle(Request(method, chat, params, headers=headers, body=body, source_ip="10.0.0.1"))

        # Calls of one job, counted at the clients, by running it here.
        jobs = {}
        for language in ("de", "en"):
            sent = request("POST", language, "calls-" + language, b'{"message": "Hallo"}')
            post_calls = _calls(sent.headers["Server-Timing"])
            [delivery] = queue.receive(wait_seconds=0)
            with metrics.collect() as stats:
                api.services.chatbot.run(json.loads(delivery.body))
            queue.delete(delivery.receipt)
            jobs[language] = (post_calls, dict(stats.calls))

        stop = threading.Event()
        consumer = threading.Thread(
            target=worker.consume, args=(api.services, queue), kwargs={"stop": stop, "wait_seconds": 1}
        )
        consumer.start()
        latencies = []
        try:
            for index in range(messages):
                device = "latency-%d" % index
                request("POST", "de", device, b'{"message": "Wo melde ich mich an?"}')
                started = time.perf_counter()
                while request("GET", "de", device).body["chatbot_typing"]:
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - started)
        finally:
            stop.set()
            consumer.join()
        return statistics.median(latencies), jobs


def push_figures():
    """In process on moto, the FCM stand-in and the Zammad emulator over HTTP: the calls of
    a reply's webhook delivery to a chat with a push target, and of its push job (the first
    fetches FCM's access token, the next reuses it), with the job's time in ms."""
    from moto import mock_aws

    from chalicelib import jobs
    from chalicelib.api import ChatApi
    from chalicelib.platform import metrics
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from devtools.fcm_standin import FcmStandIn
    from devtools.zammad_emulator import ZammadEmulator
    from tests.support.memory.chatbot import MemoryJobQueue
    from tests.support.regions import chat_region
    from tests.support.signing import webhook_delivery

    chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
    with mock_aws(), ZammadEmulator(token="bench") as zammad, FcmStandIn() as fcm:
        settings = load_settings(
            {
                "SERVER_TIMING": "1",
                "API_RATE_LIMIT_WINDOW": "1000000",
                "FCM_CREDENTIALS": json.dumps(fcm.service_account()),
                "FCM_URL": fcm.send_url,
            }
        )
        queue = MemoryJobQueue()
        api = ChatApi(aws_services(settings, queue=queue))
        create_tables(ALL_MODELS)
        secret = "bench-webhook-secret-long-enough"
        region = chat_region(zammad, zammad_webhook_token="bench-webhook-token", zammad_webhook_secret=secret)
        api.services.regions.put("bench", region)
        rows = []
        for number in range(2):
            device = "push-%d" % number
            params = {"region": "bench", "language_or_device": "de", "device_id": device}
            headers = {"Content-Type": "application/json"}
            api.handle(Request("POST", chat, params, headers=headers, body=b'{"message": "Hallo"}'))
            api.handle(
                Request(
                    "POST",
                    chat + "/push",
                    params,
                    headers=headers,
                    body=b'{"fcm_token": "%s"}' % (b"t" * 160),
                )
            )
            ticket = max(zammad.tickets)
            article = zammad.add_article(ticket, "<p>Antwort</p>")
            delivered = api.handle(webhook_delivery(zammad, ticket, article, "bench-webhook-token", secret))
            [job] = queue.take()
            started = time.perf_counter()
            with metrics.collect() as stats:
                jobs.run_chatbot_job(api.services, json.dumps(job))
            rows.append(
                (
                    _calls(delivered.headers["Server-Timing"]),
                    dict(stats.calls),
                    (time.perf_counter() - started) * 1000,
                )
            )
        return rows


def file_figures(size: int = 1_000_000):
    """The API in this process (its allocations traced), moto's server (DynamoDB, S3) and the
    Zammad emulator each in a process of their own. Rows of (label, ms, peak KB, calls)."""
    import base64
    import tracemalloc
    from contextlib import ExitStack

    from chalicelib.api import ChatApi
    from chalicelib.attachments.bucket import FileBucket
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from tests.support.files import png, upload
    from tests.support.servers import free_port, wait_for_http

    def serve(*args: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, *args, "--port", str(port)],
            cwd=str(PROJECT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(process.wait, timeout=10)
        stack.callback(process.terminate)
        url = "http://127.0.0.1:%d" % port
        wait_for_http(url, process=process)
        return url

    data = png() + b"\0" * (size - len(png()))  # a PNG of `size` bytes
    chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
    params = {"region": "bench", "language_or_device": "de", "device_id": "files-1"}
    rows = []
    with ExitStack() as stack:
        moto = serve("-m", "moto.server", "--host", "127.0.0.1")
        zammad = serve("-m", "devtools.zammad_emulator", "--token", "bench")
        env = {
            "AWS_ENDPOINT_URL_DYNAMODB": moto,
            "AWS_ENDPOINT_URL_S3": moto,
            "ATTACHMENT_BUCKET": "bench-files",
            "ATTACHMENT_MAX_BYTES": str(size),
            "SERVER_TIMING": "1",
            "API_RATE_LIMIT_WINDOW": "1000000",
            "MESSAGE_CACHE_SECONDS": "0",  # no webhook here: a poll reads the ticket's articles
        }
        settings = load_settings(env)
        api = ChatApi(aws_services(settings))
        create_tables(ALL_MODELS)
        FileBucket(settings).create()
        api.services.regions.put(
            "bench", {"zammad_url": zammad, "zammad_access_token": "bench", "integreat_chat_enabled": True}
        )

        def measured(label, method, template, body=b"", query=None, **extra):
            request = Request(
                method,
                template,
                dict(params, **extra),
                query=query,
                headers={"Content-Type": "application/json"},
                body=body,
                source_ip="10.0.0.2",
            )
            tracemalloc.start()
            started = time.perf_counter()
            response = api.handle(request)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert response.status in (200, 201, 302), (label, response.body)
            rows.append((label, elapsed * 1000, peak / 1000, _calls(response.headers["Server-Timing"])))
            return response.body

        def uploaded(label):
            form = json.dumps({"filename": "Brief.png", "content_type": "image/png", "size": size}).encode()
            body = measured(label, "POST", chat + "/attachments", form)
            assert upload(body, data).status_code == 204  # the app to S3: not through the function
            return body["id"]

        api.handle(
            Request(
                "POST", chat, params, headers={"Content-Type": "application/json"}, body=b'{"message": "x"}'
            )
        )
        measured(
            "upload form (warm)",
            "POST",
            chat + "/attachments",
            json.dumps({"filename": "a.png", "content_type": "image/png", "size": size}).encode(),
        )
        one = uploaded("upload form (again)")
        measured(
            "later message, 1 file",
            "POST",
            chat,
            json.dumps({"message": "Hier", "attachments": [one]}).encode(),
        )
        three = [uploaded("upload form") for _ in range(3)]
        measured(
            "later message, 3 files", "POST", chat, json.dumps({"message": "", "attachments": three}).encode()
        )
        ticket = json.loads(urllib_get(zammad + "/_emulator/state"))["tickets"]
        ticket_id = max(int(key) for key in ticket)
        agent = {
            "body": "Formular",
            "attachments": [
                {"filename": "F.png", "data": base64.b64encode(data).decode(), "mime-type": "image/png"}
            ],
        }
        urllib_post(zammad + "/_emulator/tickets/%d/articles" % ticket_id, agent)
        chat_view = measured("poll that reads the agent's file list", "GET", chat)
        url = chat_view["messages"][-1]["attachments"][0]["url"]
        path, _, query = url.partition("?")
        parts = path.strip("/").split("/")
        link = dict(pair.split("=") for pair in query.split("&"))
        template = chat + "/attachments/{article_id}/{attachment_id}"
        measured(
            "download link, first (copies)",
            "GET",
            template,
            query=link,
            article_id=parts[7],
            attachment_id=parts[8],
        )
        measured(
            "download link, again", "GET", template, query=link, article_id=parts[7], attachment_id=parts[8]
        )
    return rows


_TELEMETRY = "import chalicelib.platform.telemetry, chalicelib.platform.tracing"


def instrumentation_import_ms() -> tuple[float, float]:
    """What the metrics and the trace add to a cold start (the EMF writer is all Lambda
    loads), and what prometheus_client would (gunicorn only), medians over fresh processes."""
    env = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1", PYTHONDONTWRITEBYTECODE="")
    ours, prometheus = [], []
    for _ in range(RUNS):
        for code, into in ((_TELEMETRY, ours), ("import prometheus_client", prometheus)):
            result = subprocess.run(
                [sys.executable, "-c", _BOTH % (BARE + ", json, contextvars", code)],
                cwd=str(PROJECT), env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            into.append(float(result.stdout.split()[1]) * 1000)
    return statistics.median(ours), statistics.median(prometheus)


def instrumentation_per_poll(polls: int = 2000) -> tuple[float, float]:
    """(what measuring and writing a poll's EMF costs, in ms: the work alone, timed over many;
    a poll on moto with METRICS=emf less one with metrics off, medians of interleaved rounds)."""
    from moto import mock_aws

    from chalicelib.api import ChatApi
    from chalicelib.platform import telemetry
    from chalicelib.platform.config import load_settings
    from chalicelib.services import aws_services
    from chalicelib.storage.tables import create_tables
    from chalicelib.tables import ALL_MODELS
    from chalicelib.web.http import Request
    from devtools.zammad_emulator import ZammadEmulator
    from tests.support.regions import chat_region

    with open(os.devnull, "w") as devnull:
        writer = telemetry.EmfWriter(devnull)
        started = time.perf_counter()
        for _ in range(polls):
            with telemetry.measuring(writer) as measures:
                telemetry.count_request(measures, "poll", 200, 1.5)
        alone = (time.perf_counter() - started) * 1000 / polls
        chat = "/api/v3/{region}/{language_or_device}/chat/{device_id}"
        device = {"region": "bench", "language_or_device": "de", "device_id": "device-1"}
        with mock_aws(), ZammadEmulator(token="bench") as zammad:
            api = ChatApi(aws_services(load_settings({"MESSAGE_CACHE_SECONDS": "3600"})))
            create_tables(ALL_MODELS)
            api.services.regions.put("bench", chat_region(zammad))
            body = json.dumps({"message": "Hallo"}).encode()
            api.handle(Request("POST", chat, device, headers={"Content-Type": "application/json"}, body=body))
            rounds: dict[bool, list[float]] = {False: [], True: []}
            for _round in range(10):
                for emf in (False, True):
                    api.services.metrics = writer if emf else None
                    started = time.perf_counter()
                    for _ in range(polls // 10):
                        api.handle(Request("GET", chat, device))
                    rounds[emf].append((time.perf_counter() - started) * 1000 / (polls // 10))
    return alone, statistics.median(rounds[True]) - statistics.median(rounds[False])


def urllib_get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def urllib_post(url: str, body: dict) -> bytes:
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def main() -> None:
    bare, own = import_times()
    print("Import time (median of %d fresh processes)" % RUNS)
    print("  bare dependencies (%s): %.1f ms" % (BARE.replace("import ", ""), bare * 1000))
    print("  import app on top of them: %.1f ms (our modules and the wiring)" % (own * 1000))
    print("  ratio app / bare:          %.3f  (target <= 1.10)" % ((bare + own) / bare))
    telemetry_ms, prometheus_ms = instrumentation_import_ms()
    print("  of which the metrics and the trace (telemetry, tracing): %.2f ms" % telemetry_ms)
    print("  prometheus_client, loaded only with METRICS=prometheus (gunicorn): %.1f ms" % prometheus_ms)
    alone, added = instrumentation_per_poll()
    print("Metrics per request (METRICS=emf, written to /dev/null)")
    print("  measuring and writing a poll's figures: %.3f ms  (target < 0.2 ms)" % alone)
    print("  a poll on moto, emf less off (medians of 10 interleaved rounds): %+.3f ms" % added)
    print()
    import tempfile

    scratch = tempfile.TemporaryDirectory()
    out = Path(scratch.name)
    total, packages = package_sizes(out)
    print(
        "Deployment zip (make package): %.1f MB (24.5 MB before the unused AWS models were left out)"
        % (total / 1e6)
    )
    shown = packages[:8]
    print("  " + ", ".join("%s %.0f KB" % (name, size / 1024) for name, size in shown))
    print("  the rest: %.0f KB in %d more" % (sum(s for _, s in packages[8:]) / 1024, len(packages) - 8))
    print()
    starts = cold_starts(out)
    scratch.cleanup()
    print("Cold start: the zip under awslambdaric, a new process each time (medians of 5; moto, emulators)")
    print("  %-34s %9s %16s %9s" % ("function", "init ms", "first call ms", "next ms"))
    for name, label in (("api", "API (app.app), a poll"), ("worker", "chatbot worker, a job")):
        init, first, warm = starts[name]
        print("  %-34s %9.0f %16.1f %9.1f" % (label, init * 1000, first * 1000, warm * 1000))
    print("  (init: process start to its first request for an event, what Lambda reports as Init")
    print("   Duration, less the sandbox's own start; with the bytecode make package adds: without it")
    print("   every cold start compiled what it imported, 415 ms of init for the API)")
    print()
    print("Calls per request (from Server-Timing; capacity units as DynamoDB Local reports them)")
    print("  %-32s %8s %8s %8s %8s" % ("request", "DynamoDB", "Zammad", "read u.", "write u."))
    from tests.support import servers

    with servers.dynamodb_local() as endpoint:
        measured = calls_per_request(endpoint)
        polls = capacity_per_thousand_polls(endpoint)
    for (label, calls, _), (_, _, (read, write)) in zip(calls_per_request(), measured, strict=True):
        print(
            "  %-32s %8d %8d %8.1f %8.1f" % (label, calls.get("ddb", 0), calls.get("zammad", 0), read, write)
        )
    print("  (targets: poll inside the window <= 2 DynamoDB, 0 Zammad, <= 1 read unit, no write;")
    print(
        "   first message 1 Zammad plus users/me once per region and warm instance; later message 1 Zammad;"
    )
    print("   real time on: the event's query of the connections' index, and when anyone listens a read)")
    print(
        "  1,000 polls of an active chat (15 s apart, webhook working): %.0f read units, %.0f write units"
        % polls
    )
    print("  (targets: <= 1,000 read units, <= 100 write units; a rate-limited request writes nothing)")
    print()
    print("Zammad calls per 1,000 polls of an active chat (one poll per 15 s, 10 agent replies)")
    print("  with the webhook working:   %4d  (target 0)" % zammad_calls_per_thousand_polls(True))
    print(
        "  without a webhook:          %4d  (at most one per MESSAGE_CACHE_SECONDS = 60 s: 250)"
        % zammad_calls_per_thousand_polls(False)
    )
    print()
    scanned, calls = author_history_reads()
    print("Author chat history on DynamoDB Local (10,000 messages past the window, 50 inside)")
    print("  items read by the history query (ScannedCount): %d  (target 50)" % scanned)
    print("  DynamoDB calls of GET /author-chat/messages:     %d  (history, last visit)" % calls)
    print()
    delay = 1.0
    latency, jobs = chatbot_figures(delay)
    print("Chatbot (moto DynamoDB and SQS in process, worker loop in a thread, emulated service)")
    print("  message to stored automatic answer, median: %.2f s (service delay %.2f s)" % (latency, delay))
    print("  %-36s %8s %8s %8s" % ("", "DynamoDB", "Zammad", "SQS"))
    for language, (post_calls, job_calls) in jobs.items():
        label = "same language" if language == "de" else "translated (en, region de)"
        for part, counted in (("first message POST", post_calls), ("its job", job_calls)):
            print(
                "  %-36s %8d %8d %8d"
                % (
                    "%s, %s" % (part, label),
                    counted.get("ddb", 0),
                    counted.get("zammad", 0),
                    counted.get("sqs", 0),
                )
            )
    print("  (a job's Zammad calls: the answer and its sources note, plus the translation note)")
    print()
    size = 1_000_000
    records, (first, second), dump_mb, peak_mb = cms_import_rate()
    print("Import from the CMS (manage import-cms, DynamoDB Local, 10,000 chats and their draws)")
    print("  first run, %d records:  %5.0f records/s" % (records, first))
    print("  second run (all found): %5.0f records/s" % second)
    print(
        "  memory: a %.1f MB dump, peak %.0f MB (the file is read whole; docs/migrating.md)"
        % (dump_mb, peak_mb)
    )
    print()
    print("Push (docs/push.md; in process on moto, the FCM stand-in and Zammad emulated over HTTP)")
    for label, (delivery, job, ms) in zip(("first push", "next push"), push_figures(), strict=True):
        print(
            "  %-10s webhook delivery: DynamoDB %d; its job: DynamoDB %d, push calls %d, %.1f ms"
            % (label, delivery.get("ddb", 0), job.get("ddb", 0), job.get("push", 0), ms)
        )
    print("  (the job is queued with DelaySeconds; the first push also fetches FCM's access token)")
    print()
    print("Files (1 MB PNGs; moto server and the Zammad emulator in processes of their own)")
    print("  %-38s %7s %9s %5s %6s %4s" % ("request", "ms", "peak KB", "S3", "DynamoDB", "Zammad"))
    for label, ms, peak, calls in file_figures(size):
        print(
            "  %-38s %7.1f %9.0f %5d %6d %4d"
            % (label, ms, peak, calls.get("s3", 0), calls.get("ddb", 0), calls.get("zammad", 0))
        )
    print("  (an upload form holds no file: its peak is a few KB whatever the size; a message holds")
    print("   each file with its base64 and the JSON to Zammad; a download is a redirect to S3)")


if __name__ == "__main__":
    main()
