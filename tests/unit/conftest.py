"""The unit tier runs with no network at all, loopback included (`unshare -n make unit`
passes): every test here has sockets switched off, so one that reaches for moto's server,
an emulator or DynamoDB fails at once instead of quietly working on a developer's machine.
What needs those lives in tests/component and tests/integration."""

import pytest

from tests.support.offline import no_network


@pytest.fixture(autouse=True)
def _offline():
    with no_network():
        yield
