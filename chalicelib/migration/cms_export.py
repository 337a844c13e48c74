"""Switching back (docs/migrating.md): this backend's chats and draws as a fixture the
Integreat CMS loads (`integreat-cms-cli loaddata FILE`), so nothing a person wrote here is
lost when the nginx locations go back to the CMS.

Django's fixture format, as the CMS's own dump writes it, with no pk: loaddata makes each a
new row, whose pk is then the highest, which is what makes it the device's current chat or
draw in the CMS. Foreign keys are the CMS's pks, so the region and language pks come from a
dump of the CMS (`integreat-cms-cli dumpdata cms.region cms.language`, or the dump that was
imported: pks do not change). Each chat keeps its ticket, language, start and last message
time; a chat begun here after the switch has a ticket the CMS has never seen, and the CMS
reads its messages from Zammad as it reads every chat's.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.migration.cms_dump import Refused, is_key
from chalicelib.storage.models import ChatAssignmentRecord
from chalicelib.user_chat.service import ASSIGNMENT_DAYS

if TYPE_CHECKING:
    from chalicelib.user_chat.service import CmsChats


class Export(NamedTuple):
    records: list[dict[str, Any]]
    refused: list[Refused]


def cms_time(epoch: float) -> str:
    """A time as the CMS's dump writes it: "2026-12-05T13:09:09.657Z"."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cms_pks(dump: list[dict[str, Any]], model: str) -> dict[str, int]:
    """slug -> pk of a model (cms.region, cms.language) in a CMS dump."""
    return {
        record["fields"]["slug"]: record["pk"]
        for record in dump
        if isinstance(record, dict)
        and record.get("model") == model
        and isinstance(record.get("fields"), dict)
        and isinstance(record["fields"].get("slug"), str)
        and is_key(record.get("pk"))
    }


def export(
    cms_dump: list[dict[str, Any]],
    regions: set[str] | None,
    since: float,
    now: float,
    retention_seconds: float,
    chats: "CmsChats",
) -> Export:
    """Every open chat with a message since `since` (and within the retention), and every
    draw made since then, of the regions given (None: all the CMS dump knows). `chats`:
    the user chat's part for the switch-over (UserChats.cms_chats)."""
    region_pks, language_pks = cms_pks(cms_dump, "cms.region"), cms_pks(cms_dump, "cms.language")
    wanted = set(region_pks) if regions is None else regions & set(region_pks)
    records, refused = [], []
    for region in sorted(wanted):
        lower = max(since, now - retention_seconds)
        for full in chats.open_since(region, lower):
            if full.language not in language_pks:
                reason = "the CMS has no language %r" % full.language
                refused.append(
                    Refused("chat %s… in %s" % (full.chat_key.split("#", 1)[1][:8], region), reason)
                )
                continue
            started = full.claimed_at if full.claimed_at is not None else full.last_activity
            records.append(
                {
                    "model": "cms.userchat",
                    "fields": {
                        "device_id": full.chat_key.split("#", 1)[1],
                        "zammad_id": int(full.ticket_id),
                        "region": region_pks[region],
                        "language": language_pks[full.language],
                        "total_words_generated": 0,
                        "created_timestamp": cms_time(float(started)),
                        "last_message_timestamp": cms_time(float(full.last_activity)),
                    },
                }
            )
        for draw in ChatAssignmentRecord.scan(ChatAssignmentRecord.assignment_key.startswith(region + "#")):
            # Drawn a year before it expires; the TTL is whole seconds, cut down.
            drawn_at = draw.expires_at.timestamp() - ASSIGNMENT_DAYS * 86400
            if drawn_at + 1 > since:
                records.append(
                    {
                        "model": "cms.abtester",
                        "fields": {
                            "device_id": draw.assignment_key.split("#", 1)[1],
                            "region": region_pks[region],
                            "is_tester": bool(draw.enabled),
                        },
                    }
                )
    for region in sorted((regions or set()) - set(region_pks)):
        refused.append(Refused("--region %s" % region, "the CMS dump holds no region of that slug"))
    return Export(records, refused)
