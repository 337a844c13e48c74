"""What a cold start loads: the poll's part and nothing else (make bench measures the time);
the rest is imported, and its table bound, when first used."""

import ast
import json

from chalicelib.storage.connection import bound_table_names
from chalicelib.tables import ALL_MODELS
from tests.conftest import PROJECT, python_env, run_python

NOT_AT_A_COLD_START = [
    "chalicelib.chatbot.service",
    "chalicelib.chatbot.queue",
    "chalicelib.chatbot.ledger",
    "chalicelib.webhook.service",
    "chalicelib.webhook.deliveries",
    "chalicelib.platform.safe_html",
    "chalicelib.author_chat.service",
    "chalicelib.author_chat.store",
    "chalicelib.attachments.service",
    "chalicelib.attachments.bucket",
    "chalicelib.realtime.connections",
    "chalicelib.realtime.service",
    "chalicelib.regions.cms",
    "chalicelib.user_chat.deletion",
    "chalicelib.user_chat.retention",
    "chalicelib.tables",
    "chalicelib.jobs",
    "chalicelib.platform.auth",
]

COLD_START = """
import json, sys
import app
loaded = [name for name in %r if name in sys.modules]
app.api.services._stores.chatbot_jobs  # first use: imports the ledger, whose table is bound on import
from chalicelib.chatbot.ledger import ChatbotJobRecord
print(json.dumps({"loaded": loaded, "ledger_table": ChatbotJobRecord.Meta.table_name}))
"""


def test_a_cold_start_loads_only_what_a_poll_needs_and_binds_the_rest_on_first_use():
    env = python_env()
    env["CHAT_TABLE_PREFIX"] = "cold-"
    result = run_python("-c", COLD_START % NOT_AT_A_COLD_START, env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"loaded": [], "ledger_table": "cold-chatbot-jobs"}


def declared_tables() -> set[tuple[str, str]]:
    """(module, class) of every `@table` class in chalicelib, read from the source: a table
    declared in a module nothing here imported counts too."""
    found = set()
    for path in sorted((PROJECT / "chalicelib").rglob("*.py")):
        module = ".".join(path.relative_to(PROJECT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(d, ast.Name) and d.id == "table" for d in node.decorator_list
            ):
                found.add((module, node.name))
    return found


def test_every_declared_table_is_listed_for_create_tables_and_the_template():
    assert len(declared_tables()) >= 10  # the reading finds them (a pattern that matched nothing would pass)
    assert declared_tables() == {(model.__module__, model.__name__) for model in ALL_MODELS}
    assert bound_table_names() == {model.base_table_name for model in ALL_MODELS}
