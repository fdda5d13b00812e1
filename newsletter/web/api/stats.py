"""The list's numbers: how many in each status, and the weekly growth."""

from __future__ import annotations

from fastapi import APIRouter

from newsletter.web.api.schemas import StatsOut, WeekGrowth
from newsletter.web.deps import SessionDep
from subscribers.service import list_stats

router = APIRouter()


@router.get("/stats")
def stats(session: SessionDep) -> StatsOut:
    result = list_stats(session)
    return StatsOut(
        total=sum(result.by_status.values()),
        by_status={str(k): v for k, v in result.by_status.items()},
        growth=[
            WeekGrowth(week=g.week, new=g.new, confirmed=g.confirmed, unsubscribed=g.unsubscribed)
            for g in result.growth
        ],
    )
