"""A region for a test, chat on, pointing at an emulated Zammad: its fields (`chat_region`,
for the tests in process, which hand them to `services.regions.put`), and the same fields
PUT through the admin API of the running app (`put_region`)."""

import uuid

import requests


def chat_region(zammad, **fields) -> dict:
    """The fields of a region with the chat on and `zammad`'s URL and token, then `fields`
    (which may replace any of the three)."""
    return {
        "integreat_chat_enabled": True,
        "zammad_url": zammad.url,
        "zammad_access_token": zammad.token,
        **fields,
    }


def put_region(url: str, admin: dict, zammad, slug: str | None = None, **fields) -> str:
    """PUT the region (a fresh slug unless given) and return its slug."""
    slug = slug or "r" + uuid.uuid4().hex[:12]
    body = chat_region(zammad, **fields)
    response = requests.put("%s/api/v3/admin/regions/%s" % (url, slug), json=body, headers=admin, timeout=10)
    assert response.status_code == 200, response.text
    return slug
