"""The admin objects of the emulated Zammad, in the shapes docs.zammad.org gives for its REST
API: groups, ticket object attributes (with the migration Zammad needs after adding one),
webhooks, triggers and schedulers (`jobs`; those deleting tagged tickets run when a test calls
the emulator's `run_schedulers`). Secrets come back as `**********` once set, as Zammad
returns them. A trigger calls its webhook only for an article that meets its conditions (on
the article and on the ticket's attributes, region_slug among them).

Only an admin token may use these (zammad_emulator.py's `admin_token`); the chat's agent
token gets Zammad's 403. The emulator delivers its webhook to every active webhook that an
active trigger names (`{"notification.webhook": {"webhook_id": …}}`), signed with its token.
"""

import copy
import re
from datetime import UTC, datetime
from typing import Any

HIDDEN = "**********"  # what Zammad answers for a secret that is set
_SECRETS = ("signature_token", "basic_auth_password", "bearer_token")
# path -> (what Zammad calls it in errors, the fields a new one starts with)
_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "groups": ("Group", {"active": True, "note": None}),
    "object_manager_attributes": (
        "ObjectManager::Attribute",
        {"object": "Ticket", "active": True, "editable": True, "position": 1500, "screens": {}},
    ),
    "webhooks": ("Webhook", {
        "http_method": "post", "ssl_verify": True, "active": True, "signature_token": None,
        "basic_auth_username": None, "basic_auth_password": None, "bearer_token": None,
        "note": None, "pre_defined_webhook_type": None, "customized_payload": False,
        "custom_payload": None, "preferences": {},
    }),
    "triggers": ("Trigger", {"active": True, "activator": "action", "execution_condition_mode": "selective"}),
    "jobs": ("Job", {
        "object": "Ticket", "active": True, "disable_notification": True, "note": None,
        "last_run_at": None, "next_run_at": None, "running": False, "processed": 0, "matching": 0,
    }),
}  # fmt: skip
_REQUIRED = {
    "groups": ("name",),
    "object_manager_attributes": ("name", "object", "display", "data_type", "data_option"),
    "webhooks": ("name", "endpoint"),
    "triggers": ("name", "condition", "perform"),
    "jobs": ("name", "timeplan", "condition", "perform"),
}


_MIGRATIONS = "/api/v1/object_manager_attributes_execute_migrations"
_ADMIN_PATH = re.compile(r"/api/v1/(groups|object_manager_attributes|webhooks|triggers|jobs)(?:/(\d+))?")


def _meets(condition: dict[str, Any], ticket: dict[str, Any], article: dict[str, Any]) -> bool:
    """Whether a trigger's conditions (all of them: Zammad's and-selector) hold for a new
    article on its ticket. The operators Zammad offers for text and tag attributes that a
    trigger of ours could use; any other condition fails, so a test sees it."""
    for key, rule in condition.items():
        scope, _, name = key.partition(".")
        if scope == "article" and name == "action":
            value: Any = "create"  # a trigger on a new article
        elif scope == "ticket" and name == "action":  # the ticket made with it, or changed by it
            value = "create" if int(ticket.get("article_count") or 0) <= 1 else "update"
        elif scope in ("article", "ticket"):
            value = (article if scope == "article" else ticket).get(name)
        else:
            return False
        wanted = rule.get("value") if isinstance(rule, dict) else None
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        text = "" if value is None else str(value)
        operator = rule.get("operator") if isinstance(rule, dict) else None
        if operator in ("is", "is any of"):
            holds = text in [str(w) for w in wanted_list]
        elif operator in ("is not", "is none of"):
            holds = text not in [str(w) for w in wanted_list]
        elif operator == "contains":
            holds = str(wanted).lower() in text.lower()
        elif operator in ("does not contain", "contains not"):
            holds = str(wanted).lower() not in text.lower()
        else:
            return False
        if not holds:
            return False
    return True


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error(message: str) -> dict[str, str]:
    return {"error": message, "error_human": message}


class AdminObjects:
    """Each kind by id; the caller (the emulator) holds its lock around every call."""

    def __init__(self, groups: tuple[str, ...], attributes: dict[str, Any]):
        self.objects: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in _KINDS}
        self._next_id = 1
        for name in groups:
            self._add("groups", {"name": name})
        for name in attributes:  # in use already: added and migrated
            self._add(
                "object_manager_attributes",
                {"name": name, "display": name, "data_type": "input", "data_option": {}},
            ).update(to_create=False, to_migrate=False)

    def _add(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        item = dict(copy.deepcopy(_KINDS[kind][1]), **copy.deepcopy(body))
        item.update(id=self._next_id, created_at=now, updated_at=now, created_by_id=3, updated_by_id=3)
        if kind == "object_manager_attributes":
            item.update(to_create=True, to_migrate=True, to_delete=False, to_config=False)
        self._next_id += 1
        self.objects[kind][item["id"]] = item
        return item

    def group_id(self, name: str) -> int | None:
        return next((g["id"] for g in self.objects["groups"].values() if g["name"] == name), None)

    def ticket_attributes(self) -> list[str]:
        """The ticket attributes in use: added and migrated (what a new ticket carries)."""
        return [
            a["name"]
            for a in self.objects["object_manager_attributes"].values()
            if a["object"] == "Ticket" and a["active"] and not a["to_create"]
        ]

    def webhook_targets(
        self, ticket: dict[str, Any], article: dict[str, Any]
    ) -> list[tuple[str, str | None]]:
        """(endpoint, signature token) of each active webhook that an active trigger whose
        conditions the new article and its ticket meet calls: once per webhook, however
        many triggers name it."""
        called = {
            (t.get("perform") or {}).get("notification.webhook", {}).get("webhook_id")
            for t in self.objects["triggers"].values()
            if t["active"] and _meets(t.get("condition") or {}, ticket, article)
        }
        return [
            (w["endpoint"], w.get("signature_token"))
            for w in self.objects["webhooks"].values()
            if w["active"] and w["id"] in called
        ]

    def tags_deleted(self) -> list[str]:
        """The tags whose tickets an active scheduler deletes (`ticket.tags` contains one or
        all of them, `ticket.action` delete): what `run_schedulers` carries out."""
        tags: list[str] = []
        for job in self.objects["jobs"].values():
            condition = job["condition"].get("ticket.tags") or {}
            deletes = (job["perform"].get("ticket.action") or {}).get("value") == "delete"
            if job["active"] and deletes and condition.get("operator") in ("contains one", "contains all"):
                tags += str(condition.get("value", "")).split(",")
        return tags

    @staticmethod
    def _view(kind: str, item: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(item)
        for secret in _SECRETS if kind == "webhooks" else ():
            if view.get(secret):
                view[secret] = HIDDEN
        return view

    @staticmethod
    def is_admin_path(path: str) -> bool:
        return path == _MIGRATIONS or _ADMIN_PATH.fullmatch(path) is not None

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any] | None:
        """Zammad's answer to an admin request, or None when the path is not an admin one."""
        if method == "POST" and path == _MIGRATIONS:
            for attribute in self.objects["object_manager_attributes"].values():
                attribute.update(to_create=False, to_migrate=False)
            return 200, {}
        found = _ADMIN_PATH.fullmatch(path)
        if not found:
            return None
        kind, number = found.group(1), found.group(2)
        items = self.objects[kind]
        if number is None:
            if method == "GET":
                return 200, [self._view(kind, item) for item in items.values()]
            if method == "POST":
                return self._create(kind, body)
            return 404, _error("No route matches [%s] %r" % (method, path))
        item = items.get(int(number))
        if item is None:
            return 404, _error("Couldn't find %s with 'id'=%s" % (_KINDS[kind][0], number))
        if method == "GET":
            return 200, self._view(kind, item)
        if method == "PUT":
            if not isinstance(body, dict):
                return 422, _error("Invalid payload")
            changes = {k: v for k, v in body.items() if k not in ("id", "created_at", "created_by_id")}
            # A secret sent back as Zammad showed it is left as it is.
            changes = {k: v for k, v in changes.items() if not (k in _SECRETS and v == HIDDEN)}
            item.update(copy.deepcopy(changes), updated_at=_now())
            if kind == "object_manager_attributes":
                item["to_migrate"] = True
            return 200, self._view(kind, item)
        if method == "DELETE":
            del items[int(number)]
            return 200, {}
        return 404, _error("No route matches [%s] %r" % (method, path))

    def _create(self, kind: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 422, _error("Invalid payload")
        missing = [field for field in _REQUIRED[kind] if body.get(field) in (None, "")]
        if missing:
            return 422, _error("%s can't be blank" % missing[0].replace("_", " ").capitalize())
        taken = any(
            item["name"] == body["name"] and item.get("object") == body.get("object")
            for item in self.objects[kind].values()
        )
        if taken and kind in ("groups", "object_manager_attributes"):
            return 422, _error("Name already exists!")
        return 201, self._view(kind, self._add(kind, body))
