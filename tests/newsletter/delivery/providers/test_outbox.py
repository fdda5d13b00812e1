"""The outbox writes every valid address (Unicode local parts, IDN domains, 254 characters)
as a mail program reads it back; a message it cannot write fails that recipient alone, with
its reason; and a writer killed mid-write leaves nothing behind for long."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import insert
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Message, PermanentFailure, Recipient, RecipientsRefused
from newsletter.delivery.errors import TransientFailure
from newsletter.delivery.providers.outbox import STALE_AFTER, OutboxBackend, file_name
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.sending import issue_status
from newsletter.sending.ledger import BatchState, RecipientState
from subscribers.addresses import normalize_email
from subscribers.models import Subscriber
from tests.newsletter.sending.test_sender import build, recipient_states

runner = CliRunner()

LONGEST = f"{'l' * 64}@{'d' * 63}.{'e' * 63}.{'f' * 57}.com"  # 254 characters
ADDRESSES = {  # as the list stores them -> what To: carries
    "josé@example.com": "josé@example.com",
    "user@münchen.de": "user@xn--mnchen-3ya.de",
    "ünïcode@bücher.example": "ünïcode@bücher.example",
    LONGEST: LONGEST,
    "plain@example.com": "plain@example.com",
}
BROKEN = "stored by hand@exa mple"  # a row written before validation, never by the service


def _message(**overrides: object) -> Message:
    fields: dict[str, object] = {
        "subject": "Weekly verdicts",
        "html": "<p>Hello</p>",
        "text": "Hello",
        "from_email": "verdicts@example.com",
        "from_name": "Verdicts",
        "categories": ("issue", "issue-1"),
    }
    fields.update(overrides)
    return Message(**fields)  # type: ignore[arg-type]


def _recipient(subscriber_id: int, address: str, name: str | None = "José Núñez") -> Recipient:
    return Recipient(subscriber_id, address, name, {}, {})


def _parsed(path: Path) -> EmailMessage:
    """The file as a mail program reads it: UTF-8 text (RFC 6532; an ASCII-only message is
    UTF-8 too), parsed by the standard library."""
    parsed = email.message_from_string(path.read_bytes().decode("utf-8"), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _to(path: Path) -> str:
    [address] = _parsed(path)["To"].addresses
    assert address.display_name == "José Núñez"
    return str(address.addr_spec)


def test_the_address_forms_are_valid_as_the_list_stores_them() -> None:
    for address in ADDRESSES:
        assert normalize_email(address) == address
    assert len(LONGEST) == 254


def test_a_send_writes_every_valid_address_and_fails_only_the_broken_one(
    engine: Engine, env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `newsletter issue send`, on SQLite and PostgreSQL, all in one batch."""
    monkeypatch.setenv("NEWSLETTER_BATCH_SIZE", "10")
    issue = build(engine, env, tmp_path / "content")
    rows = [{"email": address, "name": "José Núñez", "status": "active"} for address in ADDRESSES]
    rows.append({"email": BROKEN, "name": "Legacy", "status": "active"})
    with session_scope(engine) as session:
        session.exec(insert(Subscriber), params=rows)
        found = session.connection().execute(text("SELECT email, id FROM subscriber"))
        ids: dict[str, int] = {address: sid for address, sid in found}

    sent = runner.invoke(app, ["issue", "send", "1", "--yes"])

    output = " ".join(sent.output.split())
    assert sent.exit_code == 1, sent.output  # one recipient failed: said, and exit 1
    assert "issue #1: sent — 5 accepted, 0 skipped, 1 failed, 0 unknown" in output
    assert f"1 of 6 message(s) not written; subscriber {ids[BROKEN]} ('{BROKEN}'): " in output
    assert "not a valid address" in output
    assert "may have accepted" not in output
    assert "SendGrid" not in output
    folder = env.outbox_dir / "issue-1"
    written = {path.name: path for path in folder.iterdir()}
    assert not [name for name in written if not name.endswith(".eml")]  # no .tmp left
    for address, to in ADDRESSES.items():
        path = written.pop(file_name(_recipient(ids[address], address)))
        assert _to(path) == to
        assert len(path.name.encode()) <= 120
    assert written == {}  # nothing for the broken address
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert counts.status == IssueStatus.SENT
    assert (counts.accepted, counts.failed, counts.unknown, counts.queued) == (5, 1, 0, 0)
    assert counts.batch_count(BatchState.ACCEPTED) == 1
    [note] = counts.failed_batches
    assert note.size == 1
    assert note.error is not None
    assert "1 of 6 message(s) not written" in note.error
    assert recipient_states(engine, issue)[ids[BROKEN]] == RecipientState.FAILED
    assert counts.status_reason is not None
    assert "1 batch(es), 1 recipient(s) failed" in counts.status_reason


def test_the_idn_domain_is_its_a_label_and_a_unicode_local_part_is_smtputf8(
    tmp_path: Path,
) -> None:
    backend = OutboxBackend(tmp_path)
    message = _message()
    backend.send_batch(message, [_recipient(1, "user@münchen.de"), _recipient(2, "josé@bücher.de")])

    idn = backend.path_for(message, _recipient(1, "user@münchen.de"))
    assert idn.read_bytes().isascii()  # a plain RFC 5322 message
    assert b" <user@xn--mnchen-3ya.de>\r\n" in idn.read_bytes()
    assert _to(idn) == "user@xn--mnchen-3ya.de"
    utf8 = backend.path_for(message, _recipient(2, "josé@bücher.de"))
    assert "To: José Núñez <josé@bücher.de>\r\n".encode() in utf8.read_bytes()  # RFC 6532
    assert _to(utf8) == "josé@bücher.de"


def test_file_names_are_bounded_and_fixed_per_recipient(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    message = _message()
    people = [_recipient(1, LONGEST), _recipient(2, "josé@example.com"), _recipient(3, "a@b.co")]

    first = backend.send_batch(message, people)
    names = sorted(p.name for p in (tmp_path / "issue-1").iterdir())
    second = backend.send_batch(message, people)  # written again: the same files, replaced

    assert first != second
    assert sorted(p.name for p in (tmp_path / "issue-1").iterdir()) == names
    assert "00000003-a@b.co.eml" in names  # a short plain address keeps its readable name
    assert max(len(name.encode()) for name in names) <= 120
    # the same characters after the cut, or after `_`, never share a file
    assert file_name(_recipient(2, "jos_@example.com")) != file_name(people[1])
    assert file_name(_recipient(1, LONGEST[:-5] + ".org")) != file_name(people[0])


def test_a_message_that_cannot_be_written_fails_that_recipient_only(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    message = _message()
    header_injection = "a@example.com\r\nBcc: everyone@example.com"

    with pytest.raises(RecipientsRefused) as refused:
        backend.send_batch(
            message,
            [
                _recipient(1, "ok@example.com"),
                _recipient(2, header_injection),
                _recipient(3, BROKEN),
            ],
        )

    assert refused.value.delivered == 1
    assert sorted(refused.value.refused) == [2, 3]
    assert "not a valid address" in refused.value.refused[2]
    assert [p.name for p in (tmp_path / "issue-1").iterdir()] == ["00000001-ok@example.com.eml"]
    with pytest.raises(PermanentFailure, match="1 of 1 message"):  # alone: simply failed
        backend.send_batch(message, [_recipient(4, BROKEN)])


def test_the_sender_is_written_as_configured_even_on_a_development_domain(
    tmp_path: Path,
) -> None:
    """The operator's From is not a subscriber's address: `.test`, `.local`, `localhost`
    are fine in the outbox (a review found every recipient refused for it); an IDN domain
    is its A-label."""
    backend = OutboxBackend(tmp_path)
    for sender, written in [
        ("news@newsletter.test", "news@newsletter.test"),
        ("news@mail.local", "news@mail.local"),
        ("news@localhost", "news@localhost"),
        ("news@münchen.de", "news@xn--mnchen-3ya.de"),
    ]:
        backend.send_batch(_message(from_email=sender), [_recipient(1, "ok@example.com")])
        [path] = (tmp_path / "issue-1").iterdir()
        [address] = _parsed(path)["From"].addresses
        assert (address.addr_spec, address.display_name) == (written, "Verdicts")


@pytest.mark.parametrize(
    "sender",
    [
        "news@example.com\r\nBcc: x@example.com",
        "noat",  # (was written as `<@noat>`)
        "",  # (was `<>`)
        "news@exa mple.test",  # (was written with the space)
        "news@example.com@other.test",
        "@example.com",
        "news@",
        "news@example..com",
        "ne ws@example.com",
        "news<x>@example.com",
    ],
)
def test_a_sender_that_cannot_be_a_header_stops_the_send(tmp_path: Path, sender: str) -> None:
    backend = OutboxBackend(tmp_path)
    with pytest.raises(PermanentFailure, match="NEWSLETTER_FROM_EMAIL") as failed:
        backend.send_batch(_message(from_email=sender), [_recipient(1, "ok@example.com")])
    assert failed.value.stops_send
    assert not (tmp_path / "issue-1").exists()


@pytest.mark.parametrize(
    ("sender", "written"),
    [
        ('"news desk"@example.com', '"news desk"@example.com'),  # (was `"\\"news desk\\""@…`)
        ('"a@b"@example.test', '"a@b"@example.test'),
        ("news@localhost", "news@localhost"),
        ("news@münchen.de", "news@xn--mnchen-3ya.de"),
    ],
)
def test_a_sender_is_written_as_configured(tmp_path: Path, sender: str, written: str) -> None:
    backend = OutboxBackend(tmp_path)
    backend.send_batch(_message(from_email=sender), [_recipient(1, "ok@example.com")])
    (path,) = (tmp_path / "issue-1").glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes(), policy=default)
    assert parsed["From"].addresses[0].addr_spec == written


def test_a_folder_that_cannot_be_written_fails_the_batch_for_a_retry(tmp_path: Path) -> None:
    blocked = tmp_path / "outbox"
    blocked.mkdir()
    (blocked / "issue-1").write_text("a file where the folder should be")
    backend = OutboxBackend(blocked)

    with pytest.raises(Exception) as failed:  # noqa: PT011 (classified just below)
        backend.send_batch(_message(), [_recipient(1, "ok@example.com")])

    assert isinstance(backend.as_failure(failed.value), TransientFailure)


_KILLED_MID_WRITE = """
import sys, time
from pathlib import Path
from newsletter.delivery import Message, Recipient
from newsletter.delivery.providers import outbox

def stall(source, target):  # the file is written, not yet renamed: the moment to kill
    print(source, flush=True)
    time.sleep(60)

outbox.os.replace = stall
message = Message("S", "<p>h</p>", "h", "v@example.com", "V", categories=("issue-1",))
outbox.OutboxBackend(Path(sys.argv[1])).send_batch(
    message, [Recipient(7, "josé@example.com", None, {}, {})]
)
"""


def test_a_writer_killed_mid_write_leaves_nothing_once_the_next_batch_writes(
    tmp_path: Path,
) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_WRITE, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    left = Path(writer.stdout.readline().strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert left.exists()
    assert left.name.startswith(".")  # hidden meanwhile
    assert left.name.endswith(".tmp")

    OutboxBackend(tmp_path).send_batch(_message(), [_recipient(8, "next@example.com")])

    assert sorted(p.name for p in (tmp_path / "issue-1").iterdir()) == [
        "00000008-next@example.com.eml"
    ]


def test_a_temporary_file_of_a_live_writer_stays_until_it_is_stale(tmp_path: Path) -> None:
    folder = tmp_path / "issue-1"
    folder.mkdir()
    live = folder / f".00000001-a@example.com.eml.{os.getppid()}.0a1b2c.tmp"
    stale = folder / f".00000002-b@example.com.eml.{os.getppid()}.3d4e5f.tmp"
    live.write_bytes(b"being written")
    stale.write_bytes(b"abandoned")
    old = time.time() - STALE_AFTER - 60
    os.utime(stale, (old, old))

    OutboxBackend(tmp_path).send_batch(_message(), [_recipient(3, "c@example.com")])

    assert live.exists()
    assert not stale.exists()
