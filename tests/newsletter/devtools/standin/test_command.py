"""`python -m newsletter.devtools.standin`, as the benchmark and other processes start it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import sendgrid

from tests.newsletter.devtools.standin.helpers import (
    KEY,
    mail,
    send,
)
from tests.newsletter.devtools.standin.receiver import receiving


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


def test_with_events_to_the_public_key_is_the_second_line_and_events_arrive() -> None:
    with receiving() as receiver:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "newsletter.devtools.standin", "--api-key", KEY),
                *("--events-to", receiver.url, "--seed", "3", "--hard-bounces", "0"),
                *("--soft-bounces", "0", "--opens", "0", "--deferrals", "0", "--duplicates", "0"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            name, _, key = process.stdout.readline().strip().partition("=")
            assert name == "SENDGRID_WEBHOOK_PUBLIC_KEY"
            receiver.public_key = key
            client = sendgrid.SendGridAPIClient(api_key=KEY, host=url)
            client.client.timeout = 5
            assert send(client, mail()).status_code == 202
            deadline = time.monotonic() + 10
            while len(receiver.events()) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert all(post.signed for post in receiver.posts)
    assert [e["event"] for e in receiver.events()] == ["processed", "delivered"] * 2
