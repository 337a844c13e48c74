"""The house's layers point one way, read from the source (every import, also those inside
functions and under TYPE_CHECKING):

    app.py, functions/           adapters and entry points
    api, routes, services, ...   the top: the dispatcher and its policies, the route table,
                                 the wiring
    author_chat, chatbot, ...    the features
    storage, platform            the tables and the cross-cutting parts
    web                          a toolkit: requests, responses, errors, forms, routing

A layer imports only itself and what lies below it."""

import ast
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
LIB = PROJECT / "chalicelib"
TOP = {
    "api",
    "health",
    "routes",
    "services",
    "jobs",
    "schedules",
    "migration",
    "openapi",
    "rate_limit",
    "tables",
}
FEATURES = {
    "attachments",
    "author_chat",
    "chatbot",
    "push",
    "realtime",
    "regions",
    "user_chat",
    "webhook",
    "zammad_setup",
}
# What each lower layer may import of chalicelib (besides itself).
ALLOWED_BELOW = {
    "web": set(),
    "platform": {"web"},
    "storage": {"platform", "web"},
}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update("%s.%s" % (node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def chalicelib_part(module: str) -> str | None:
    """The package (or top-level module) of chalicelib a module name is in."""
    parts = module.split(".")
    return parts[1] if parts[0] == "chalicelib" and len(parts) > 1 else None


def sources(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def test_every_package_of_chalicelib_has_a_layer():
    parts = {path.relative_to(LIB).parts[0].removesuffix(".py") for path in sources(LIB)}
    assert parts - {"__init__"} == TOP | FEATURES | set(ALLOWED_BELOW)


@pytest.mark.parametrize("layer", sorted(ALLOWED_BELOW))
def test_a_lower_layer_imports_nothing_above_it(layer):
    wrong = {
        "%s imports %s" % (path.relative_to(PROJECT), module)
        for path in sources(LIB / layer)
        for module in imported_modules(path)
        if (part := chalicelib_part(module)) is not None
        and part != layer
        and part not in ALLOWED_BELOW[layer]
    }
    assert not wrong


def test_the_web_toolkit_imports_no_project_code_and_one_library():
    wrong = {
        "%s imports %s" % (path.relative_to(PROJECT), module)
        for path in sources(LIB / "web")
        for module in imported_modules(path)
        if module.split(".")[0] not in sys.stdlib_module_names | {"multipart"}  # forms.py's parser
        and not module.startswith("chalicelib.web")
    }
    assert not wrong


def test_no_feature_imports_the_top():
    # A feature's routes.py may name `Services` (its handlers receive them), nothing else above.
    wrong = set()
    for feature in FEATURES:
        for path in sources(LIB / feature):
            allowed = {"services"} if path.name == "routes.py" else set()
            wrong |= {
                "%s imports %s" % (path.relative_to(PROJECT), module)
                for module in imported_modules(path)
                if chalicelib_part(module) in TOP - allowed
            }
    assert not wrong


def test_deployed_code_never_imports_the_tests_or_the_other_entry_points():
    # The in-memory twins live in tests/support/memory/: deployed code cannot reach them.
    deployed = [PROJECT / "app.py", *sources(LIB)]
    wrong = {
        "%s imports %s" % (path.relative_to(PROJECT), module)
        for path in deployed
        for module in imported_modules(path)
        if module.split(".")[0] in ("functions", "devtools", "deploy", "tests")
        or (module.split(".")[0] == "chalice" and path.name != "app.py")
    }
    assert not wrong


def test_the_entry_points_never_import_the_dev_tools():
    # functions/ is what an operator runs (gunicorn, the worker, the WebSocket server, jobs).
    wrong = {
        "%s imports %s" % (path.relative_to(PROJECT), module)
        for path in sources(PROJECT / "functions")
        for module in imported_modules(path)
        if module.split(".")[0] in ("devtools", "tests")
    }
    assert not wrong


def test_the_checks_see_a_wrong_import(tmp_path):
    # The checks read real imports: one inside a function is found too.
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from chalicelib.api import ChatApi\n")
    assert {chalicelib_part(name) for name in imported_modules(module)} == {"api"}


def module_graph() -> dict[str, set[str]]:
    """chalicelib's modules, each with the chalicelib modules it imports (anywhere in it)."""
    names = {
        ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sources(LIB)
    }
    return {
        name: {m for m in imported_modules(path) if m in names and m != name} for name, path in names.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of nodes that reach each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """The feature packages, each with the feature packages it imports."""
    graph: dict[str, set[str]] = {}
    for module, imports in modules.items():
        part = chalicelib_part(module)
        if part in FEATURES:
            graph.setdefault(part, set()).update(
                other for other in map(chalicelib_part, imports) if other in FEATURES and other != part
            )
    return graph


def test_no_module_imports_itself_through_others():
    assert circles(module_graph()) == []


def test_no_feature_package_imports_itself_through_others():
    assert circles(package_graph(module_graph())) == []


def test_the_circle_check_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_deployed_module_is_over_400_lines():
    # A module a reader can hold in mind; a longer one holds two concepts (issue 28).
    long = {
        str(path.relative_to(PROJECT)): n
        for path in [PROJECT / "app.py", *sources(LIB)]
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert not long


# The stores whose promises tests/contract checks on the twins, moto and DynamoDB Local.
STORES_THAT_READ_INDEXES = {
    "chalicelib/user_chat/store.py",
    "chalicelib/realtime/connections.py",
    "chalicelib/storage/small_tables.py",
    "chalicelib/regions/store.py",
}


def test_every_index_query_is_a_stores_and_so_runs_in_the_contract_suite():
    """An index projects only some attributes (ours: the keys); code that read an index hit
    as a whole item (compare-cms asked the CMS for language "None") passed every test on the
    twin. Inside a store, its result is checked on DynamoDB Local, which projects as AWS does."""
    import re

    from tests.conftest import PROJECT

    querying = {
        str(path.relative_to(PROJECT))
        for path in (PROJECT / "chalicelib").rglob("*.py")
        if re.search(r"_index\.(query|scan)\(", path.read_text())
    }
    assert querying <= STORES_THAT_READ_INDEXES, querying - STORES_THAT_READ_INDEXES


# The user chat's public face (issue 41): what the others may import of it. The composition
# root chooses its store, the table list names its item and the route table its routes;
# nothing else reaches inside.
USER_CHAT_FACE = {"service", "ports", "views", "inputs"}
USER_CHAT_INSIDE_FOR = {
    "chalicelib/services.py": {"store"},
    "chalicelib/tables.py": {"records"},
    "chalicelib/routes.py": {"routes"},
}


def user_chat_internals(path: Path) -> set[str]:
    """The user chat's modules outside its face that a file imports."""
    found = set()
    for module in imported_modules(path):
        parts = module.split(".")
        if parts[:2] == ["chalicelib", "user_chat"] and len(parts) > 2 and parts[2] not in USER_CHAT_FACE:
            found.add(parts[2])
    return found


def test_outside_the_user_chat_only_its_public_face_is_imported():
    wrong = set()
    for path in [PROJECT / "app.py", *sources(LIB), *sources(PROJECT / "functions")]:
        name = str(path.relative_to(PROJECT))
        if name.startswith("chalicelib/user_chat/"):
            continue
        for module in user_chat_internals(path) - USER_CHAT_INSIDE_FOR.get(name, set()):
            wrong.add("%s imports chalicelib.user_chat.%s" % (name, module))
    assert not wrong


@pytest.mark.parametrize(
    "line",
    [  # each an import the chatbot, webhook, push, migration, jobs or zammad_setup had
        "from chalicelib.user_chat.records import UserChatRecord, usable",
        "from chalicelib.user_chat.store import ChatGone",
        "from chalicelib.user_chat.states import ChatState",
        "from chalicelib.user_chat.zammad import ZammadClient, ZammadConnections",
        "from chalicelib.user_chat.articles import AUTOMATIC_ANSWER_SUBJECT",
        "from chalicelib.user_chat.tickets import device_of_title",
        "from chalicelib.user_chat.live import LiveChats",
        "def job():\n    from chalicelib.user_chat.retention import COUNTS",
        "import chalicelib.user_chat.records",
    ],
)
def test_the_public_face_check_finds_an_import_of_the_inside(tmp_path, line):
    module = tmp_path / "feature.py"
    module.write_text(line + "\n")
    assert user_chat_internals(module)
    module.write_text("from chalicelib.user_chat.service import ChatGone, UserChats\n")
    assert not user_chat_internals(module)
