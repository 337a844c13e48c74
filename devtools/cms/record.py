"""Record what the real Integreat CMS writes and answers (issue 27), as test fixtures:

    python -m devtools.cms.record --cms-venv /tmp/cms/venv --out tests/fixtures/cms

Not run by `make test`: it needs integreat-cms (PyPI, Python 3.13) installed in a venv of
its own, PostgreSQL and Redis on loopback (docs/migrating.md, "Recording the CMS"). It
drops and re-creates the CMS's database `INTEGREAT_CMS_DB_NAME`, migrates it, seeds it
(devtools/cms/seed.py, the CMS's own models), serves the CMS (`runserver`), and drives the
app's API against it with the Zammad emulator as the regions' Zammad: draws, chats, a
language change, an agent's answer, a chat that expired and one that began again. Then it
dumps the models the import reads (`integreat-cms-cli dumpdata`) and writes:

- `dump.json`: the CMS's dump, as it wrote it;
- `zammad.json`: the emulator's tickets and articles behind those chats;
- `answers.json`: what the CMS answered, per device, to `is_chat_enabled` and to a poll.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from devtools.zammad_emulator import ZammadEmulator

HERE = Path(__file__).resolve().parent
MODELS = ["cms.region", "cms.language", "cms.userchat", "cms.abtester", "cms.chatmessage", "cms.user"]
# What a Zammad set up for the chat holds (integreat-chat's ZAMMAD_CONFIG.md): the CMS
# reads both from every ticket.
TICKET_ATTRIBUTES = {"automatic_answers": False, "evaluation_consent": False}

# Sets the past where the CMS's `auto_now` fields do not let an API call set it.
AGE_CHAT = """
from django.utils import timezone
from integreat_cms.cms.models import UserChat
UserChat.objects.filter(device_id={device!r}).update(
    created_timestamp=timezone.now() - timezone.timedelta(days={days}, hours=1),
    last_message_timestamp=timezone.now() - timezone.timedelta(days={days}),
)
"""


def cli(venv: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "integreat-cms-cli"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
        check=False,
    )
    if done.returncode != 0:
        sys.exit("integreat-cms-cli %s failed:\n%s" % (" ".join(args), done.stderr[-3000:]))
    return done.stdout


def reset_database() -> None:
    connection = [
        "-h",
        os.environ.get("INTEGREAT_CMS_DB_HOST", "localhost"),
        "-p",
        os.environ.get("INTEGREAT_CMS_DB_PORT", "5432"),
        "-U",
        os.environ.get("INTEGREAT_CMS_DB_USER", "integreat"),
    ]
    name = os.environ.get("INTEGREAT_CMS_DB_NAME", "integreat")
    for statement in ("DROP DATABASE IF EXISTS %s" % name, "CREATE DATABASE %s" % name):
        subprocess.run(["psql", *connection, "-d", "postgres", "-c", statement], check=True)


class Cms:
    """The CMS's app API, as the Integreat app calls it."""

    def __init__(self, url: str):
        self.url = url

    def is_chat_enabled(self, region: str, device: str) -> dict[str, Any]:
        answer = requests.get("%s/api/v3/%s/%s/is_chat_enabled/" % (self.url, region, device), timeout=30)
        return {"status": answer.status_code, "body": answer.json()}

    def send(self, region: str, language: str, device: str, text: str) -> dict[str, Any]:
        answer = requests.post(
            "%s/api/v3/%s/%s/chat/%s/" % (self.url, region, language, device),
            data={"message": text},
            timeout=30,
        )
        if answer.status_code != 200:
            sys.exit("the CMS answered %d to a message: %s" % (answer.status_code, answer.text[:500]))
        return answer.json()

    def poll(self, region: str, language: str, device: str) -> dict[str, Any]:
        answer = requests.get("%s/api/v3/%s/%s/chat/%s/" % (self.url, region, language, device), timeout=30)
        return {"status": answer.status_code, "body": answer.json()}


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.5)
    sys.exit("the CMS did not answer at %s" % url)


def drive(cms: Cms, zammad: ZammadEmulator, venv: Path) -> dict[str, Any]:
    """The scenario; returns each device's region, language and role in it."""
    devices: dict[str, dict[str, Any]] = {}

    def device(role: str, region: str, language: str) -> str:
        device_id = str(uuid.uuid4())
        devices[device_id] = {"role": role, "region": region, "language": language, "drawn": False}
        return device_id

    def draw(region: str, device_id: str) -> None:
        cms.is_chat_enabled(region, device_id)
        devices[device_id]["drawn"] = True

    # Draws: half of Augsburg's devices see the chat, every one of Munich's.
    for number in range(12):
        draw("augsburg", device("draw %d" % number, "augsburg", "de"))
    for number in range(2):
        draw("muenchen", device("draw %d" % number, "muenchen", "de"))
    draw("nuernberg", device("draw, region without chat", "nuernberg", "de"))

    waiting = device("waiting for an answer", "augsburg", "de")
    draw("augsburg", waiting)
    cms.send("augsburg", "de", waiting, "Hallo, ich habe eine Frage zur Kita-Anmeldung.")
    answered = device("answered by an agent", "augsburg", "de")
    cms.send("augsburg", "de", answered, "Wo bekomme ich einen Termin beim Bürgeramt?")
    ticket = max(zammad.tickets)
    zammad.add_article(
        ticket, "<p>Guten Tag! Termine gibt es online unter <b>termine.augsburg.example</b>.</p>"
    )
    cms.send("augsburg", "de", answered, "Danke, das hat geklappt 👍")
    switched = device("changed the app's language", "augsburg", "en")
    cms.send("augsburg", "ar", switched, "مرحبا، أحتاج إلى مساعدة في السكن")
    cms.send("augsburg", "en", switched, "Hello, I need help with housing")
    quiet = device("last message 10 days ago", "muenchen", "de")
    cms.send("muenchen", "de", quiet, "Gibt es Deutschkurse am Abend?")
    cli(venv, "shell", stdin=AGE_CHAT.format(device=quiet, days=10))
    expired = device("expired: 40 days without a message", "muenchen", "en")
    cms.send("muenchen", "en", expired, "Is the office open on Saturday?")
    cli(venv, "shell", stdin=AGE_CHAT.format(device=expired, days=40))
    again = device("expired, then began again (two chats)", "muenchen", "de")
    cms.send("muenchen", "de", again, "Erste Frage, vor langer Zeit.")
    cli(venv, "shell", stdin=AGE_CHAT.format(device=again, days=35))
    cms.send("muenchen", "de", again, "Neue Frage: wie melde ich mich um?")
    # A chat in each of the CMS's languages: de and en above, ar here (the device above
    # that wrote in ar switched to en). Last, so the chats and tickets above keep their ids.
    arabic = device("stayed in Arabic, with an agent's reply", "augsburg", "ar")
    cms.send("augsburg", "ar", arabic, "مرحبا، أين أجد دورة لغة ألمانية؟")
    zammad.add_article(max(zammad.tickets), "<p>أهلاً! الدورات في <b>مركز المدينة</b>، من الاثنين.</p>")
    cms.send("augsburg", "ar", arabic, "شكراً جزيلاً")
    return devices


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.cms.record", description=__doc__)
    parser.add_argument("--cms-venv", type=Path, required=True, help="the venv integreat-cms is installed in")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/cms"))
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args()
    venv = args.cms_venv.resolve()
    with ZammadEmulator(token="cms-recording-token", attributes=TICKET_ATTRIBUTES) as zammad:
        env = {"ZAMMAD_URL": zammad.url, "ZAMMAD_TOKEN": zammad.token}
        reset_database()
        cli(venv, "migrate")
        print(cli(venv, "shell", stdin=(HERE / "seed.py").read_text(), env=env).strip().splitlines()[-1])
        server = subprocess.Popen(
            [str(venv / "bin" / "integreat-cms-cli"), "runserver", "127.0.0.1:%d" % args.port, "--noreload"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            cms = Cms("http://127.0.0.1:%d" % args.port)
            wait_for(cms.url + "/api/v3/regions/")
            devices = drive(cms, zammad, venv)
            answers = {}
            for device_id, seen in devices.items():
                region, language = seen["region"], seen["language"]
                answers[device_id] = dict(
                    seen,
                    is_chat_enabled=cms.is_chat_enabled(region, device_id) if seen["drawn"] else None,
                    poll=cms.poll(region, language, device_id),
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
        dump = args.out / "dump.json"
        args.out.mkdir(parents=True, exist_ok=True)
        cli(venv, "dumpdata", *MODELS, "--indent", "1", "--output", str(dump))
        state = zammad.state()
        recorded = {
            "recorded_at": time.time(),
            "cms": "integreat-cms 2026.10.0",
            "token": zammad.token,
            "attributes": TICKET_ATTRIBUTES,
            "tickets": state["tickets"],
            "articles": state["articles"],
        }
        (args.out / "zammad.json").write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")
        (args.out / "answers.json").write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n")
    print("recorded %d devices into %s" % (len(devices), args.out))


if __name__ == "__main__":
    main()
