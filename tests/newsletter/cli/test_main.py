"""The `newsletter` command as a whole: the installed entry point, and the one place where
errors become one line and an exit status."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import db
from newsletter.cli.main import app
from newsletter.core.errors import Conflict, InvalidInput, NewsletterError, NotFound, Refused
from newsletter.core.settings import PROJECT_ROOT, Settings

runner = CliRunner()


def test_console_script_prints_one_line_errors(tmp_path: Path) -> None:
    """The installed entry point, in a real process: a broken database URL is one line."""
    exe = shutil.which("newsletter", path=str(Path(sys.executable).parent))
    assert exe, "the console script is installed with the package"
    result = subprocess.run(
        [exe, "issue", "build"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "NEWSLETTER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        },
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database:")


@pytest.mark.parametrize(
    ("raised", "status", "line"),
    [
        (NotFound("there is no issue #9"), 1, "error: there is no issue #9"),
        (Conflict("it is sending"), 1, "error: it is sending"),
        (InvalidInput("'48' is not an ISO week"), 1, "error: '48' is not an ISO week"),
        (Refused("the link expired"), 1, "error: the link expired"),
        (NewsletterError("of no kind"), 1, "error: of no kind"),
        (KeyboardInterrupt(), 130, "error: interrupted"),
        (RuntimeError("a bug"), 2, "error: unexpected RuntimeError: a bug"),
    ],
)
def test_every_failure_is_one_line_and_an_exit_status(
    env: Settings,
    monkeypatch: pytest.MonkeyPatch,
    raised: BaseException,
    status: int,
    line: str,
) -> None:
    def failing(*args: object) -> bool:
        raise raised

    monkeypatch.setattr(db, "upgrade", failing)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == status
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(line)
    assert "Traceback" not in result.output
