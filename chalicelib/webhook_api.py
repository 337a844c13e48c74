"""Handler of Zammad's webhook: `POST /api/v3/webhook/zammad/?token=<region webhook token>`."""
import json

from .errors import BadRequest
from .http import Request, Response


def zammad_webhook(api, request: Request) -> Response:
    region = api.webhook.authenticate(request.query.get("token"), request.body,
                                      request.header("x-hub-signature"))
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise BadRequest("Malformed JSON body.") from None
    actions = api.webhook.process(region, payload, request.header("x-zammad-delivery"))
    return Response(200, {"region": region.slug, "actions": actions})
