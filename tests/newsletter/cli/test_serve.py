"""`newsletter serve` and `newsletter preview` sit at the root; both run a server in the
foreground, so only their registration and options are checked here (the preview server
itself is tested with the web app)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from tests.newsletter.web.helpers import ADMIN

runner = CliRunner()


@pytest.mark.parametrize(
    ("command", "options"),
    [("serve", ["--host", "--port", "--workers"]), ("preview", ["--week", "--port", "--open"])],
)
def test_server_commands_are_registered_at_the_root(command: str, options: list[str]) -> None:
    shown = runner.invoke(app, [command, "--help"])
    assert shown.exit_code == 0, shown.output
    for option in options:
        assert option in shown.output
    assert f"Example: newsletter {command}" in " ".join(shown.output.split())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[str], patience: float = 120) -> None:
    """Workers start slowly on a busy machine: poll until one answers (or the server died)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if httpx.get(url, trust_env=False, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_serve_with_two_workers_sums_their_metrics_on_the_metrics_port_and_logs_json(
    tmp_path: Path,
) -> None:
    """The supervising process answers the metrics port and handles no request itself, so
    what it shows was counted by the workers: every one of the refused webhook POSTs,
    whichever worker took it. The app has no /metrics then, and every log line (uvicorn's
    access log included) is one JSON object."""
    app_port, metrics_port = _free_port(), _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "PROM"))}
    environ.update(
        NEWSLETTER_ENV_FILE=os.devnull,
        NEWSLETTER_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        NEWSLETTER_SECRET_KEY="test-secret-key-" + "x" * 32,
        NEWSLETTER_ADMIN_TOKEN="admin-test-token",
        NEWSLETTER_OUTBOX_DIR=str(tmp_path / "outbox"),
        NEWSLETTER_METRICS_PORT=str(metrics_port),
        NEWSLETTER_LOG_FORMAT="json",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    command = [sys.executable, "-c", "from newsletter.cli.main import main; main()", "serve"]
    base = f"http://127.0.0.1:{app_port}"
    process = subprocess.Popen(
        [*command, "--port", str(app_port), "--workers", "2"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"{base}/healthz", process)
        refused = [
            httpx.post(f"{base}/webhooks/sendgrid", content=b"[]", trust_env=False, timeout=10)
            for _ in range(6)  # a connection each: the kernel spreads them over the workers
        ]
        on_app = httpx.get(f"{base}/metrics", headers=ADMIN, trust_env=False, timeout=10)
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", trust_env=False)
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)

    assert [answer.status_code for answer in refused] == [503] * 6
    assert on_app.status_code == 404
    assert scraped.status_code == 200
    assert 'newsletter_events_rejected_total{reason="not_configured"} 6.0' in scraped.text
    assert "newsletter_recipients{" in scraped.text  # the ledger, read from the database
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), log
    posts = [line for line in lines if line.get("path") == "/webhooks/sendgrid"]
    assert len(posts) == 6
    assert {"logger": "uvicorn.access", "method": "POST", "status": 503}.items() <= posts[0].items()


def test_a_metrics_port_in_use_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
        environ.update(
            NEWSLETTER_ENV_FILE=os.devnull,
            NEWSLETTER_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
            NEWSLETTER_SECRET_KEY="test-secret-key-" + "x" * 32,
            NEWSLETTER_METRICS_PORT=str(busy),
        )
        done = subprocess.run(
            [sys.executable, "-c", "from newsletter.cli.main import main; main()", "serve"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"NEWSLETTER_METRICS_PORT: cannot listen on 127.0.0.1:{busy}" in said
    assert "Traceback" not in said
    assert "Uvicorn running" not in said
