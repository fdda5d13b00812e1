"""When the weekly issue fires: NEWSLETTER_SCHEDULE (five-field cron) in NEWSLETTER_TIMEZONE.

Here, not in `scheduler/`, because editors ask it too (`newsletter issue next`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings


class ScheduleError(InvalidInput):
    """NEWSLETTER_SCHEDULE or NEWSLETTER_TIMEZONE cannot be used; the message names which."""


def zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"NEWSLETTER_TIMEZONE: unknown time zone '{settings.timezone}' (use an IANA name "
            "such as Europe/Berlin)"
        ) from None


def weekly_trigger(settings: Settings) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(settings.schedule, timezone=zone(settings))
    except ValueError as exc:
        raise ScheduleError(
            f"NEWSLETTER_SCHEDULE: '{settings.schedule}' is not a five-field cron expression "
            f"({exc})"
        ) from None


@dataclass(frozen=True)
class NextRun:
    fires_at: datetime | None  # in the configured zone
    zone: str


def next_fire(settings: Settings, now: datetime) -> NextRun:
    return NextRun(weekly_trigger(settings).get_next_fire_time(None, now), settings.timezone)
