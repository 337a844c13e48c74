"""A region's switch from the Integreat CMS (docs/migrating.md), end to end: the dump the
real CMS wrote (tests/fixtures/cms, recorded from integreat-cms 2026.10.0), imported with
`python -m functions.manage import-cms` into DynamoDB Local, then the app's requests over
HTTP to the running app, against the same Zammad the CMS's chats live in (the emulator,
holding the recorded tickets), compared with what the CMS answered."""

import json
import time

import pytest
import requests

from chalicelib.migration.cms_compare import CmsApi, compare
from chalicelib.migration.cms_dump import read_dump
from chalicelib.migration.cms_export import cms_time
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from chalicelib.services import aws_services
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET, running_api
from tests.support import cms

CMS_ONLY_FIELDS = ("ticket_url",)  # the CMS's Zammad URL is another host than ours: compared apart


@pytest.fixture(scope="module")
def switched(dynamodb_local, tmp_path_factory):
    """The app after the import, its Zammad, the import's output and the environment."""
    recorded = cms.recording()
    folder = tmp_path_factory.mktemp("cms")
    with ZammadEmulator(token=recorded["token"]) as zammad:
        cms.load_zammad(zammad)
        with running_api(dynamodb_local, folder / "api.log", API_RATE_LIMIT_WINDOW=100000) as (
            url,
            admin,
            env,
        ):
            dump = cms.dump_file(folder / "dump.json", time.time(), zammad.url)
            imported = cms.manage(env, "import-cms", str(dump))
            assert imported.returncode == 0, imported.stderr
            yield url, admin, env, zammad, imported, dump


def devices(role_part):
    return [(device, seen) for device, seen in cms.answers().items() if role_part in seen["role"]]


def test_each_imported_chat_answers_as_the_cms_did(switched):
    url, _admin, _env, _zammad, _imported, dump = switched
    compared = 0
    languages = set()  # of the chats compared
    for device, seen in cms.answers().items():
        if seen["region"] == "nuernberg":
            continue  # no chat there: both answer 503
        ours = requests.get(
            "%s/api/v3/%s/%s/chat/%s/" % (url, seen["region"], seen["language"], device), timeout=30
        )
        assert ours.status_code == seen["poll"]["status"], (seen["role"], ours.text)
        if ours.status_code != 200:
            assert ours.json() == seen["poll"]["body"]  # {"error": "Chat not found."}
            continue
        theirs = seen["poll"]["body"]
        body = ours.json()
        for field in theirs:
            if field not in CMS_ONLY_FIELDS:
                assert body[field] == theirs[field], (seen["role"], field)
        assert body["ticket_url"].endswith(theirs["ticket_url"].rsplit("/", 1)[1])  # the same ticket
        compared += 1
        languages.add(seen["language"])
    assert compared == 6  # waiting, answered, switched, quiet, began again, Arabic
    # A chat in each of the CMS's languages, so a re-recording cannot drop one (ar did).
    records = json.loads(dump.read_text())
    assert languages == {r["fields"]["slug"] for r in records if r["model"] == "cms.language"}


def test_compare_cms_finds_no_difference_and_sends_nothing(switched):
    _url, _admin, env, _zammad, _imported, _dump = switched
    with cms.CmsReplay() as replay:
        for region, chats, draws in (("augsburg", 4, 13), ("muenchen", 2, 2)):
            compared = cms.manage(
                env, "compare-cms", "--cms", replay.url, "--region", region, "--settle", "0"
            )
            assert compared.returncode == 0, compared.stdout + compared.stderr
            assert "%s: compared %d chats and %d draws with the CMS: 0 difference(s)" % (
                region,
                chats,
                draws,
            ) in (compared.stdout)
        assert replay.requests and all(line.startswith("GET ") for line in replay.requests)


def test_compare_asks_a_differing_chat_again_once_the_cms_cache_ran_out(switched):
    _url, _admin, env, _zammad, _imported, _dump = switched
    services = aws_services(load_settings(env))
    region = services.regions.get("augsburg")
    [(device, _seen)] = devices("answered by an agent")
    with cms.CmsReplay() as replay:
        body = replay.answers[device]["poll"]["body"]
        fresh = list(body["messages"])
        body["messages"] = fresh[:-1]  # the CMS's 60 s cache still holds the chat before its last message
        chats = [(device, "de")]

        def cache_runs_out(seconds):
            assert seconds == 61
            body["messages"] = fresh

        assert compare(CmsApi(replay.url), services.user_chats, region, chats, [], sleep=cache_runs_out) == []
        body["messages"] = fresh[:-1]  # a difference that stays is reported
        [found] = compare(CmsApi(replay.url), services.user_chats, region, chats, [], sleep=lambda _s: None)
        assert found.question == "poll" and found.what.startswith("messages: CMS has ids")


def test_an_imported_chat_goes_on_in_the_same_ticket(switched):
    url, _admin, _env, zammad, _imported, _dump = switched
    [(device, seen)] = devices("answered by an agent")
    tickets = len(zammad.tickets)
    ticket = int(seen["poll"]["body"]["ticket_url"].rsplit("/", 1)[1])
    sent = requests.post(
        "%s/api/v3/augsburg/de/chat/%s/" % (url, device), data={"message": "Noch eine Frage"}, timeout=30
    )
    assert sent.status_code == 200, sent.text
    assert len(zammad.tickets) == tickets  # no new ticket
    last = zammad.articles[zammad.tickets[ticket]["article_ids"][-1]]
    assert last["body"] == "Noch eine Frage"
    # The chat that began again in the CMS goes on in its newer ticket, not the expired one.
    [(device, seen)] = devices("began again")
    again = requests.post(
        "%s/api/v3/muenchen/de/chat/%s/" % (url, device), data={"message": "Und noch etwas"}, timeout=30
    )
    assert again.status_code == 200 and len(zammad.tickets) == tickets
    assert again.json()["ticket_url"] == "%s/#ticket/zoom/7" % zammad.url


def test_is_chat_enabled_answers_each_device_as_the_cms_did(switched):
    url, _admin, _env, _zammad, _imported, _dump = switched
    drawn = [(device, seen) for device, seen in cms.answers().items() if seen["is_chat_enabled"]]
    assert {seen["is_chat_enabled"]["body"]["is_chat_enabled"] for _device, seen in drawn} == {True, False}
    for device, seen in drawn:
        ours = requests.get("%s/api/v3/%s/%s/is_chat_enabled/" % (url, seen["region"], device), timeout=30)
        assert ours.json() == seen["is_chat_enabled"]["body"], seen["role"]


def test_the_author_chat_shows_the_imported_messages_inside_the_window(switched):
    url, _admin, _env, _zammad, _imported, _dump = switched
    token = issue_hs256_token(JWT_SECRET, "1", ["author"], name="Amira Haddad")
    history = requests.get(
        url + "/api/v3/author-chat/messages", headers={"Authorization": "Bearer " + token}, timeout=30
    ).json()
    shown = [(m["text"], m["sender"]["name"], m["sender"]["email"]) for m in history["messages"]]
    assert shown == [
        ("مرحبا – العربية geht auch", "Amira Haddad", "amira.haddad@augsburg.example"),
        ("Danke! <b>Fett</b> & Zeichen: ä ö ü 👍", "redaktion2", "redaktion2@muenchen.example"),
        ("Die Seite „Kita-Anmeldung“ ist überarbeitet.", "Amira Haddad", "amira.haddad@augsburg.example"),
        ("Fast 30 Tage alt, noch sichtbar", "redaktion2", "redaktion2@muenchen.example"),
    ]  # the one of 45 days ago is not there
    # The CMS user's pk is the sender's id: a token with that `sub` sees its own messages.
    assert [m["can_delete"] for m in history["messages"]] == [True, False, True, False]


def test_the_import_keeps_and_prints_nothing_secret(switched):
    _url, _admin, env, _zammad, imported, _dump = switched
    printed = imported.stdout + imported.stderr
    users = cms.scan(env, "author-messages")
    stored = repr(users) + repr(cms.scan(env, "regions"))
    for secret in ("cms-recording-token", "pbkdf2_sha256", "JBSWY3DPEHPK3PXP", "Stefan", "silent"):
        assert secret not in printed
    for secret in ("pbkdf2_sha256", "JBSWY3DPEHPK3PXP", "Stefan", "webauthn"):
        assert secret not in stored
    assert "augsburg" in imported.stdout and "author chat: 4 new, 0 here, 1 older" in imported.stdout


def test_a_second_import_changes_nothing(switched):
    _url, _admin, env, _zammad, _imported, dump = switched
    tables = ("user-chats", "chat-assignments", "author-messages", "regions")
    before = {name: cms.scan(env, name) for name in tables}
    again = cms.manage(env, "import-cms", str(dump))
    assert again.returncode == 0, again.stderr
    assert "author chat: 0 new, 4 here, 1 older" in again.stdout
    after = {name: cms.scan(env, name) for name in tables}
    for name in tables:
        if name != "user-chats":  # the chats the tests above wrote to have moved on
            assert after[name] == before[name], name
    assert len(after["user-chats"]) == len(before["user-chats"])


def test_compare_cms_names_a_difference_without_its_text(switched):
    # After the test above sent a message here, this backend shows it and the recording not.
    _url, _admin, env, _zammad, _imported, _dump = switched
    [(device, _seen)] = devices("answered by an agent")
    with cms.CmsReplay() as replay:
        compared = cms.manage(
            env, "compare-cms", "--cms", replay.url, "--region", "augsburg", "--settle", "0"
        )
    assert compared.returncode == 1
    assert "%s… poll: messages: CMS has ids [2, 3, 4], here [2, 3, 4, " % device[:8] in compared.stdout
    assert "Noch eine Frage" not in compared.stdout and "1 difference(s)" in compared.stdout


def test_export_cms_gives_the_cms_each_current_chat_and_new_draw(switched, tmp_path):
    url, _admin, env, _zammad, _imported, dump = switched
    switch = time.time()
    newcomer = "3f1c0d2e-0000-4000-8000-00000000abcd"
    enabled = requests.get("%s/api/v3/augsburg/%s/is_chat_enabled/" % (url, newcomer), timeout=30).json()
    sent = requests.post(
        "%s/api/v3/augsburg/de/chat/%s/" % (url, newcomer), data={"message": "Neu hier"}, timeout=30
    )
    assert sent.status_code == 200
    ticket = int(sent.json()["ticket_url"].rsplit("/", 1)[1])
    output = tmp_path / "back.json"
    everything = cms.manage(env, "export-cms", "--dump", str(dump), "--output", str(output))
    assert everything.returncode == 0, everything.stderr
    records = json.loads(output.read_text())
    chats = {r["fields"]["device_id"]: r["fields"] for r in records if r["model"] == "cms.userchat"}
    assert len(chats) == 7  # the six imported, the one begun here
    assert (
        chats[newcomer]["zammad_id"] == ticket
        and chats[newcomer]["region"] == 1
        and chats[newcomer]["language"] == 1
    )
    # What the CMS reads back is what it wrote: the import's own reader takes the fixture.
    cms_dump = json.loads(dump.read_text())
    catalogue = [r for r in cms_dump if r["model"] in ("cms.region", "cms.language")]
    numbered = [dict(r, pk=900 + n) for n, r in enumerate(records)]  # loaddata gives the pks
    read_back = read_dump(json.dumps(catalogue + numbered).encode(), time.time(), 30, 30)
    assert read_back.refused == [] and {c.device_id for c in read_back.chats} == set(chats)
    later = tmp_path / "since.json"
    since = cms.manage(
        env, "export-cms", "--dump", str(dump), "--since", cms_time(switch), "--output", str(later)
    )
    assert "1 chats, 1 draws" in since.stdout
    [draw] = [r["fields"] for r in json.loads(later.read_text()) if r["model"] == "cms.abtester"]
    assert draw == {"device_id": newcomer, "region": 1, "is_tester": enabled["is_chat_enabled"]}


def test_zammads_webhook_with_the_cms_token_reaches_an_imported_chat(switched):
    # Step 4 of the runbook: a signature secret set here and in Zammad; the token stays the CMS's.
    url, admin, _env, zammad, _imported, dump = switched
    secret = "a-signature-secret-for-the-switch"
    region = "%s/api/v3/admin/regions/augsburg" % url  # the admin API: this instance's cache follows
    assert requests.put(region, json={"zammad_webhook_secret": secret}, headers=admin, timeout=10).ok
    token = next(
        r["fields"]["zammad_webhook_token"]
        for r in json.loads(dump.read_text())
        if r["pk"] == 1 and r["model"] == "cms.region"
    )
    zammad.configure_webhook("%s/api/v3/webhook/zammad/?token=%s" % (url, token), secret)
    [(device, seen)] = devices("waiting for an answer")
    chat = "%s/api/v3/augsburg/de/chat/%s/" % (url, device)
    requests.get(chat, timeout=30)  # read once: the chat's messages are stored here now
    ticket = int(seen["poll"]["body"]["ticket_url"].rsplit("/", 1)[1])
    zammad.add_article(ticket, "<p>Die Anmeldung geht online.</p>")
    zammad.wait_for_webhooks()
    assert [d["statuses"] for d in zammad.state()["deliveries"]][-1] == [200]
    calls = zammad.api_request_count()
    messages = requests.get(chat, timeout=30).json()["messages"]
    assert messages[-1]["content"] == "<p>Die Anmeldung geht online.</p>"
    assert zammad.api_request_count() == calls  # the webhook brought it: no Zammad call
    zammad.configure_webhook(None)
