"""`newsletter demo` and `newsletter dev sendgrid`: the development tools."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import get_engine, session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.core.sql import row_id
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import SendRecipient, make_room
from subscribers.models import Source, Subscriber
from subscribers.service import add_subscriber, forget

runner = CliRunner()


def test_demo_runs_twice_without_duplicating(env: Settings, tmp_path: Path) -> None:
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "issue #1 for 2026-W48: built" in first.output
    files = sorted(env.outbox_dir.rglob("*.eml"))
    assert len(files) == 5
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0, second.output
    assert "issue #1 for 2026-W48: already built" in second.output
    assert "0 demo subscriber(s) added" in second.output
    assert sorted(env.outbox_dir.rglob("*.eml")) == files
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("Verdicts #1: ")


def test_dev_sendgrid_is_registered() -> None:
    shown = runner.invoke(app, ["dev", "sendgrid", "--help"])
    assert shown.exit_code == 0
    assert "--port" in shown.output
    assert "--events-to" in shown.output
    assert "stand-in" in shown.output


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("NEWSLETTER_ENVIRONMENT", "production", "NEWSLETTER_ENVIRONMENT=production"),
        ("NEWSLETTER_BACKEND", "sendgrid", "NEWSLETTER_BACKEND=outbox"),
    ],
)
def test_demo_refuses_production_and_a_real_provider(
    env: Settings, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert says in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not env.outbox_dir.exists()
    monkeypatch.delenv(variable)  # read back as development, which may open any schema
    get_settings.cache_clear()
    with session_scope(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 0


def test_demo_never_touches_a_list_it_did_not_make(env: Settings) -> None:
    with session_scope(get_engine(), immediate=True) as session:
        add_subscriber(session, "reader@example.com", source=Source.IMPORT, confirmed=True)

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert "holds 1 subscriber(s) it did not add" in result.output
    with session_scope(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 1
        assert session.exec(select(func.count()).select_from(Issue)).one() == 0


def test_demo_refuses_a_database_whose_issues_went_to_other_people(env: Settings) -> None:
    """The list may be gone (forgotten, exported elsewhere), but the ledger remembers that
    an issue was sent to people the demo did not add."""
    assert runner.invoke(app, ["demo"]).exit_code == 0
    with session_scope(get_engine(), immediate=True) as session:
        issue_id = row_id(session.exec(select(Issue)).one().id)
        make_room(session.connection(), issue_id)
        session.add(SendRecipient(issue_id=issue_id, subscriber_id=999_999, batch_seq=0))

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert "1 issue(s) sent to people other than its demo subscribers" in result.output


def _stand_in_says(
    extra_env: dict[str, str],
    cwd: Path,
    *options: str,
    until: str = "newsletter issue send",
) -> str:
    """What `newsletter dev sendgrid` prints in an 80-column terminal, up to the line that
    ends with `until`; the stand-in is stopped with Ctrl-C (SIGINT) once it has said it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "SENDGRID_"))}
    env.update({"COLUMNS": "80", "LINES": "24", **extra_env})
    command = [sys.executable, "-c", "from newsletter.cli.main import main; main()"]
    process = subprocess.Popen(
        [*command, "dev", "sendgrid", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert process.stdout is not None
    said: queue.Queue[str] = queue.Queue()

    def listen(stream: IO[str]) -> None:
        for line in stream:
            said.put(line)

    threading.Thread(target=listen, args=(process.stdout,), daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while not lines or not lines[-1].rstrip().endswith(until):
            lines.append(said.get(timeout=max(0.01, deadline - time.monotonic())))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    return "".join(lines)


def _paste(
    printed: str, tmp_path: Path, env: dict[str, str], *, also: tuple[str, ...] = ()
) -> dict[str, str]:
    """Paste what follows the instructions into a real shell, as a person would, with a
    `newsletter` that reports the environment it was started with, and whether urllib (what
    the sendgrid client sends with) would go past the proxy to the stand-in (`DIRECT`)."""
    pasted = printed.split(":\n", 1)[1]  # everything after the line that ends in a colon
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    spy = bin_dir / "newsletter"
    names = (
        "NEWSLETTER_BACKEND",
        "NEWSLETTER_SENDGRID_HOST",
        "SENDGRID_API_KEY",
        "NO_PROXY",
        "no_proxy",
        *also,
    )
    direct = (
        "import os, urllib.request as u; "
        "print(bool(u.proxy_bypass_environment("
        "os.environ['NEWSLETTER_SENDGRID_HOST'].split('//', 1)[1])))"
    )
    spy.write_text(
        "#!/bin/sh\n"
        + "".join(f'echo "{name}=${name}"\n' for name in names)
        + f'echo "DIRECT=$({sys.executable} -c "{direct}")"\n'
        + 'echo "ARGS=$*"\n'
    )
    spy.chmod(0o755)
    shell = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", pasted],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr
    return dict(line.split("=", 1) for line in shell.stdout.splitlines())


def test_the_stand_ins_command_survives_a_paste_from_an_80_column_terminal(
    tmp_path: Path,
) -> None:
    printed = _stand_in_says({"NO_PROXY": "proxy.corp.example"}, tmp_path)
    url = re.search(r"SendGrid stand-in at (http://127\.0\.0\.1:\d+)", printed)
    assert url is not None, printed
    seen = _paste(printed, tmp_path, {"NO_PROXY": "proxy.corp.example"})
    assert seen == {
        "NEWSLETTER_BACKEND": "sendgrid",
        "NEWSLETTER_SENDGRID_HOST": url[1],
        "SENDGRID_API_KEY": "dev-key",
        "NO_PROXY": "127.0.0.1,proxy.corp.example",  # added to, not replaced
        "no_proxy": "127.0.0.1,proxy.corp.example",  # what urllib reads, with the same hosts
        "DIRECT": "True",
        "ARGS": "issue send",
    }


def test_a_configured_api_key_is_not_echoed_but_still_used(tmp_path: Path) -> None:
    secret = "SG.a-real-looking-key-that-should-stay-off-the-screen"
    printed = _stand_in_says({"SENDGRID_API_KEY": secret}, tmp_path)
    assert secret not in printed
    assert "SENDGRID_API_KEY already configured" in printed
    # The key was only in this shell: the other terminal is told plainly it needs it.
    said = " ".join(printed.split())
    assert "The other terminal must have SENDGRID_API_KEY too." in said
    assert "a key exported only in this shell must be exported there" in said
    seen = _paste(printed, tmp_path, {"SENDGRID_API_KEY": secret})
    assert seen["SENDGRID_API_KEY"] == secret
    assert seen["NEWSLETTER_BACKEND"] == "sendgrid"
    assert seen["NO_PROXY"] == "127.0.0.1"
    assert seen["no_proxy"] == "127.0.0.1"


def test_demo_never_sends_an_issue_an_editor_built(env: Settings) -> None:
    """An editor's approved issue for the very week the demo builds: the demo would send
    it to its five addresses and mark it sent, so the real send would never happen."""
    assert runner.invoke(app, ["content", "load"]).exit_code == 0
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert "holds 1 issue(s) that it did not send" in result.output
    with session_scope(get_engine()) as session:
        assert session.exec(select(Issue)).one().status == "approved"
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 0
    assert not env.outbox_dir.exists()


def test_demo_runs_again_after_one_of_its_subscribers_was_forgotten(env: Settings) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    assert runner.invoke(app, ["subscribers", "forget", "ada@example.com", "--yes"]).exit_code == 0

    again = runner.invoke(app, ["demo"])

    assert again.exit_code == 0, again.output
    assert "0 demo subscriber(s) added" in again.output  # a forgotten address stays gone


def test_demo_refuses_a_database_where_someone_else_was_forgotten(env: Settings) -> None:
    with session_scope(get_engine(), immediate=True) as session:
        forget(session, "reader@example.com")

    result = runner.invoke(app, ["demo"])

    assert result.exit_code != 0
    assert "1 forgotten address(es) that were not its own" in result.output


def test_the_pasted_lines_reach_the_stand_in_past_a_lowercase_proxy(tmp_path: Path) -> None:
    """urllib reads `no_proxy` over `NO_PROXY`: a shell with a lowercase `http_proxy` and
    `no_proxy` sent the stand-in's requests to the proxy, since only NO_PROXY named it."""
    shell = {
        "http_proxy": "http://proxy.invalid:3128",
        "https_proxy": "http://proxy.invalid:3128",
        "no_proxy": "lower.corp.example",
        "NO_PROXY": "upper.corp.example",
    }
    printed = _stand_in_says(shell, tmp_path)
    seen = _paste(printed, tmp_path, shell)
    assert seen["DIRECT"] == "True"
    assert seen["no_proxy"] == "127.0.0.1,upper.corp.example,lower.corp.example"
    assert seen["NO_PROXY"] == "127.0.0.1,upper.corp.example"


def test_with_events_to_the_stand_in_prints_the_lines_for_the_web_services_terminal(
    tmp_path: Path,
) -> None:
    """The second block is for the terminal of `newsletter serve`: the same backend and the
    public key the events are signed with, in the form SENDGRID_WEBHOOK_PUBLIC_KEY takes."""
    hook = "http://127.0.0.1:8123/webhooks/sendgrid"
    printed = _stand_in_says(
        {}, tmp_path, "--events-to", hook, "--seed", "1", until="newsletter serve --port 8123"
    )
    assert f"Events about what it accepts go to {hook}" in " ".join(printed.split())
    send_part, serve_block = (
        printed.split("newsletter issue send\n", 1)[0],
        printed.rsplit(":\n", 1)[1],
    )
    assert "export NEWSLETTER_BACKEND=sendgrid" in send_part
    assert "WEBHOOK" not in send_part  # the sending terminal needs no key
    seen = _paste("x:\n" + serve_block, tmp_path, {}, also=("SENDGRID_WEBHOOK_PUBLIC_KEY",))
    assert seen["ARGS"] == "serve --port 8123"
    assert seen["NEWSLETTER_BACKEND"] == "sendgrid"
    assert seen["NEWSLETTER_SENDGRID_HOST"].startswith("http://127.0.0.1:")
    key = serialization.load_der_public_key(base64.b64decode(seen["SENDGRID_WEBHOOK_PUBLIC_KEY"]))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert (
        get_settings()
        .model_validate({"SENDGRID_WEBHOOK_PUBLIC_KEY": seen["SENDGRID_WEBHOOK_PUBLIC_KEY"]})
        .sendgrid_webhook_public_key
        == seen["SENDGRID_WEBHOOK_PUBLIC_KEY"]
    )


def test_bad_event_shares_are_refused_in_one_line() -> None:
    result = runner.invoke(
        app,
        [
            "dev",
            "sendgrid",
            "--events-to",
            "http://127.0.0.1:1/h",
            "--hard-bounces",
            "0.7",
            "--drops",
            "0.7",
        ],
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: newsletter dev sendgrid: hard-bounces + soft-bounces + drops + processed-only "
        "must be at most 1, not 1.405"
    ]
