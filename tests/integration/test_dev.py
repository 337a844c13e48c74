"""`make dev`'s program: everything starts, the printed admin token works, Ctrl-C stops all."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from base64 import b64encode

import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.conftest import PROJECT, free_port, python_env
from tests.support.files import pdf, png, upload


def read_lines(stream, lines):
    for line in iter(stream.readline, ""):
        lines.put(line)


def test_dev_serves_the_admin_api_and_stops_cleanly():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.dev",
            "--port",
            str(port),
            "--zammad-port",
            "0",
            "--dynamodb-port",
            "0",
            "--chatbot-port",
            "0",
            "--chatbot-delay",
            "1",
            "--ws-port",
            "0",
            "--fcm-port",
            "0",
            "--web-push-port",
            "0",
        ],
        cwd=str(PROJECT),
        env=python_env(PUSH_DELAY_SECONDS=1),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a shell's background job, which starts with SIGINT ignored: make dev must
        # stop on it all the same. Its own session, so that whatever is left can be killed.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    output = []
    try:
        deadline = time.monotonic() + 90
        while not any(line.startswith("Ready.") for line in output):
            assert time.monotonic() < deadline, "".join(output)
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                assert process.poll() is None, "".join(output)
        text = "".join(output)
        token = re.search(r"admin token\s+(\S+)", text).group(1)
        alice, bob = re.search(r"author tokens\s+(\S+)\s+(\S+)", text).groups()
        # Two authors talk, with the tokens and the body make dev printed.
        said = requests.post(
            "http://127.0.0.1:%d/api/v3/author-chat/messages" % port,
            json={"text": "Hallo aus Augsburg"},
            headers={"Authorization": "Bearer " + alice},
            timeout=10,
        )
        assert said.status_code == 201 and said.json()["sender"]["name"] == "Alice Author"
        heard = requests.get(
            "http://127.0.0.1:%d/api/v3/author-chat/messages" % port,
            headers={"Authorization": "Bearer " + bob},
            timeout=10,
        ).json()
        assert [(m["text"], m["unread"]) for m in heard["messages"]] == [("Hallo aus Augsburg", True)]
        assert '-d \'{"text": "Hallo aus Augsburg"}\'' in text
        # The widget, once per author, ready to open side by side.
        links = re.findall(r"(http://\S+/api/v3/author-chat/widget/index.html)#token=(\S+)", text)
        assert [token for _link, token in links] == [alice, bob]
        page = requests.get(links[0][0], timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        zammad_url = re.search(r"Zammad emulator (http://\S+)", text).group(1)

        response = requests.get(
            "http://127.0.0.1:%d/api/v3/admin/regions" % port,
            timeout=10,
            headers={"Authorization": "Bearer " + token},
        )
        assert response.status_code == 200, response.text
        [demo] = response.json()["regions"]
        assert demo["slug"] == "demo" and demo["chat_configured"] is True
        assert demo["zammad_url"] == zammad_url
        # A person's path: the app writes, the chatbot answers through the queue and the
        # worker (typing meanwhile), an agent answers in "Zammad", the reply arrives
        # through the signed webhook and shows in the next poll without asking Zammad.
        chat = re.search(r"curl -F message=Hallo (\S+)", text).group(1)
        sent = requests.post(chat, files={"message": (None, "Hallo")}, timeout=30)
        assert sent.status_code == 200 and sent.json()["chatbot_typing"] is True
        deadline = time.monotonic() + 20
        while requests.get(chat, timeout=30).json()["chatbot_typing"]:
            assert time.monotonic() < deadline, "no automatic answer"
            time.sleep(0.2)
        [ticket_id] = requests.get(zammad_url + "/_emulator/state", timeout=5).json()["tickets"]
        # Real time: the device subscribes on the WebSocket make dev printed.
        ws_url = re.search(r"WebSocket\s+(ws://\S+)", text).group(1)
        region_slug, _language, _chat, device = chat.rstrip("/").split("/")[-4:]
        subscribe = {"action": "subscribe", "region": region_slug, "language": "de", "device_id": device}
        with connect(ws_url, open_timeout=5) as channel:
            channel.send(json.dumps(subscribe))
            assert json.loads(channel.recv(timeout=5))["type"] == "subscribed"
            reply = requests.post(
                "%s/_emulator/tickets/%s/articles" % (zammad_url, ticket_id),
                json={"body": "<p>Hallo vom Team</p>"},
                timeout=30,
            )
            assert reply.status_code == 201
            assert json.loads(channel.recv(timeout=10))["type"] == "chat"  # the webhook's event
        deadline = time.monotonic() + 10
        while True:
            poll = requests.get(chat, timeout=30)
            if "Hallo vom Team" in poll.text or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        messages = poll.json()["messages"]
        assert [m["automatic_answer"] for m in messages] == [False, True, False]
        assert [messages[0]["content"], messages[2]["content"]] == ["Hallo", "<p>Hallo vom Team</p>"]
        assert 'zammad;desc="0 calls"' in poll.headers["Server-Timing"]
        # Files (docs/files.md): the upload form make dev prints, the file to moto's S3, the
        # message naming it; an agent's PDF back through the webhook, downloaded from S3.
        form_url = re.search(r"size=<bytes> \\\s+(\S+)", text).group(1)
        form = requests.post(
            form_url,
            data={"filename": "Brief.png", "content_type": "image/png", "size": len(png())},
            timeout=10,
        ).json()
        assert upload(form, png()).status_code == 204
        with_file = requests.post(
            chat, files={"message": (None, "Brief"), "attachments": (None, form["id"])}, timeout=30
        )
        assert with_file.json()["messages"][-1]["attachments"][0]["name"] == "Brief.png"
        requests.post(
            "%s/_emulator/tickets/%s/articles" % (zammad_url, ticket_id),
            json={
                "body": "Formular",
                "attachments": [
                    {"filename": "F.pdf", "data": b64encode(pdf()).decode(), "mime-type": "application/pdf"}
                ],
            },
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while "F.pdf" not in requests.get(chat, timeout=30).text:
            assert time.monotonic() < deadline, "no agent file"
            time.sleep(0.2)
        link = requests.get(chat, timeout=30).json()["messages"][-1]["attachments"][0]["url"]
        assert requests.get("http://127.0.0.1:%d%s" % (port, link), timeout=30).content == pdf()
        # Push (docs/push.md), by the lines make dev prints: the device registers, an agent
        # replies, nobody polls, and the push arrives at the FCM stand-in.
        register = re.search(r"-d '(\{\"fcm_token\": [^']+)' \\\s+(\S+/push/)", text)
        registered = requests.post(register.group(2), data=register.group(1), timeout=10,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
        assert registered.status_code == 200 and registered.json() == {"push": "fcm"}, registered.text
        fcm_messages = re.search(r"curl (\S+/_standin/messages)", text).group(1)
        requests.post(
            "%s/_emulator/tickets/%s/articles" % (zammad_url, ticket_id),
            json={"body": "<p>Antwort des Teams</p>"},
            timeout=30,
        )
        deadline = time.monotonic() + 15
        while not requests.get(fcm_messages, timeout=5).json():
            assert time.monotonic() < deadline, "no push at the FCM stand-in"
            time.sleep(0.3)
        [pushed] = requests.get(fcm_messages, timeout=5).json()
        assert pushed["data"] == {"type": "chat", "city_code": region_slug, "language_code": "de"}
        # What happened, in the metrics make dev serves: the API's requests, the worker's
        # answer and real time's events, summed over the three processes.
        metrics_url = re.search(r"curl (\S+/metrics)", text).group(1)
        scraped = requests.get(metrics_url, timeout=10).text
        counted = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(scraped)
            for s in family.samples
        }
        assert counted[("integreat_chat_requests_total", (("kind", "first_message"),))] == 1
        assert counted[("integreat_chat_chatbot_jobs_total", (("outcome", "answered"),))] >= 1
        assert counted[("integreat_chat_realtime_sends_total", (("outcome", "sent"),))] >= 1
        assert requests.get(re.search(r"curl (\S+/api/v3/health)", text).group(1), timeout=10).json() == {
            "status": "ok"
        }
        operators_recipe(text)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            stopped = process.poll() is not None
            try:
                os.killpg(process.pid, signal.SIGKILL)  # whatever of it is left: never left running
            except ProcessLookupError:
                pass
    assert stopped, "make dev did not stop on SIGINT"
    while not lines.empty():
        output.append(lines.get())
    assert "stopped" in "".join(output)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def operators_recipe(banner: str) -> None:
    """docs/operating.md's "A new region in five minutes", its very lines, in the environment
    make dev printed for it: a second region on make dev's Zammad, set up and checked."""
    text = (PROJECT / "docs" / "operating.md").read_text()
    section = text[text.index("## A new region in five minutes") :]
    recipe = section.split("```sh\n", 1)[1].split("```", 1)[0]
    exported = re.search(r"^  export (.+)$", banner, re.M).group(1)
    doctor = re.search(r"^  (python -m functions.manage doctor --region \S+)$", banner, re.M).group(1)
    script = "set -e\nexport %s SLUG=newtown\n%s\n%s\n" % (exported, recipe, doctor)
    env = {
        "PATH": "%s:/usr/bin:/bin" % os.path.dirname(sys.executable),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    ran = subprocess.run(
        ["bash", "-c", script], cwd=str(PROJECT), env=env, capture_output=True, text=True, timeout=180
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.count("nothing to change") == 1 and "FAIL" not in ran.stdout, ran.stdout
    assert re.search(r"create +webhook +Integreat Chat \(newtown\)", ran.stdout), ran.stdout
