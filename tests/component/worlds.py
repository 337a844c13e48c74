"""The two worlds a component test of the user chat runs in: ChatApi on the in-memory
stores, or on DynamoDB (moto in process); Zammad is the test's emulator either way."""

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from moto import mock_aws

from chalicelib.api import ChatApi
from chalicelib.platform.config import Settings
from chalicelib.services import aws_services
from chalicelib.storage.tables import create_tables
from chalicelib.tables import ALL_MODELS
from tests.support.memory import memory_services
from tests.support.offline import no_network


@contextmanager
def chat_world(
    kind: str, settings: Settings, clock, region: dict[str, Any], offline: bool = False
) -> Iterator[ChatApi]:
    """ChatApi with the region `augsburg`; `offline`: the memory world may reach loopback only."""
    if kind == "memory":
        with no_network(loopback=True) if offline else nullcontext():
            api = ChatApi(memory_services(settings, clock=clock))
            api.services.regions.put("augsburg", region)
            yield api
        return
    with mock_aws():
        api = ChatApi(aws_services(settings, clock=clock))
        create_tables(ALL_MODELS)
        api.services.regions.put("augsburg", region)
        yield api
