"""The OpenAPI document describes exactly the route table, and is served."""

import re

import schemathesis

from chalicelib.api import ChatApi
from chalicelib.openapi import document
from chalicelib.platform.config import load_settings
from chalicelib.routes import ROUTES
from chalicelib.services import aws_services


def _shape(path: str) -> str:
    """A path with its variables unnamed and no trailing slash: how routes and paths compare."""
    return re.sub(r"\{[^}]+\}", "{}", path).rstrip("/")


def test_every_route_is_described_and_nothing_else():
    described = {
        (method.upper(), _shape(path))
        for path, item in document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {(route.method, _shape(route.path)) for route in ROUTES.rows}
    served |= {("OPTIONS", _shape(path)) for path in ROUTES.paths() if ROUTES.for_app(path)}
    assert described == served


def test_the_document_is_valid_openapi_3_1_with_every_reference_resolved():
    schema = schemathesis.openapi.from_dict(document())
    operations = [result.ok() for result in schema.get_all_operations()]  # .ok() raises on errors
    assert document()["openapi"] == "3.1.0"
    preflights = sum(1 for path in ROUTES.paths() if ROUTES.for_app(path))
    assert len(operations) == len(ROUTES.rows) + preflights


def test_every_operation_documents_its_errors_as_json():
    for _path, item in document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response == {
                        "$ref": "#/components/responses/%s" % response["$ref"].rsplit("/", 1)[1]
                    }
                    target = document()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                    assert target["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }


def test_it_is_served():
    api = ChatApi(aws_services(load_settings({})))
    response = api.handle_path("GET", "/api/v3/openapi.json")
    assert response.status == 200 and response.body == document()
