"""Regions in step with the CMS: a stand-in CMS serves its regions endpoint in the CMS's
shape, `python -m functions.manage region sync` follows it, and the running app then
answers 404/503 exactly where the app would not offer the chat."""

import json
import uuid

import pytest
import requests

from devtools.cms_standin import CmsStandIn, cms_region
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import python_env, run_python, running_api
from tests.support.regions import put_region


@pytest.fixture
def world(dynamodb_local, tmp_path):
    with (
        CmsStandIn() as cms,
        ZammadEmulator(token="t") as zammad,
        running_api(dynamodb_local, tmp_path / "app.log", CMS_URL=cms.url) as (url, admin, env),
    ):
        yield url, admin, env, cms, zammad


def put(world, slug, **fields):
    url, admin, _env, _cms, zammad = world
    put_region(url, admin, zammad, slug, **fields)


def sync(world):
    result = run_python("-m", "functions.manage", "region", "sync", env=python_env(**world[2]))
    return result.returncode, json.loads(result.stdout)


def chat(world, slug):
    response = requests.get("%s/api/v3/%s/de/chat/%s/" % (world[0], slug, uuid.uuid4()), timeout=10)
    return response.status_code, response.json()["error"]


def test_the_app_is_answered_as_the_cms_lists_and_shows_the_chat(world):
    url, admin, _env, cms, _zammad = world
    for slug in ("augsburg", "muenchen", "alt"):
        put(world, slug)
    cms.regions = [
        cms_region(
            "augsburg", "Augsburg", chat=True, privacy_policy="https://augsburg.de/privacy", region_id=1
        ),
        cms_region("muenchen", "München", chat=False, region_id=2),
        cms_region("neu", "Neustadt", chat=True, region_id=3),
        {"path": 7, "name": "broken"},  # not the CMS's shape: skipped, not fatal
    ]
    status, report = sync(world)
    assert status == 0, report
    assert report == {
        "job": "sync-cms-regions",
        "listed": 3,
        "created": ["neu"],
        "unlisted": ["alt"],
        "chat_not_served_here": ["neu"],  # the CMS shows it; its Zammad is not set here yet
        "unusable_entries": 1,
    }
    assert chat(world, "augsburg") == (404, "Chat not found.")  # served: no chat yet
    assert chat(world, "muenchen") == (503, "No chat server is configured for your region.")
    assert chat(world, "neu") == (503, "No chat server is configured for your region.")
    assert chat(world, "alt") == (404, "Region not found.")
    region = requests.get(url + "/api/v3/admin/regions/augsburg", headers=admin, timeout=10).json()
    assert (region["name"], region["zammad_privacy_policy"]) == (
        "Stadt Augsburg",
        "https://augsburg.de/privacy",
    )
    assert (region["cms_listed"], region["cms_chat_enabled"], region["zammad_access_token_set"]) == (
        True,
        True,
        True,
    )
    assert region["cms_synced_at"] is not None


def test_a_cms_that_cannot_be_read_changes_nothing(world):
    _url, _admin, _env, cms, _zammad = world
    put(world, "augsburg")
    cms.regions = [cms_region("augsburg", "Augsburg", chat=True)]
    assert sync(world)[0] == 0
    cms.set_fault(status=502, body=b"<html>Bad Gateway</html>", count=1)
    status, report = sync(world)
    assert status == 1 and report["failed"] == "/api/v3/regions/: status 502"
    cms.regions = []  # a CMS that lists nothing is broken, not empty
    status, report = sync(world)
    assert status == 1 and report["failed"] == "/api/v3/regions/: the CMS listed no region"
    cms.regions = "not a list"  # type: ignore[assignment]
    assert sync(world)[1]["failed"] == "/api/v3/regions/: not a list"
    assert chat(world, "augsburg") == (404, "Chat not found.")  # still served


def test_without_cms_url_the_sync_says_so(dynamodb_local):
    from tests.conftest import unique_prefix

    env = python_env(AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local, CHAT_TABLE_PREFIX=unique_prefix())
    result = run_python("-m", "functions.manage", "region", "sync", env=env)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"job": "sync-cms-regions", "skipped": "CMS_URL is not set"}
