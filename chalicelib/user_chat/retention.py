"""Retention, enforced on our tables and on Zammad alike (docs/privacy.md, "Retention").

Every hour, per region: a chat without a message for `INTEGREAT_CHAT_TICKET_RETENTION_DAYS`
has its ticket closed in Zammad with an internal note (one call), its deletion scheduled
`retention_delete_days` later, and is forgotten here with its files. Tickets whose time has
come are deleted in Zammad (`zammad_deletes_tickets`) or tagged `integreat-chat-delete` for
a Zammad scheduler that deletes them (the token cannot). A Zammad that fails keeps that chat
or ticket for the next run; one region's failure never stops another's. `dry_run` reports
what a run would do and changes nothing.
"""

from typing import Any

from chalicelib.platform import telemetry
from chalicelib.platform.times import utc_datetime
from chalicelib.regions.rules import chat_configured, delete_days
from chalicelib.storage.models import RegionRecord
from chalicelib.storage.small_tables import TicketDeletions
from chalicelib.user_chat.context import ChatContext
from chalicelib.user_chat.deletion import close_ticket
from chalicelib.user_chat.tickets import DELETE_TAG
from chalicelib.user_chat.zammad import TicketGone
from chalicelib.web.errors import ApiError

CLOSED_NOTE_SUBJECT = "Integreat Chat: closed after the retention"
CLOSED_NOTE = (
    "<p>No message for %d days: Integreat Chat closed this chat and no longer holds it. "
    "It deletes this ticket after another %d days.</p>"
)
KEPT_AFTER_DUE_DAYS = 30  # a deletion record outlives its due time this long (a job that was down)
COUNTS = ("forgotten", "files", "closed", "deleted", "tagged", "zammad_failed")


class Retention:
    def __init__(self, context: ChatContext, deletions: TicketDeletions):
        self._context = context
        self._deletions = deletions
        self._clock = context.clock

    def run(self, regions: list[RegionRecord], dry_run: bool = False) -> dict[str, Any]:
        report = dict.fromkeys(COUNTS, 0)
        for region in regions:
            for key, count in self._region(region, dry_run).items():
                report[key] += count
        for action in COUNTS:
            if report[action] and not dry_run:
                telemetry.count("RetentionChats", report[action], Action=action)
        return dict(report, regions=len(regions), dry_run=dry_run)

    def _region(self, region: RegionRecord, dry_run: bool) -> dict[str, int]:
        context, now = self._context, self._clock()
        since = now - context.store.retention_seconds
        counts = dict.fromkeys(COUNTS, 0)
        zammad_ok = chat_configured(region)
        for chat in context.store.inactive(region.slug, since):
            if chat.ticket_id and zammad_ok:
                if not dry_run:
                    # Held as a deletion holds it: the closing note is the ticket's last.
                    if not context.store.begin_deletion(chat, now, now + context.lease_seconds()):
                        continue  # a write or a deletion in flight: the next run looks again
                    if not self._close(region, int(chat.ticket_id), counts):
                        context.store.end_deletion(chat)
                        continue  # Zammad failed: the chat waits for the next run
                counts["closed"] += 1
            if dry_run:
                counts["forgotten"] += 1
                continue
            if context.store.forget_if_inactive(chat, since):
                counts["forgotten"] += 1
                if context.attachments is not None:
                    counts["files"] += context.attachments.forget(chat.chat_key)
        for ticket_id in self._deletions.due(region.slug, now) if zammad_ok else []:
            kind = "deleted" if region.zammad_deletes_tickets else "tagged"
            if dry_run or self._delete(region, ticket_id, counts):
                counts[kind] += 1
        return counts

    def _close(self, region: RegionRecord, ticket_id: int, counts: dict[str, int]) -> bool:
        """Close the ticket and schedule its deletion; False when Zammad failed."""
        days = delete_days(region)
        note = CLOSED_NOTE % (self._context.store.retention_seconds // 86400, days)
        try:
            # A client per ticket: each call gets a fresh time budget.
            close_ticket(self._context.zammad(region), ticket_id, CLOSED_NOTE_SUBJECT, note)
        except TicketGone:
            return True  # Zammad deleted it already: nothing to schedule
        except ApiError:
            counts["zammad_failed"] += 1
            return False
        due = self._clock() + days * 86400
        self._deletions.schedule(region.slug, ticket_id, due, utc_datetime(due + KEPT_AFTER_DUE_DAYS * 86400))
        return True

    def _delete(self, region: RegionRecord, ticket_id: int, counts: dict[str, int]) -> bool:
        zammad = self._context.zammad(region)  # a fresh time budget for each ticket
        try:
            if region.zammad_deletes_tickets:
                zammad.delete_ticket(ticket_id)
            else:
                zammad.tag_ticket(ticket_id, DELETE_TAG)
        except TicketGone:
            pass  # Zammad deleted it already
        except ApiError:
            counts["zammad_failed"] += 1
            return False
        self._deletions.done(region.slug, ticket_id)
        return True
