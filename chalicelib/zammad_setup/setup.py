"""What a region's Zammad needs for the chat, and making it so, idempotently.

The objects (docs/operating.md, "A new region in five minutes" names each):
- the group new tickets go to (the region's, or INTEGREAT_CHAT_TICKET_GROUP);
- the ticket attributes the chat writes: region_slug, language_slug (text),
  evaluation_consent, automatic_answers (booleans), then Zammad's migration;
- the region's webhook, "Integreat Chat (<region>)", to <PUBLIC_BASE_URL>/api/v3/webhook/
  zammad/?token=<the region's webhook token>, signed (X-Hub-Signature) with a secret this
  backend holds;
- the region's trigger, which calls it for every new article on the region's tickets (the
  ticket attribute region_slug) but the chatbot's own;
- where the token may not delete tickets (the region's `zammad_deletes_tickets` is off), the
  scheduler that deletes the tickets our retention tags `integreat-chat-delete`, hourly (the
  rest of the retention is this backend's job: chalicelib/user_chat/retention.py).

Regions share Zammads (the CMS's own dump has two on one URL): the webhook and the trigger
are the region's own, so an article is delivered once, to its region, and a region's setup
never finds, changes or takes another's. A webhook is the region's when it points at the
region's URL (one made by hand under another name is adopted and named, not doubled) or
bears the region's name; a trigger when it calls that webhook or bears the region's name.
The group, the attributes and the scheduler are shared by every region of that Zammad, and
made alike. Objects are changed only where they differ, and made where missing. Zammad never shows a
webhook's secret back, so a webhook found is kept as it is while the region holds a secret;
`doctor` tells a secret that no longer matches by deliveries that stop verifying, and
`rotate_secret` signs the webhook with a new one.
"""

import secrets
from typing import Any, NamedTuple

from chalicelib.storage.models import RegionRecord
from chalicelib.user_chat.service import AUTOMATIC_ANSWER_SUBJECT, DELETE_TAG
from chalicelib.zammad_setup.admin import ZammadAdmin


def webhook_name(slug: str) -> str:
    return "Integreat Chat (%s)" % slug


def trigger_name(slug: str) -> str:
    return "Integreat Chat: tell the chat backend (%s)" % slug


def trigger_condition(slug: str) -> dict[str, Any]:
    """New articles on the region's tickets, but the chatbot's own (its subject)."""
    return {
        "article.action": {"operator": "is", "value": "create"},
        "article.subject": {"operator": "does not contain", "value": AUTOMATIC_ANSWER_SUBJECT},
        "ticket.region_slug": {"operator": "is", "value": slug},
    }


SCHEDULER_NAME = "Integreat Chat: delete the tickets the retention tagged"
DELETE_TAGGED = {"ticket.tags": {"operator": "contains one", "value": DELETE_TAG}}
# Zammad's timeplan: every day, every hour, at :30 (within the day docs/privacy.md allows).
EVERY_HOUR = {
    "days": dict.fromkeys(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), True),
    "hours": {str(hour): True for hour in range(24)},
    "minutes": {str(minute): minute == 30 for minute in range(0, 60, 10)},
}
_TEXT = {"type": "text", "maxlength": 64, "null": True, "default": ""}
_YES_NO = {"options": {"true": "yes", "false": "no"}, "default": False, "null": True}
ATTRIBUTES = {  # name -> (display, data type, data option)
    "region_slug": ("Integreat region", "input", _TEXT),
    "language_slug": ("Integreat language", "input", _TEXT),
    "evaluation_consent": ("Integreat: evaluation consent", "boolean", _YES_NO),
    "automatic_answers": ("Integreat: automatic answers", "boolean", _YES_NO),
}


class Step(NamedTuple):
    kind: str  # as the admin API names it: groups, object_manager_attributes, webhooks, triggers, jobs
    name: str
    action: str  # "create", "update" or "keep"
    body: dict[str, Any]
    item_id: int | None = None

    def line(self) -> str:
        label = {"object_manager_attributes": "attribute", "jobs": "scheduler"}.get(
            self.kind, self.kind.rstrip("s")
        )
        return "%-6s %-9s %s" % (self.action, label, self.name)


class Secrets(NamedTuple):
    """What the region must hold for the webhook: a new value, or None to keep its own."""

    webhook_token: str | None
    webhook_secret: str | None


def webhook_url(public_base_url: str, token: str) -> str:
    return "%s/api/v3/webhook/zammad/?token=%s" % (public_base_url, token)


def deletes_tagged(job: dict[str, Any]) -> bool:
    """Whether the scheduler deletes the tickets our retention tags."""
    condition = (job.get("condition") or {}).get("ticket.tags") or {}
    return (
        deletes(job)
        and str(condition.get("operator", "")).startswith("contains")
        and DELETE_TAG in str(condition.get("value", "")).split(",")
    )


def deletes(job: dict[str, Any]) -> bool:
    """Whether the scheduler's action is to delete tickets."""
    return ((job.get("perform") or {}).get("ticket.action") or {}).get("value") == "delete"


def calls_webhook(trigger: dict[str, Any], webhook_id: Any) -> bool:
    """Whether the trigger's action is to call that webhook (Zammad's `perform`)."""
    called = (trigger.get("perform") or {}).get("notification.webhook") or {}
    return webhook_id is not None and called.get("webhook_id") == webhook_id


class ZammadSetup:
    def __init__(
        self,
        admin: ZammadAdmin,
        region: RegionRecord,
        group: str,
        public_base_url: str,
        rotate_secret: bool = False,
    ):
        self._admin = admin
        self._region = region
        self._group = group
        self._public_base_url = public_base_url
        self._rotate_secret = rotate_secret  # a new signing secret even if the region holds one

    def plan(self) -> tuple[list[Step], Secrets]:
        """The steps, read from Zammad (no write), and the region's new secrets if any."""
        admin, region = self._admin, self._region
        token = region.zammad_webhook_token or secrets.token_urlsafe(32)
        held = region.zammad_webhook_secret and not self._rotate_secret
        secret = None if held else secrets.token_hex(32)
        steps = [self._group_step(admin.list("groups"))]
        attributes = admin.list("object_manager_attributes")
        steps += [self._attribute_step(attributes, name) for name in ATTRIBUTES]
        url = webhook_url(self._public_base_url, token)
        webhooks = admin.list("webhooks")
        webhook = self._webhook_step(webhooks, url, secret, region.zammad_webhook_secret, region.slug)
        steps.append(webhook)
        steps.append(self._trigger_step(admin.list("triggers"), webhook.item_id, region.slug))
        if not region.zammad_deletes_tickets:
            steps.append(self._scheduler_step(admin.list("jobs")))
        new_token = None if region.zammad_webhook_token else token
        return steps, Secrets(new_token, secret)

    def apply(self, steps: list[Step]) -> list[Step]:
        """Send the steps' writes in order (the trigger names the webhook made before it)."""
        webhook_id = None
        migrate = False
        for step in steps:
            body = dict(step.body)
            if step.kind == "triggers" and webhook_id is not None:
                body["perform"] = {"notification.webhook": {"webhook_id": webhook_id}}
            if step.action == "create":
                made = self._admin.create(step.kind, body)
                item_id = made.get("id") if isinstance(made, dict) else None
            elif step.action == "update":
                self._admin.update(step.kind, int(step.item_id or 0), body)
                item_id = step.item_id
            else:
                item_id = step.item_id
            if step.kind == "webhooks":
                webhook_id = item_id
            migrate = migrate or (step.kind == "object_manager_attributes" and step.action != "keep")
        if migrate:
            self._admin.migrate()
        return steps

    # --- each object ----------------------------------------------------------------------
    def _group_step(self, groups: list[dict[str, Any]]) -> Step:
        found = next((g for g in groups if g.get("name") == self._group), None)
        if found is None:
            return Step("groups", self._group, "create", {"name": self._group, "active": True})
        action = "keep" if found.get("active") else "update"
        return Step("groups", self._group, action, {"active": True}, found.get("id"))

    @staticmethod
    def _attribute_step(attributes: list[dict[str, Any]], name: str) -> Step:
        display, data_type, option = ATTRIBUTES[name]
        body = {
            "name": name, "object": "Ticket", "display": display, "data_type": data_type,
            "data_option": option, "active": True, "screens": {}, "position": 1550,
        }  # fmt: skip
        found = next(
            (a for a in attributes if a.get("name") == name and a.get("object", "Ticket") == "Ticket"), None
        )
        if found is None:
            return Step("object_manager_attributes", name, "create", body)
        if found.get("active") and found.get("data_type") == data_type:
            return Step("object_manager_attributes", name, "keep", {}, found.get("id"))
        return Step("object_manager_attributes", name, "update", body, found.get("id"))

    @staticmethod
    def _webhook_step(
        webhooks: list[dict[str, Any]], url: str, secret: str | None, held: str | None, slug: str
    ) -> Step:
        """`secret`: a new one for the region; `held`: the one it has (a webhook made anew
        is signed with it)."""
        name = webhook_name(slug)
        body: dict[str, Any] = {"name": name, "endpoint": url, "ssl_verify": True, "active": True}
        if secret is not None:
            body["signature_token"] = secret
        # The region's by its endpoint first (one made by hand under another name), else by
        # the region's name: never one of another name pointing elsewhere (another region's).
        found = next((w for w in webhooks if w.get("endpoint") == url), None) or next(
            (w for w in webhooks if w.get("name") == name), None
        )
        if found is None:
            return Step("webhooks", name, "create", dict(body, signature_token=secret or held))
        name = str(found.get("name") or name)  # one made by hand keeps the name it was given
        if found.get("endpoint") == url and found.get("active") and secret is None:
            return Step("webhooks", name, "keep", {}, found.get("id"))
        return Step("webhooks", name, "update", dict(body, name=name), found.get("id"))

    @staticmethod
    def _trigger_step(triggers: list[dict[str, Any]], webhook_id: int | None, slug: str) -> Step:
        name = trigger_name(slug)
        body = {
            "name": name,
            "activator": "action",
            "execution_condition_mode": "always",
            "condition": trigger_condition(slug),
            "perform": {"notification.webhook": {"webhook_id": webhook_id}},
            "active": True,
        }
        found = next((t for t in triggers if calls_webhook(t, webhook_id)), None) or next(
            (t for t in triggers if t.get("name") == name), None
        )
        if found is None:
            return Step("triggers", name, "create", body)
        name = str(found.get("name") or name)
        if (
            calls_webhook(found, webhook_id)
            and found.get("active")
            and found.get("condition") == body["condition"]
        ):
            return Step("triggers", name, "keep", {}, found.get("id"))
        return Step("triggers", name, "update", dict(body, name=name), found.get("id"))

    @staticmethod
    def _scheduler_step(jobs: list[dict[str, Any]]) -> Step:
        body = {
            "name": SCHEDULER_NAME,
            "object": "Ticket",
            "timeplan": EVERY_HOUR,
            "condition": DELETE_TAGGED,
            "perform": {"ticket.action": {"value": "delete"}},
            "disable_notification": True,
            "active": True,
        }
        found = next((j for j in jobs if deletes_tagged(j)), None) or next(
            (j for j in jobs if j.get("name") == SCHEDULER_NAME), None
        )
        if found is None:
            return Step("jobs", SCHEDULER_NAME, "create", body)
        name = str(found.get("name"))
        if deletes_tagged(found) and found.get("active"):
            return Step("jobs", name, "keep", {}, found.get("id"))
        return Step("jobs", name, "update", dict(body, name=name), found.get("id"))
