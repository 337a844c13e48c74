"""Time conversions used across the core. Business time is epoch seconds from an injected
clock (`Services(settings, clock, ...)`), so tests travel in time instead of sleeping."""

from datetime import UTC, datetime


def utc_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as Zammad and the app write it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
