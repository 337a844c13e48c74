"""Handler of Zammad's webhook: `POST /api/v3/webhook/zammad/?token=<region webhook token>`."""

from chalicelib.web.http import Request, Response, parse_json


def zammad_webhook(api, request: Request) -> Response:
    region = api.webhook.authenticate(
        request.query.get("token"), request.body, request.header("x-hub-signature")
    )
    payload = parse_json(request.body)
    actions = api.webhook.process(region, payload, request.header("x-zammad-delivery"))
    return Response(200, {"region": region.slug, "actions": actions})
