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
    for template in ROUTES:
        concrete = template.replace("{", "x").replace("}", "")
        assert match_path(concrete)[0] == template


def test_api_gateway_allows_one_variable_name_per_path_level():
    """API Gateway refuses a deployment where siblings are different {variables}."""
    variables_under = {}
    for template in ROUTES:
        parts = template.split("/")
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                parent = "/".join(parts[:depth])
                variables_under.setdefault(parent, set()).add(part)
    assert all(len(names) == 1 for names in variables_under.values()), variables_under
