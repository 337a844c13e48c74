"""The running app (Chalice's local server on DynamoDB Local, Zammad emulated) against its
OpenAPI document: real answers of every kind validate, and a bounded property-based fuzz
(schemathesis, fixed seed) finds no 5xx, no answer outside the document, no traceback and
no secret in any body."""

import base64
import json
import secrets
import time
import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.attachments.bucket import FileBucket
from chalicelib.attachments.links import FileRef, link_path
from chalicelib.openapi import DOCUMENT
from chalicelib.platform.auth import issue_hs256_token
from chalicelib.platform.config import load_settings
from devtools.fcm_standin import FcmStandIn
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import JWT_SECRET, running_api
from tests.support.files import png, upload
from tests.support.regions import put_region
from tests.support.signing import hub_signature

REGION = "augsburg"  # the example slug of the document: the fuzz reaches a working chat
HOOK_TOKEN, HOOK_SECRET = "openapi-webhook-token-0123", "openapi-webhook-secret-0123"
ZAMMAD_TOKEN = "openapi-zammad-token"
AUTHOR = {"Authorization": "Bearer " + issue_hs256_token(JWT_SECRET, "alice", ["author"])}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_CASES = 25  # per operation and mode: about a minute in all
LEAKS = ("Traceback", 'File "/', JWT_SECRET, HOOK_SECRET, ZAMMAD_TOKEN)


@pytest.fixture(scope="module")
def world(dynamodb_local, moto_server, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("openapi") / "server.log"
    files = {
        "ATTACHMENT_BUCKET": "openapi-files",
        "AWS_ENDPOINT_URL_S3": moto_server,
        "ATTACHMENT_MAX_BYTES": "100000",
    }
    FileBucket(load_settings(files)).create()
    # Push on (docs/push.md): its routes answer as deployed, not with "not enabled".
    push = {
        "FCM_CREDENTIALS": json.dumps(FcmStandIn().service_account()),
        "VAPID_PRIVATE_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
        "VAPID_SUBJECT": "mailto:ops@example.org",
    }
    with (
        ZammadEmulator(token=ZAMMAD_TOKEN) as zammad,
        running_api(
            dynamodb_local, log_path, API_RATE_LIMIT_WINDOW=100000, ZAMMAD_TIMEOUT_SECONDS=2, **files, **push
        ) as (
            url,
            admin,
            _env,
        ),
    ):
        put_region(
            url,
            admin,
            zammad,
            REGION,
            chat_beta_tester_percentage=100,
            zammad_webhook_token=HOOK_TOKEN,
            zammad_webhook_secret=HOOK_SECRET,
        )
        schema = schemathesis.openapi.from_url(url + "/api/v3/openapi.json")
        schema.config.update(base_url=url)
        yield type(
            "World", (), {"url": url, "admin": admin, "zammad": zammad, "schema": schema, "log": log_path}
        )


def check_against_document(world, response, path, method):
    operation = world.schema[path][method]
    documented = set(operation.definition.raw["responses"])
    assert str(response.status_code) in documented, (path, method, response.status_code, response.text)
    operation.validate_response(response)
    assert not any(leak in response.text for leak in LEAKS)


def test_real_answers_of_every_kind_match_the_document(world):
    url, device = world.url, str(uuid.uuid4())
    chat_path = "/api/v3/{region}/{language}/chat/{device_id}/"
    chat = "%s/api/v3/%s/de/chat/%s/" % (url, REGION, device)
    seen = []

    def check(response, path, method):
        check_against_document(world, response, path, method)
        seen.append((method, path, response.status_code))

    check(requests.get(chat, timeout=10), chat_path, "GET")  # 404: no chat yet
    check(requests.post(chat, files={"message": (None, "Hallo")}, timeout=10), chat_path, "POST")
    check(
        requests.post(chat, data={"message": "again", "evaluation_consent": "true"}, timeout=10),
        chat_path,
        "POST",
    )
    check(requests.post(chat, json={"message": ""}, timeout=10), chat_path, "POST")  # 400
    check(requests.post(chat, data=b"x", headers={"Content-Type": "text/csv"}, timeout=10), chat_path, "POST")
    check(requests.post(chat, data=b"x" * (1024 * 1024 + 1), timeout=30), chat_path, "POST")  # 413
    check(requests.get(chat, timeout=10), chat_path, "GET")
    check(requests.options(chat, timeout=10), chat_path, "OPTIONS")
    check(requests.get("%s/api/v3/nowhere/de/chat/%s/" % (url, device), timeout=10), chat_path, "GET")
    enabled = "/api/v3/{region}/{device_id}/is_chat_enabled/"
    check(
        requests.get("%s/api/v3/%s/%s/is_chat_enabled/" % (url, REGION, device), timeout=10), enabled, "GET"
    )
    check(requests.get("%s/api/v3/%s/bad!/is_chat_enabled/" % (url, REGION), timeout=10), enabled, "GET")

    # Files (docs/files.md): upload forms, a message that carries one, its link.
    forms = "/api/v3/{region}/{language}/chat/{device_id}/attachments/"
    for body in (
        {"filename": "Brief.png", "content_type": "image/png", "size": len(png())},  # 201
        {"filename": "a/b.png", "content_type": "image/png", "size": 5},  # 400
        {"filename": "x.html", "content_type": "text/html", "size": 5},  # 415
        {"filename": "big.png", "content_type": "image/png", "size": 100001},  # 413
    ):
        response = requests.post(chat + "attachments/", json=body, timeout=10)
        check(response, forms, "POST")
    form = requests.post(
        chat + "attachments/",
        data={"filename": "B.png", "content_type": "image/png", "size": "71"},
        timeout=10,
    )
    assert upload(form.json(), png()).status_code == 204
    sent = requests.post(
        chat, files={"message": (None, "Brief"), "attachments": (None, form.json()["id"])}, timeout=10
    )
    check(sent, chat_path, "POST")
    check(
        requests.post(chat, json={"message": "x", "attachments": ["A" * 22]}, timeout=10), chat_path, "POST"
    )
    link = sent.json()["messages"][-1]["attachments"][0]["url"]
    file_path = "/api/v3/{region}/{language}/chat/{device_id}/attachments/{article_id}/{attachment_id}/"
    check(requests.get(url + link, allow_redirects=False, timeout=10), file_path, "GET")  # 302
    check(requests.get(url + link.replace("signature=", "signature=0"), timeout=10), file_path, "GET")  # 403
    nothing = link_path("de", FileRef(REGION, device, 1, 1), ZAMMAD_TOKEN, time.time(), 3600)
    check(requests.get(url + nothing, timeout=10), file_path, "GET")  # 404

    [ticket] = [t for t in world.zammad.tickets.values() if t["title"].endswith(device)]
    article = world.zammad.add_article(ticket["id"], "<p>Antwort</p>")
    body = json.dumps({"ticket": ticket, "article": article}).encode()
    hook = "/api/v3/webhook/zammad/"
    for headers in ({"X-Hub-Signature": hub_signature(HOOK_SECRET, body)}, {}):
        check(
            requests.post("%s%s?token=%s" % (url, hook, HOOK_TOKEN), data=body, headers=headers, timeout=10),
            hook,
            "POST",
        )
    bad = b'{"ticket": {"id": "x"}}'
    check(
        requests.post(
            "%s%s?token=%s" % (url, hook, HOOK_TOKEN),
            data=bad,
            timeout=10,
            headers={"X-Hub-Signature": hub_signature(HOOK_SECRET, bad)},
        ),
        hook,
        "POST",
    )

    messages = "/api/v3/author-chat/messages"
    posted = requests.post(url + messages, json={"text": "Hi all"}, headers=AUTHOR, timeout=10)
    check(posted, messages, "POST")
    check(requests.get(url + messages, headers=AUTHOR, timeout=10), messages, "GET")
    check(requests.get(url + messages + "?limit=0", headers=AUTHOR, timeout=10), messages, "GET")
    check(requests.get(url + messages, timeout=10), messages, "GET")  # 401
    check(
        requests.post(url + "/api/v3/author-chat/read", headers=AUTHOR, timeout=10),
        "/api/v3/author-chat/read",
        "POST",
    )
    one = "/api/v3/author-chat/messages/{message_id}"
    check(
        requests.delete(url + messages + "/" + posted.json()["id"], headers=world.admin, timeout=10),
        one,
        "DELETE",
    )
    check(
        requests.delete(url + messages + "/0000000000000-00000000", headers=AUTHOR, timeout=10), one, "DELETE"
    )

    region = "/api/v3/admin/regions/{slug}"
    check(
        requests.get(url + "/api/v3/admin/regions", headers=world.admin, timeout=10),
        "/api/v3/admin/regions",
        "GET",
    )
    check(
        requests.get(url + "/api/v3/admin/regions", headers=AUTHOR, timeout=10),
        "/api/v3/admin/regions",
        "GET",
    )
    check(
        requests.get(url + "/api/v3/admin/regions/" + REGION, headers=world.admin, timeout=10), region, "GET"
    )
    check(
        requests.put(
            url + "/api/v3/admin/regions/other",
            json={"zammad_webhook_token": HOOK_TOKEN, "zammad_webhook_secret": HOOK_SECRET},
            headers=world.admin,
            timeout=10,
        ),
        region,
        "PUT",
    )  # 409
    check(
        requests.delete(url + "/api/v3/admin/regions/nothing-here", headers=world.admin, timeout=10),
        region,
        "DELETE",
    )
    check(requests.get(url + "/api/v3/openapi.json", timeout=10), "/api/v3/openapi.json", "GET")
    statuses = {status for _method, _path, status in seen}
    assert statuses >= {200, 201, 204, 302, 400, 401, 403, 404, 409, 413, 415}


def _fuzz_runs():
    for path, item in json.loads(DOCUMENT.read_text())["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            yield "%s %s" % (method.upper(), path), GenerationMode.POSITIVE
            if item.get("parameters") or set(operation) & {"parameters", "requestBody", "security"}:
                yield "%s %s" % (method.upper(), path), GenerationMode.NEGATIVE  # needs an input


@pytest.mark.parametrize("operation, mode", list(_fuzz_runs()))
def test_fuzz_finds_nothing(world, operation, mode):
    """Every operation, valid and invalid inputs, derandomized (a fixed seed), a bounded
    number of cases each."""
    method, path = operation.split(" ", 1)

    @given(world.schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_CASES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def fuzz(case):
        if isinstance(case.body, dict) and isinstance(case.body.get("zammad_url"), str):
            case.body["zammad_url"] = world.zammad.url  # traffic stays on 127.0.0.1
        response = case.call_and_validate(
            headers=dict(world.admin, **(case.headers or {})), checks=CHECKS, timeout=30
        )
        assert not any(leak in response.text for leak in LEAKS), response.text

    fuzz()


def test_fuzz_of_the_download_links_query_and_ids_finds_only_refusals(world):
    """A link's parts as any text (non-ASCII digits, "²", signs, spaces, surrogate-free
    Unicode): each answer is a JSON 403 or 404, never a 500 (derandomized, bounded)."""
    from urllib.parse import quote

    from hypothesis import strategies as st

    base = "%s/api/v3/%s/de/chat/fuzz-device/attachments/" % (world.url, REGION)
    text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
    # A future expiry (so the signature is compared), also in other digits and spellings.
    future = st.integers(2_000_000_000, 9_999_999_999).map(str)
    digits = st.sampled_from(["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "０１２３４５６７８９", "0123456789"])
    respelled = st.tuples(future, digits).map(
        lambda pair: pair[0].translate(str.maketrans("0123456789", pair[1]))
    )
    expiries = text | future | respelled | future.map(lambda value: "0" + value)

    @given(article=text, file=text, expires=expiries, signature=text)
    @example(article="1", file="1", expires="9999999999", signature="é")  # was a 500 (issue 26)
    @example(article="1", file="1", expires="²", signature="0" * 32)
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def fuzz(article, file, expires, signature):
        path = "%s/%s/" % (quote(article or "1", safe=""), quote(file or "1", safe=""))
        response = requests.get(
            base + path,
            params={"expires": expires, "signature": signature},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code in (400, 403, 404), (article, file, expires, signature, response.text)
        assert set(response.json()) == {"error"}

    fuzz()
