"""`python -m newsletter.devtools.standin`, as the benchmark and other processes start it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import sendgrid

from tests.newsletter.devtools.standin.helpers import (
    KEY,
    mail,
    send,
)


def test_runs_as_a_subprocess_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter.devtools.standin", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = sendgrid.SendGridAPIClient(api_key=KEY, host=url)
        client.client.timeout = 5
        assert send(client, mail()).status_code == 202
        with urllib.request.urlopen(f"{url}/_standin/accepted", timeout=5) as response:  # noqa: S310
            assert json.loads(response.read())["recipients"] == [
                "ada@example.com",
                "grace@example.com",
            ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
