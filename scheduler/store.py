"""APScheduler's job table, declared here so that an Alembic migration creates it (every
schema change is a migration); the job store then finds it and creates nothing."""

from __future__ import annotations

from sqlalchemy import Column, Float, LargeBinary, Table, Unicode
from sqlmodel import SQLModel

JOBS_TABLE = "apscheduler_jobs"

# The same columns as apscheduler.jobstores.sqlalchemy.SQLAlchemyJobStore (3.x) makes.
jobs = Table(
    JOBS_TABLE,
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
