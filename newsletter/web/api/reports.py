"""An issue's report: what went out and what became of it (`newsletter.analytics`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from newsletter.analytics import issue_report
from newsletter.publishing.models import ISSUE_NUMBER_MAX
from newsletter.web.api.schemas import IssueReportOut
from newsletter.web.deps import SessionDep

router = APIRouter(prefix="/issues")

IssueNumber = Annotated[int, Path(ge=1, le=ISSUE_NUMBER_MAX)]


@router.get("/{number}/report")
def issue_report_get(session: SessionDep, number: IssueNumber) -> IssueReportOut:
    """Audience, ledger states, deliveries, bounces (hard and soft apart), complaints,
    opens (machine opens apart), clicks, their rates and the clicked links; 404 for an
    issue that does not exist, zeros and `sent: false` for one not sent yet."""
    return IssueReportOut.model_validate(issue_report(session, number).as_dict())
