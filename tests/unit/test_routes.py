from chalicelib.routes import ROUTES, match_path


def test_a_path_matches_its_template_with_or_without_trailing_slash():
    for path in ("/api/v3/admin/regions/augsburg", "/api/v3/admin/regions/augsburg/"):
        assert match_path(path) == ("/api/v3/admin/regions/{slug}", {"slug": "augsburg"})
    assert match_path("/api/v3/admin/regions/") == ("/api/v3/admin/regions", {})


def test_path_parameters_are_url_decoded():
    assert match_path("/api/v3/admin/regions/a%20b")[1] == {"slug": "a b"}


def test_unknown_paths_match_nothing():
    for path in ("/", "/api", "/api/v3/admin/regions/a/b", "/api/v3/admin/regions//", "/other"):
        assert match_path(path) is None


def test_every_template_matches_itself():
    for template in ROUTES.paths():
        concrete = template.replace("{", "x").replace("}", "")
        assert match_path(concrete)[0] == template


def test_api_gateway_allows_one_variable_name_per_path_level():
    """API Gateway refuses a deployment where siblings are different {variables}."""
    variables_under = {}
    for template in ROUTES.paths():
        parts = template.split("/")
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                parent = "/".join(parts[:depth])
                variables_under.setdefault(parent, set()).add(part)
    assert all(len(names) == 1 for names in variables_under.values()), variables_under


def test_every_row_states_who_may_call_it_and_the_documents_agree():
    from chalicelib.openapi import document
    from chalicelib.web.routing import ADMIN, ANYONE, APP, AUTHOR, ZAMMAD

    expected = {
        "/api/v3/author-chat/widget": ANYONE,  # static files, no data: first, it is the longer prefix
        "/api/v3/admin": ADMIN,
        "/api/v3/author-chat": AUTHOR,
        "/api/v3/webhook": ZAMMAD,
        "/api/v3/openapi.json": ANYONE,
        "/api/v3/health": ANYONE,  # nothing but "ok": for load balancers and uptime checks
    }
    for route in ROUTES.rows:
        prefix = next((p for p in expected if route.path.startswith(p)), None)
        assert route.caller == (expected[prefix] if prefix else APP), route
    # The OpenAPI document asks for a bearer token exactly where a row needs a role.
    for route in ROUTES.rows:
        path = next(
            p
            for p in document()["paths"]
            if match_path(p.replace("{", "x").replace("}", ""))[0] == route.path
        )
        secured = "security" in document()["paths"][path][route.method.lower()]
        assert secured == (route.caller in (AUTHOR, ADMIN)), route
