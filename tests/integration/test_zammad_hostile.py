"""The operator tools against Zammads that misbehave, or hosts that only say they are one (an
imported dump can name any URL): the admin token goes to its own Zammad only, no redirect
is followed, and the checks stay bounded in time and memory and speak in words, never a
500 or a traceback. Each "Zammad" here is a server of a few lines on loopback."""

import time

import pytest
from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from chalicelib.web.http import Request
from chalicelib.zammad_setup.admin import AdminError, ZammadAdmin
from chalicelib.zammad_setup.doctor import Doctor
from tests.conftest import JWT_SECRET
from tests.support.servers import host, json_answer
from tests.support.zammad_operator import add_region, manage


def hanging(seconds):
    def answer(_method, _path):
        time.sleep(seconds)
        return 200, {}, b"{}"

    return answer


# --- the admin token goes to its own Zammad only ------------------------------------------------
def test_doctor_over_every_region_sends_the_admin_token_to_its_zammad_only(operator_env, empty_zammad):
    with host(json_answer({"login": "mallory"})) as (elsewhere, seen):
        add_region(operator_env, empty_zammad.url, "augsburg")
        add_region(operator_env, elsewhere, "imported", token="its-own-token")
        # Which Zammad the admin token is for must be said: it is not sent to every region's.
        unsaid = manage(operator_env, "doctor")
        assert unsaid.returncode == 2 and "ZAMMAD_ADMIN_URL" in unsaid.stderr and not seen
        said = manage(dict(operator_env, ZAMMAD_ADMIN_URL=empty_zammad.url), "doctor", "--json")
        assert said.stdout, said.stderr
    assert seen and {authorization for _m, _p, authorization, _b in seen} == {"Token token=its-own-token"}
    assert "admin-token" not in said.stdout + said.stderr


def test_setup_refuses_to_send_an_admin_token_to_another_zammad(operator_env, empty_zammad):
    with host(json_answer([])) as (elsewhere, seen):
        add_region(operator_env, elsewhere, "imported")
        env = dict(operator_env, ZAMMAD_ADMIN_URL=empty_zammad.url)
        refused = manage(env, "zammad-setup", "--region", "imported")
    assert refused.returncode == 2 and "not sent there" in refused.stderr and seen == []


# --- no redirect is followed -------------------------------------------------------------------
def test_a_redirect_is_an_error_in_words_and_carries_nothing_away(empty_zammad):
    with host(json_answer({"id": 1})) as (thief, stolen):
        location = {"Location": thief + "/api/v1/webhooks"}
        with host(lambda _m, _p: (307, location, b"")) as (redirecting, _seen):
            admin = ZammadAdmin(redirecting, "admin-token", timeout=5, token_name="the admin token")
            secret = {
                "name": "x",
                "endpoint": "https://cms.example.org/?token=url-token",
                "signature_token": "s",
            }
            with pytest.raises(
                AdminError,
                match="redirect \\(307\\) to 127.0.0.1:%d: not followed" % int(thief.rsplit(":", 1)[1]),
            ):
                admin.create("webhooks", secret)
            with pytest.raises(AdminError, match="redirect"):
                admin.list("webhooks")
    assert stolen == []  # neither the body (the secret, the URL token) nor the token went there


def test_setup_stops_at_a_redirecting_zammad_and_says_so(operator_env):
    with host(json_answer({})) as (thief, stolen):
        elsewhere = {"Location": thief + "/api/v1/groups"}
        with host(lambda _m, _p: (307, elsewhere, b"")) as (redirecting, _seen):
            add_region(operator_env, redirecting, "augsburg")
            done = manage(operator_env, "zammad-setup", "--region", "augsburg")
    assert done.returncode == 1 and "redirect" in done.stderr and "not followed" in done.stderr
    assert "set up for the chat" not in done.stdout and stolen == []


# --- bounded, and in words ----------------------------------------------------------------------
def doctor(timeout=10.0, deadline=120.0):
    settings = load_settings({"ZAMMAD_TIMEOUT_SECONDS": str(timeout)})
    return Doctor.for_settings(settings, time.time, deadline_seconds=deadline)


def a_region(url, slug="augsburg"):
    from datetime import UTC, datetime

    from chalicelib.storage.models import RegionRecord

    return RegionRecord(
        slug, name=slug, zammad_url=url, zammad_access_token="t", updated_at=datetime.now(UTC)
    )


HANG = ("not checked within the 1 s", "did not answer within 1 s")  # whichever ends first


def test_a_hanging_zammad_is_told_as_a_hang_once_not_retried():
    with host(hanging(3)) as (url, seen):
        started = time.monotonic()
        [checks] = list(doctor(timeout=1).run([a_region(url)]))
        took = time.monotonic() - started
    assert checks[0].detail == "Zammad at %s did not answer within 1 s" % url
    assert took < 2.5 and len(seen) == 1  # one call of at most the timeout: no retried hang


def test_the_doctor_has_a_deadline_for_all_regions_and_checks_them_side_by_side():
    with host(hanging(5)) as (slow, _seen), host(json_answer({"login": "agent"})) as (fine, _fine):
        regions = [a_region(slow, "slow-%d" % n) for n in range(3)] + [a_region(fine, "fine")]
        started = time.monotonic()
        results = list(doctor(timeout=30, deadline=1.0).run(regions))
        took = time.monotonic() - started
    assert took < 2.0
    for checks in results[:3]:  # by the deadline: its calls are given no more time than is left
        assert not checks[0].ok and any(words in checks[0].detail for words in HANG), checks
    assert results[3][0].ok


@pytest.mark.parametrize("me", [[], "a string", 7])
def test_an_answer_that_is_no_user_is_a_failed_check_in_words(me):
    with host(json_answer(me)) as (url, _seen):
        [checks] = list(doctor().run([a_region(url)]))
    assert not checks[0].ok and "answered users/me with no user" in checks[0].detail


def test_an_answer_over_the_cap_is_not_read():
    big = b"[" + b'{"name": "x"},' * 500_000 + b"{}]"  # 7.5 MB
    with host(lambda _m, path: (200, {}, big) if "webhooks" in path else (200, {}, b'{"login": "a"}')) as (
        url,
        _s,
    ):
        admin = ZammadAdmin(url, "t", timeout=10)
        with pytest.raises(AdminError, match="over 5 MB: not read"):
            admin.list("webhooks")


@pytest.fixture
def api():
    with mock_aws():
        api = ChatApi(
            aws_services(load_settings({"AUTH_JWT_SECRET": JWT_SECRET, "ZAMMAD_TIMEOUT_SECONDS": "30"}))
        )
        create_tables(ALL_MODELS)
        yield api


ADMIN = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "root", ["admin"])}


def test_the_deep_check_names_a_hanging_zammad_within_its_deadline_and_a_list_for_a_user(api, monkeypatch):
    from chalicelib import health

    monkeypatch.setattr(health, "ZAMMAD_SECONDS", 1.0)
    with host(hanging(5)) as (slow, _s), host(json_answer([])) as (odd, _o):
        for slug, url in (("slow", slow), ("odd", odd)):
            api.services.regions.put(
                slug, {"integreat_chat_enabled": True, "zammad_url": url, "zammad_access_token": "t"}
            )
        started = time.monotonic()
        response = api.handle(Request("GET", "/api/v3/admin/health", headers=ADMIN))
        took = time.monotonic() - started
    assert response.status == 200 and response.body["status"] == "failing" and took < 2.5
    details = {check.get("region"): check["detail"] for check in response.body["checks"] if not check["ok"]}
    assert any(words in details["slow"] for words in HANG), details
    assert "answered users/me with no user" in details["odd"]
