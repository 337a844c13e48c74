"""A botocore client for one AWS service (or an endpoint that speaks its API: moto, MinIO,
the local WebSocket server), counted for Server-Timing. Imported and made on first use by
its caller: loading a service model costs a cold start tens of milliseconds."""

from typing import Any

from chalicelib.platform.config import Settings
from chalicelib.platform.metrics import instrument_botocore_client


def botocore_client(service: str, settings: Settings, endpoint: str | None, kind: str, **config: Any) -> Any:
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        service, region_name=settings.aws_region, endpoint_url=endpoint, config=Config(**config)
    )
    instrument_botocore_client(client, kind)
    return client
