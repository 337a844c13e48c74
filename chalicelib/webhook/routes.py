"""Handler of Zammad's webhook: `POST /api/v3/webhook/zammad/?token=<region webhook token>`.
Caller: the region's Zammad, authenticated by the dispatcher (token and signature, see
routes.py), which hands over the region."""

from chalicelib.services import Services
from chalicelib.storage.models import RegionRecord
from chalicelib.web.http import Request, Response, parse_json
from chalicelib.web.routing import ZAMMAD, Route


def zammad_webhook(services: Services, request: Request, region: RegionRecord) -> Response:
    payload = parse_json(request.body)
    actions = services.webhook.process(region, payload, request.header("x-zammad-delivery"))
    return Response(200, {"region": region.slug, "actions": actions})


ROUTES = [Route("POST", "/api/v3/webhook/zammad", ZAMMAD, zammad_webhook)]
