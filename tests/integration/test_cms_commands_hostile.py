"""compare-cms and export-cms where what they read is not what they expect: a CMS that does
not answer (the runbook's own command, offline), a CMS that answers something that is no
chat, a dump whose pk is `true`. Each ends in one line of words and an exit status, never
a traceback, and nothing wrong is written."""

import json
import time

import pytest

from chalicelib.platform.config import load_settings
from chalicelib.storage.connection import bind_models
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from devtools.zammad_emulator import ZammadEmulator
from tests.conftest import unique_prefix
from tests.support import cms
from tests.support.cms import manage_here
from tests.support.servers import free_port, host, json_answer


@pytest.fixture
def imported(dynamodb_local, monkeypatch, tmp_path):
    """The recorded dump imported into tables of this test's own, its Zammad served again."""
    values = {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local, "CHAT_TABLE_PREFIX": unique_prefix()}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    bind_models(ALL_MODELS, load_settings(values))
    create_tables(ALL_MODELS)
    with ZammadEmulator(token=cms.recording()["token"]) as zammad:
        cms.load_zammad(zammad)
        path = cms.dump_file(tmp_path / "dump.json", time.time(), zammad.url)
        status, said = manage_here("import-cms", str(path))
        assert status == 0, said
        yield path


def test_compare_with_a_cms_that_does_not_answer_says_so_in_one_line(imported):
    url = "http://127.0.0.1:%d" % free_port()
    status, said = manage_here("compare-cms", "--cms", url, "--region", "augsburg", "--settle", "0")
    assert status == 1
    assert said == "error: the CMS at %s gave no answer (ConnectionError); nothing was compared\n" % url


def test_compare_with_a_cms_that_answers_a_json_list_names_it_as_a_difference(imported):
    with host(json_answer([])) as (url, seen):
        status, said = manage_here("compare-cms", "--cms", url, "--region", "augsburg", "--settle", "0")
    assert status == 1, said
    assert "Traceback" not in said and seen
    assert "poll: answer: the CMS's is a JSON list, not a chat" in said
    assert "is_chat_enabled: CMS 200 [], here 200" in said
    assert all(method == "GET" for method, *_rest in seen)  # nothing sent to the CMS


def test_export_takes_no_pk_that_is_true(imported, tmp_path):
    dump = json.loads(imported.read_text())
    for record in dump:
        if record["model"] == "cms.region" and record["fields"]["slug"] == "augsburg":
            record["pk"] = True  # would load as pk 1, another region's
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(dump))
    output = tmp_path / "back.json"
    status, said = manage_here(
        "export-cms", "--dump", str(hostile), "--region", "augsburg", "--output", str(output)
    )
    assert status == 2, said
    assert "refused: --region augsburg: the CMS dump holds no region of that slug" in said
    assert json.loads(output.read_text()) == []
