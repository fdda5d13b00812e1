"""When the weekly issue fires: the cron expression read in local time, across daylight
saving, and bad settings as one line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.issues import build_issue
from newsletter.publishing.schedule import ScheduleError, next_fire, weekly_trigger
from newsletter.publishing.weeks import week_of
from tests.factories import comparison, write_content
from tests.scheduler.helpers import BERLIN


def _fires(settings: Settings, start: datetime, count: int) -> list[datetime]:
    trigger = weekly_trigger(settings)
    out: list[datetime] = []
    previous, now = None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        out.append(fire)
        previous, now = fire, fire
    return out


@pytest.mark.parametrize(
    ("start", "utc_hours"),
    [
        (datetime(2026, 10, 13, 12, tzinfo=BERLIN), [6, 7, 7]),  # summer time ends Oct 25
        (datetime(2026, 3, 17, 12, tzinfo=BERLIN), [7, 6, 6]),  # summer time starts Mar 29
    ],
)
def test_weekly_fire_time_across_daylight_saving(
    settings: Settings, start: datetime, utc_hours: list[int]
) -> None:
    settings.schedule, settings.timezone = "0 8 * * mon", "Europe/Berlin"
    fires = _fires(settings, start, 3)
    assert [f.astimezone(BERLIN).hour for f in fires] == [8, 8, 8]  # always 08:00 local
    assert [f.astimezone(UTC).hour for f in fires] == utc_hours
    days = [f.date() for f in fires]
    assert [(b - a).days for a, b in pairwise(days)] == [7, 7]
    assert len({week_of(d) for d in days}) == 3  # one run per week: none skipped, none doubled


def test_a_doubled_local_hour_still_makes_one_issue(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """`30 2 * * sun` in Berlin fires twice on the night summer time ends (02:30 happens
    twice); the week still gets one issue, because one issue per week is a constraint."""
    settings.schedule, settings.timezone = "30 2 * * sun", "Europe/Berlin"
    fires = _fires(settings, datetime(2026, 10, 20, tzinfo=BERLIN), 2)
    assert {f.date() for f in fires} == {date(2026, 10, 25)}
    root = write_content(tmp_path / "content", [comparison("one", "2026-10-21")])
    from newsletter.publishing.content import load_content

    with session_scope(engine) as session:
        load_content(session, root)
    created = []
    for fire in fires:
        with session_scope(engine) as session:
            created.append(build_issue(session, week_of(fire.date()), settings).created)
    assert created == [True, False]


def test_bad_schedule_and_zone_are_one_line_errors(settings: Settings) -> None:
    settings.schedule = "0 8 * *"
    with pytest.raises(
        ScheduleError, match="NEWSLETTER_SCHEDULE: '0 8 \\* \\*' is not a five-field"
    ):
        weekly_trigger(settings)
    settings.schedule, settings.timezone = "0 8 * * mon", "Mars/Olympus"
    with pytest.raises(ScheduleError, match="NEWSLETTER_TIMEZONE: unknown time zone"):
        weekly_trigger(settings)


def test_next_fire_is_in_local_time(settings: Settings) -> None:
    settings.timezone = "America/New_York"
    fire = next_fire(settings, datetime(2026, 11, 25, 12, tzinfo=UTC)).fires_at
    assert fire == datetime(2026, 11, 30, 8, tzinfo=ZoneInfo("America/New_York"))
