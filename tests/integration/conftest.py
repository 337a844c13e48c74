"""Fixtures of the Zammad set-up and doctor tests (tests/support/zammad_operator.py)."""

import pytest

from devtools.zammad_emulator import ZammadEmulator
from tests.support.zammad_operator import operator_env as _operator_env


@pytest.fixture
def empty_zammad():
    """A Zammad with nothing of the chat in it yet, and an admin's token."""
    with ZammadEmulator(token="agent-token", admin_token="admin-token", groups=("Users",)) as emulator:
        yield emulator


@pytest.fixture
def operator_env(dynamodb_local):
    return _operator_env(dynamodb_local)
