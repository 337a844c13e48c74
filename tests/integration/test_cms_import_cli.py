"""`python -m functions.manage import-cms` as an operator runs it, on DynamoDB Local: a bad
dump writes nothing, `--dry-run` writes nothing, a run stopped in the middle finishes when
run again and ends where one whole run ends."""

import json
import signal
import subprocess
import sys
import time

import pytest

from chalicelib.platform.config import load_settings
from chalicelib.storage.connection import bind_models
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from tests.conftest import PROJECT, python_env, unique_prefix
from tests.support import cms

TABLES = ("regions", "user-chats", "chat-assignments", "author-messages")
ZAMMAD = "https://zammad.example"


@pytest.fixture
def env(dynamodb_local):
    values = {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local, "CHAT_TABLE_PREFIX": unique_prefix()}
    bind_models(ALL_MODELS, load_settings(values))
    create_tables(ALL_MODELS)
    return values


def tables(env):
    return {name: cms.scan(env, name) for name in TABLES}


def written(env):
    return sum(len(items) for items in tables(env).values())


def test_a_dump_with_a_refused_record_writes_nothing_unless_told(env, tmp_path):
    def bad(dump):
        next(r for r in dump if r["model"] == "cms.userchat")["fields"]["zammad_id"] = "12"

    path = cms.dump_file(tmp_path / "dump.json", time.time(), ZAMMAD, bad)
    refused = cms.manage(env, "import-cms", str(path))
    assert refused.returncode == 1
    assert "refused: cms.userchat 1: its zammad_id '12' is not a ticket id" in refused.stderr
    assert "nothing was written" in refused.stderr and written(env) == 0
    partly = cms.manage(env, "import-cms", str(path), "--skip-refused")
    assert partly.returncode == 2 and "augsburg" in partly.stdout
    assert len(cms.scan(env, "user-chats")) == 5  # the other live chats


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_region_whose_webhook_token_another_holds_here_is_refused_before_any_write(env, tmp_path, dry_run):
    """It was refused only when its turn came, after other regions were written, and the
    dry run found nothing: every check now comes before the first write."""
    taken = next(r for r in cms.records(time.time(), ZAMMAD) if r["fields"].get("slug") == "muenchen")
    token = taken["fields"]["zammad_webhook_token"]
    held = cms.manage(
        env,
        "region",
        "put",
        "elsewhere",
        "--name",
        "Elsewhere",
        "--webhook-token",
        token,
        "--webhook-secret",
        "s" * 32,
    )
    assert held.returncode == 0, held.stderr
    before = written(env)
    path = cms.dump_file(tmp_path / "dump.json", time.time(), ZAMMAD)
    refused = cms.manage(env, "import-cms", str(path), *(["--dry-run"] if dry_run else []))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        "refused: cms.region muenchen: zammad_webhook_token is already used by another region."
        in refused.stderr
    )
    assert "nothing was written" in refused.stderr and written(env) == before


def test_a_file_that_is_no_dump_says_so_and_writes_nothing(env, tmp_path):
    path = tmp_path / "dump.json"
    path.write_bytes(json.dumps(cms.records(time.time(), ZAMMAD)).encode()[:5000])
    answer = cms.manage(env, "import-cms", str(path))
    assert answer.returncode == 1 and "was the dump cut off?" in answer.stderr and written(env) == 0


def test_a_dry_run_writes_nothing_and_says_what_it_would(env, tmp_path):
    path = cms.dump_file(tmp_path / "dump.json", time.time(), ZAMMAD)
    dry = cms.manage(env, "import-cms", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert written(env) == 0
    assert "dry run, nothing written" in dry.stdout and "author chat: 4 new" in dry.stdout
    [augsburg] = [line.split() for line in dry.stdout.splitlines() if line.startswith("augsburg")]
    assert augsburg[1:4] == ["written", "4", "0"]  # settings to write, 4 chats to import, 0 here


def test_a_run_stopped_midway_finishes_when_run_again(env, dynamodb_local, tmp_path):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(cms.synthetic(1200, time.time(), ZAMMAD)))
    process = subprocess.Popen(
        [sys.executable, "-m", "functions.manage", "import-cms", str(path)],
        cwd=str(PROJECT),
        env=python_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_progress = process.stderr.readline()  # "imported 500 of 2428 records"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert first_progress.startswith("imported 500 of")
    stopped = len(cms.scan(env, "user-chats"))
    assert 0 < stopped < 1206  # some chats, not all
    again = cms.manage(env, "import-cms", str(path))
    assert again.returncode == 0, again.stderr
    after_both = tables(env)
    assert len(after_both["user-chats"]) == 1206 and len(after_both["chat-assignments"]) == 1216

    whole = dict(env, CHAT_TABLE_PREFIX=unique_prefix())  # one uninterrupted run, for comparison
    bind_models(ALL_MODELS, load_settings(whole))
    create_tables(ALL_MODELS)
    assert cms.manage(whole, "import-cms", str(path)).returncode == 0
    in_one = tables(whole)
    for name in ("user-chats", "author-messages"):
        assert after_both[name] == in_one[name], name
    draws = [{k: v for k, v in item.items() if k != "expires_at"} for item in after_both["chat-assignments"]]
    assert draws == [
        {k: v for k, v in item.items() if k != "expires_at"} for item in in_one["chat-assignments"]
    ]


def test_what_a_dump_holds_is_printed_escaped(env, tmp_path):
    """A record's key and a model's name with escape sequences could clear the operator's
    screen and print lines of their own; they are shown escaped."""

    def hostile(dump):
        dump.append({"model": "\x1b[2J\x1b[Hcms.page", "pk": 1, "fields": {}})
        dump.append({"model": "cms.userchat", "pk": "7\nrefused: nothing; all is well\r", "fields": {}})

    path = cms.dump_file(tmp_path / "dump.json", time.time(), ZAMMAD, hostile)
    shown = cms.manage(env, "import-cms", str(path), "--dry-run", "--skip-refused")
    said = shown.stdout + shown.stderr
    assert "\x1b" not in said and "\r" not in said, said
    assert "\\x1b[2J\\x1b[Hcms.page" in said
    assert (
        "refused: cms.userchat 7\\nrefused: nothing; all is well\\r: its pk is not a positive integer" in said
    )
    assert not any(line.startswith("refused: nothing") for line in said.splitlines())
