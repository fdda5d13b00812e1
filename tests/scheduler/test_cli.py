"""`newsletter scheduler` logs as NEWSLETTER_LOG_FORMAT says: with `json`, every line of a
real `scheduler --once` run is one JSON object, and the send's line carries the issue and
its counts as fields of their own. With a metrics directory configured, its SendGrid
requests are counted there, where `serve`'s scrape reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from newsletter.core.metrics import scrape
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from tests.factories import comparison, write_content
from tests.newsletter.sending.test_sender import KEY, add_subscribers


def test_the_scheduler_logs_json_lines_and_counts_its_requests_in_the_metrics_directory(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = write_content(tmp_path / "content", [comparison("today", datetime.now(UTC).date())])
    people = add_subscribers(engine, 4)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ.update(
        NEWSLETTER_ENV_FILE=os.devnull,
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_CONTENT_DIR=str(root),
        NEWSLETTER_POSTAL_ADDRESS=settings.postal_address,
        NEWSLETTER_SITE_URL=settings.site_url,
        NEWSLETTER_AUTO_SEND="true",
        NEWSLETTER_LOG_FORMAT="json",
        NEWSLETTER_BACKEND="sendgrid",
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),  # made by the scheduler
    )
    command = [sys.executable, "-c", "from newsletter.cli.main import main; main()"]

    with StandIn(api_keys=[KEY]) as standin:
        environ["NEWSLETTER_SENDGRID_HOST"] = standin.url
        done = subprocess.run(
            [*command, "scheduler", "--once"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines, done.stderr
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert all(datetime.fromisoformat(line["time"]).tzinfo is not None for line in lines)
    [built] = [line for line in lines if "built and approved" in line["message"]]
    assert (built["issue"], built["level"], built["logger"]) == (1, "INFO", "scheduler")
    [sent] = [line for line in lines if line.get("status") == "sent"]
    assert sent["issue"] == 1
    assert (sent["accepted"], sent["failed"], sent["unknown"]) == (len(people.active), 0, 0)
    scraped = scrape(tmp_path / "metrics").decode()
    batches = -(-len(people.active) // 2)
    answered = f'newsletter_sendgrid_request_seconds_count{{outcome="answered"}} {batches:.1f}'
    assert answered in scraped  # one request per batch of two, timed in the scheduler
