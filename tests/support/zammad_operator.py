"""A region's Zammad as an operator meets it (tests/integration/test_zammad_*.py): an empty
emulated Zammad that knows an admin token, and `python -m functions.manage` run in the
environment an operator sets (DynamoDB Local, PUBLIC_BASE_URL, $ZAMMAD_ADMIN_TOKEN)."""

from contextlib import contextmanager

from tests.conftest import python_env, run_python, running_api, unique_prefix
from tests.support.regions import put_region

BASE = "https://cms.example.org"


def operator_env(dynamodb_endpoint: str) -> dict:
    return python_env(
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_endpoint,
        CHAT_TABLE_PREFIX=unique_prefix(),
        PUBLIC_BASE_URL=BASE,
        ZAMMAD_ADMIN_TOKEN="admin-token",
    )


def manage(env, *args):
    return run_python("-m", "functions.manage", *args, env=env)


def add_region(env, zammad_url, slug="augsburg", token="agent-token"):
    """The tables, and the region pointing at that Zammad with the chat's (agent) token."""
    assert manage(env, "create-tables").returncode == 0
    put = manage(
        env, "region", "put", slug, "--name", slug.title(),
        "--zammad-url", zammad_url, "--zammad-access-token", token,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr


def set_up(env, zammad):
    add_region(env, zammad.url)
    done = manage(env, "zammad-setup", "--region", "augsburg")
    assert done.returncode == 0, done.stderr


@contextmanager
def served_and_set_up(dynamodb_endpoint: str, log_path, zammad, slug: str):
    """The app served, the region made through its admin API, and `zammad-setup` run for it
    with this app's URL as PUBLIC_BASE_URL, so Zammad's deliveries reach the app. Yields the
    app's URL and the operator's environment."""
    with running_api(dynamodb_endpoint, log_path) as (url, admin, server_env):
        put_region(url, admin, zammad, slug, chat_beta_tester_percentage=100)
        env = python_env(**server_env, PUBLIC_BASE_URL=url, ZAMMAD_ADMIN_TOKEN="admin-token")
        done = manage(env, "zammad-setup", "--region", slug)
        assert done.returncode == 0, done.stderr
        yield url, env
