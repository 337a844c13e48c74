"""The scheduled jobs on DynamoDB Local: from the command line and from the Chalice app's
schedule events, with the same result; safe to run twice and at the same time."""

import json
import subprocess
import sys
import time

from chalice.test import Client

from chalicelib.api import ChatApi
from chalicelib.author_chat.store import AuthorMessageRecord
from chalicelib.platform.config import load_settings
from chalicelib.platform.times import utc_datetime
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.user_chat.records import UserChatRecord
from tests.conftest import PROJECT, python_env, run_python, unique_prefix
from tests.support import author_history

DAY = 86400


def world(endpoint):
    """Fresh tables holding 30 expired and 5 current author messages, 6 expired and 4
    active user chats in two regions. Returns the environment that names them."""
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "CHAT_TABLE_PREFIX": unique_prefix(),
        "AUTHOR_CHAT_HISTORY_DAYS": "7",
    }
    api = ChatApi(aws_services(load_settings(env)))
    create_tables(ALL_MODELS)
    now = time.time()
    api.services.regions.put("one", {})
    api.services.regions.put("two", {})
    author_history.seed(now, old=30, recent=5, window_days=7)
    for index in range(10):
        region, active = ("one", index < 2) if index < 8 else ("two", True)
        last = now - (DAY if active else 40 * DAY)
        UserChatRecord(
            "%s#device-%d" % (region, index),
            region_slug=region,
            state="open",
            language="de",
            ticket_id=index + 1,
            last_activity=last,
            expires_at=utc_datetime(last + 30 * DAY),
        ).save()
    return env, api


EXPECTED = [
    {  # regions without a Zammad here: nothing to close; no bucket: no files
        "job": "forget-expired-chats",
        "regions": 2,
        "forgotten": 6,
        "files": 0,
        "closed": 0,
        "deleted": 0,
        "tagged": 0,
        "zammad_failed": 0,
        "dry_run": False,
    },
    {"job": "purge-author-messages", "deleted": 30},
    {"job": "sync-cms-regions", "skipped": "CMS_URL is not set"},  # tests/integration/test_cms_sync.py
    {"job": "zammad-doctor", "regions": 0, "failing": 0},  # tests/integration/test_zammad_doctor.py
]


def cli(env, job="all"):
    result = run_python("-m", "functions.jobs", job, env=python_env(**env))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_help_lists_the_jobs():
    result = run_python("-m", "functions.jobs", "--help")
    assert result.returncode == 0
    assert "purge-author-messages" in result.stdout and "forget-expired-chats" in result.stdout


def test_the_command_line_and_the_schedule_do_the_same(dynamodb_local):
    env, _ = world(dynamodb_local)
    assert cli(env) == EXPECTED
    assert AuthorMessageRecord.count("room") == 5
    assert sorted(chat.chat_key for chat in UserChatRecord.scan()) == [
        "one#device-0",
        "one#device-1",
        "two#device-8",
        "two#device-9",
    ]
    assert cli(env) == [dict(EXPECTED[0], forgotten=0), dict(EXPECTED[1], deleted=0), *EXPECTED[2:]]  # twice

    import app as app_module

    _env, app_module.api = world(dynamodb_local)
    with Client(app_module.app) as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        reports = [
            client.lambda_.invoke(name, event).payload
            for name in ("forget_expired_chats", "purge_author_messages", "sync_cms_regions", "zammad_doctor")
        ]
    assert reports == EXPECTED
    assert AuthorMessageRecord.count("room") == 5


def test_two_runs_at_the_same_time_are_safe(dynamodb_local):
    env, _ = world(dynamodb_local)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "functions.jobs", "all"],
            cwd=str(PROJECT),
            env=python_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for stdout, _ in outputs:
        reports = [json.loads(line) for line in stdout.splitlines()]
        assert reports[0]["forgotten"] <= 6 and reports[1]["deleted"] <= 30
    assert AuthorMessageRecord.count("room") == 5
    assert len(list(UserChatRecord.scan())) == 4
