"""A region for a test, made through the admin API of the running app: chat on, pointing
at an emulated Zammad."""

import uuid

import requests


def put_region(url: str, admin: dict, zammad, slug: str | None = None, **fields) -> str:
    """PUT the region (a fresh slug unless given) and return its slug."""
    slug = slug or "r" + uuid.uuid4().hex[:12]
    body = {
        "integreat_chat_enabled": True,
        "zammad_url": zammad.url,
        "zammad_access_token": zammad.token,
        **fields,
    }
    response = requests.put("%s/api/v3/admin/regions/%s" % (url, slug), json=body, headers=admin, timeout=10)
    assert response.status_code == 200, response.text
    return slug
