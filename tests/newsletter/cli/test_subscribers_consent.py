"""`newsletter subscribers confirm-pending` and `consent`, and the hints `add` and `import`
give: nobody an operator brings stays pending with nothing that will change it."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.core.settings import Settings, get_settings
from newsletter.devtools.standin import StandIn
from tests.newsletter.cli.test_subscribers import one_error, run
from tests.newsletter.sending.mailbox import outbox
from tests.newsletter.sending.test_sender import KEY

HINT = "`newsletter subscribers confirm-pending` sends the confirmation email"


def test_add_and_import_without_confirmed_say_how_the_address_gets_asked(
    env: Settings, tmp_path: Path
) -> None:
    code, out = run("add", "ada@example.com")
    assert code == 0
    assert f"pending: not mailed until they confirm; {HINT}" in out
    code, out = run("add", "grace@example.org", "--confirmed")
    assert code == 0
    assert "confirm-pending" not in out
    members = tmp_path / "members.csv"
    members.write_text("email\nbob@example.com\ncy@example.com\nada@example.com\n")
    code, out = run("import", str(members))
    assert code == 0
    assert f"2 new address(es) pending: {HINT}" in out
    code, out = run("import", str(members))  # nothing new: nothing to say
    assert "confirm-pending" not in out


def test_confirm_pending_sends_each_pending_address_one_email_and_says_how_many(
    env: Settings,
) -> None:
    for address in ("ada@example.com", "bob@example.com"):
        run("add", address)
    run("add", "cy@example.com", "--confirmed")
    run("add", "dee@example.com", "--confirmed")
    run("unsubscribe", "dee@example.com")
    run("set-status", "dee@example.com", "pending", "--reason", "moved by mistake")

    code, out = run("confirm-pending")
    assert code == 0, out
    assert "sent 2 confirmation email(s) through outbox" in out
    assert "left alone: 1 pending address(es) that once opted out" in out
    assert set(outbox(env.outbox_dir)) == {"ada@example.com", "bob@example.com"}
    code, out = run("show", "ada@example.com")
    assert "confirmation sent" in out
    code, out = run("confirm-pending")
    assert (code, out.splitlines()[0]) == (0, "sent 0 confirmation email(s) through outbox")
    assert len(outbox(env.outbox_dir)) == 2


def test_confirm_pending_names_what_it_could_not_send_and_exits_1(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("add", "ada@example.com")
    run("add", "bob@example.com")
    with StandIn(api_keys=[KEY]) as standin:
        for name, value in {
            "NEWSLETTER_BACKEND": "sendgrid",
            "SENDGRID_API_KEY": KEY,
            "NEWSLETTER_SENDGRID_HOST": standin.url,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        standin.inject("error", count=1, status=500)
        code, out = run("confirm-pending")
        assert code == 1
        assert "sent 1 confirmation email(s) through sendgrid" in out
        assert one_error(out) == (
            "error: 1 confirmation email(s) could not be sent (ada@example.com); "
            "run the command again to retry them"
        )
        [logged] = [line for line in out.splitlines() if "failed" in line]
        assert logged.startswith("confirmation email to subscriber 1 failed: ")  # no traceback
        code, out = run("confirm-pending")
        assert (code, out.splitlines()[0]) == (0, "sent 1 confirmation email(s) through sendgrid")
        assert sorted(standin.recipients()) == ["ada@example.com", "bob@example.com"]


def test_an_operator_records_consent_with_its_reason(env: Settings) -> None:
    run("add", "ada@example.com")
    code, out = run("consent", "ADA@example.com", "--reason", "signed form 12 at the stand")
    assert (code, out.strip()) == (0, "ada@example.com: pending -> active, consent recorded")
    code, out = run("show", "ada@example.com")
    assert "consent recorded by an operator: signed form 12 at the stand" in out
    code, out = run("consent", "ada@example.com", "--reason", "again")
    assert (code, out.strip()) == (0, "ada@example.com is already active: nothing changed")

    code, out = run("consent", "ada@example.com")
    assert code == 2  # --reason is required
    assert "--reason" in out
    run("add", "gone@example.com", "--confirmed")
    run("set-status", "gone@example.com", "bounced", "--reason", "hard bounce")
    code, out = run("consent", "gone@example.com", "--reason", "they called")
    assert code == 1
    assert one_error(out).startswith("error: gone@example.com is bounced: consent does not")
    run("forget", "gone@example.com", "--yes")
    code, out = run("consent", "gone@example.com", "--reason", "they called")
    assert one_error(out) == (
        "error: gone@example.com is not on the list (it was forgotten: GDPR erasure)"
    )
    code, out = run("consent", "ada@example.com", "--reason", " ")
    assert code == 1
    assert "needs a reason" in one_error(out)
