"""The embedded delivery backend: one standard .eml file per recipient, no account anywhere.

Every valid address is written, as a mail system would carry it:

- an ASCII local part with an internationalised domain is written with the domain's
  A-label (`user@xn--mnchen-3ya.de`, IDNA 2008 as email-validator gives it): a plain
  RFC 5322 message any program reads;
- a local part beyond ASCII (`josé@example.com`) has no ASCII form at all, so that message
  is written as SMTPUTF8 mail (RFC 6532: UTF-8 header text, the domain as stored);
- the file name is bounded whatever the address's length (see `file_name`).

Files are written whole under a hidden temporary name and renamed into place, so a crash
never leaves half a message under a real name, and a recipient's file name is fixed, so
sending the same batch again overwrites rather than duplicates. A writer killed in the
middle leaves its temporary file behind: the next backend to write into that folder
removes it (see `sweep`).

A message the outbox cannot make (an address stored before it was validated, a header it
cannot write) is refused for that recipient alone (`RecipientsRefused`); a folder it cannot
write to (a full disk, a permission) fails the whole batch as a `TransientFailure`, to be
written again later.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from newsletter.core.clock import utcnow
from newsletter.core.processes import process_exists
from newsletter.core.settings import Settings
from newsletter.delivery import (
    Backend,
    DeliveryError,
    Message,
    PermanentFailure,
    Recipient,
    RecipientsRefused,
    TransientFailure,
)
from newsletter.delivery.headers import LIST_ID
from newsletter.delivery.placeholders import fill

_SAFE = re.compile(r"[A-Za-z0-9@._+-]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
READABLE_MAX = 64
"""Characters of the address a file name keeps; longer or unusual addresses get a hash."""
STALE_AFTER = 3600.0
"""Seconds after which a temporary file is left over whoever wrote it (no write takes an
hour); sooner when its writer is a process of this machine that no longer runs."""
_TEMPORARY = re.compile(r"\..+\.(\d+)\.[0-9a-f]+\.tmp")
_NAME_ERRORS = frozenset({errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL})
"""A file system refusing one name: that message's problem, not the folder's."""


class UnwritableAddress(ValueError):
    """An address the outbox cannot put in a header (stored before it was validated)."""


def header_address(name: str | None, address: str) -> tuple[Address, bool]:
    """The address as a header carries it, and whether the message needs SMTPUTF8.

    Checked again by email-validator (without DNS), as the list checked it when it was
    stored, which also gives the domain's A-label; an address that does not pass (a row
    stored by hand, say) is `UnwritableAddress`."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise UnwritableAddress(f"not a valid address: {exc}") from None
    if checked.ascii_email is not None:  # ASCII local part: the domain as its A-label
        local, _, domain = checked.ascii_email.rpartition("@")
        return Address(name or "", username=local, domain=domain), False
    return Address(name or "", username=checked.local_part, domain=checked.domain), True


def sender_address(name: str | None, address: str) -> tuple[Address, bool]:
    """The From header as configured (`NEWSLETTER_FROM_EMAIL`), and whether it needs
    SMTPUTF8. The operator's own address is written as it is, not validated as a
    subscriber's would be: a development domain (`.test`, `.local`, `localhost`) is fine
    for the outbox. An IDN domain becomes its A-label; `ValueError` if it cannot be a
    header at all (`_sender_parts`)."""
    local, domain = _sender_parts(address)
    with contextlib.suppress(UnicodeError):  # else written as it is (SMTPUTF8)
        domain = domain.encode("idna").decode("ascii")
    utf8 = not (local.isascii() and domain.isascii())
    return Address(name or "", username=local, domain=domain), utf8


_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)+)"')
_LABEL_SPECIALS = frozenset('()<>[]:;@\\,"')


def _sender_parts(address: str) -> tuple[str, str]:
    """The local part (unquoted: `Address` quotes it again where it must) and the domain
    of an address with exactly one `@` outside quotes, a local part that is a dot-atom or
    one quoted string, and a domain of non-empty dot-separated labels; `ValueError`
    naming what is wrong otherwise. No part holds a control character or a line break, and
    only a quoted local part a space."""
    if any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in address
    ):
        raise ValueError("it holds a control character or a line break")
    quoted = _QUOTED.match(address)
    if quoted and address[quoted.end() : quoted.end() + 1] == "@":
        local = re.sub(r"\\(.)", r"\1", quoted.group(1))
        domain = address[quoted.end() + 1 :]
    else:
        if address.count("@") != 1:
            raise ValueError("it needs exactly one '@' between a local part and a domain")
        local, _, domain = address.partition("@")
        if not all(_ATOM.fullmatch(atom) or _plain_unicode(atom) for atom in local.split(".")):
            raise ValueError(f"{local!r} is not a local part")
    labels = domain.split(".")
    if not all(labels) or any(ch in _LABEL_SPECIALS or _blank(ch) for ch in domain):
        raise ValueError(f"{domain!r} is not a domain")
    return local, domain


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] == "Z"


def _plain_unicode(atom: str) -> bool:
    """An atom of a UTF-8 local part (RFC 6531): ASCII atom characters and any others."""
    return bool(atom) and all(
        _ATOM.fullmatch(ch) or not (ch.isascii() or _blank(ch)) for ch in atom
    )


def build_email(message: Message, recipient: Recipient) -> EmailMessage:
    """The complete MIME message one recipient gets: text first, then HTML.

    Raises `UnwritableAddress` or `ValueError` (a header it cannot write) for this
    recipient's message alone."""
    sender, sender_utf8 = sender_address(message.from_name, message.from_email)
    to, to_utf8 = header_address(recipient.name, recipient.email)
    # CRLF line ends, as on the wire; raw UTF-8 headers only where an address needs them.
    email = EmailMessage(policy=SMTPUTF8 if sender_utf8 or to_utf8 else SMTP)
    email["From"] = sender
    email["To"] = to
    email["Subject"] = fill(message.subject, recipient.substitutions)
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = make_msgid(domain=sender.domain or None)
    if message.list_id:
        email[LIST_ID] = message.list_id
    for name, value in {**message.headers, **recipient.headers}.items():
        email[name] = value
    for name, value in recipient.custom_args.items():
        email[f"X-Newsletter-{name.title()}"] = value
    email.set_content(fill(message.text, recipient.substitutions))
    email.add_alternative(fill(message.html, recipient.substitutions), subtype="html")
    return email


def file_name(recipient: Recipient) -> str:
    """A recipient's fixed file name: `<id>-<address>.eml` for an address of at most
    `READABLE_MAX` plain characters (letters, digits, `@._+-`), else
    `<id>-<the first READABLE_MAX characters, others as _>-<16 hex of its SHA-256>.eml`:
    never longer than about 110 bytes, so within every file system's 255."""
    address = recipient.email
    prefix = f"{recipient.subscriber_id:08d}-"
    if _SAFE.fullmatch(address) and len(address) <= READABLE_MAX:
        return f"{prefix}{address}.eml"
    digest = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{prefix}{_UNSAFE.sub('_', address[:READABLE_MAX])}-{digest}.eml"


def sweep(folder: Path, *, now: float | None = None) -> int:
    """Remove the temporary files writers killed mid-write left in `folder`: those of a
    process of this machine that no longer runs, and any older than `STALE_AFTER`. Returns
    how many. A live writer whose file goes (a writer on another machine sharing the
    folder, an hour-long stall) fails its batch as transient, and it is written again."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            if old or not process_exists(int(match.group(1))):
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # its writer finished, or another sweep took it
    return removed


class OutboxBackend(Backend):
    """Writes each recipient's email to `folder`; nothing leaves the machine."""

    name = "outbox"
    resend_safe = True  # a batch written again overwrites the same files: never a duplicate

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._swept: set[Path] = set()
        self._sweeping = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxBackend:
        return cls(settings.outbox_dir)

    def folder_for(self, message: Message) -> Path:
        batch = (
            "tests" if message.test else (message.categories[-1] if message.categories else "mail")
        )
        return self.folder / batch

    def path_for(self, message: Message, recipient: Recipient) -> Path:
        return self.folder_for(message) / file_name(recipient)

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Write every recipient's file; the batch's id is returned. Recipients whose
        message cannot be made are refused one by one (`RecipientsRefused`, after the
        others are written); a folder that cannot be written fails the whole batch."""
        try:
            sender_address(message.from_name, message.from_email)
        except ValueError as exc:  # every message would fail alike: stop, name the setting
            raise PermanentFailure(
                f"outbox: the sender {message.from_email!r} cannot be written as From ({exc}); "
                "check NEWSLETTER_FROM_EMAIL",
                stops_send=True,
            ) from None
        folder = self.folder_for(message)
        folder.mkdir(parents=True, exist_ok=True)
        self._sweep_once(folder)
        batch_id = secrets.token_urlsafe(16)
        refused: dict[int, str] = {}
        for recipient in recipients:
            try:
                data = bytes(build_email(message, recipient))
            except Exception as exc:  # any failure to make it is this message's alone
                refused[recipient.subscriber_id] = _refusal(recipient, exc)
                continue
            try:
                _write(folder / file_name(recipient), data)
            except OSError as exc:
                if exc.errno not in _NAME_ERRORS:
                    raise TransientFailure(f"outbox: cannot write to {folder}: {exc}") from None
                refused[recipient.subscriber_id] = _refusal(recipient, exc)
        if refused:
            delivered = len(recipients) - len(refused)
            raise RecipientsRefused(
                f"outbox: {len(refused)} of {len(recipients)} message(s) not written; "
                + "; ".join(refused.values()),
                refused=refused,
                delivered=delivered,
                message_id=batch_id,
            )
        return batch_id

    def as_failure(self, exc: Exception) -> DeliveryError | None:
        """A folder that cannot be made is safe to retry: each recipient's file has a fixed
        name and is replaced atomically, so writing the batch again overwrites."""
        if isinstance(exc, OSError):
            return TransientFailure(f"outbox: {exc}")
        return super().as_failure(exc)

    def _sweep_once(self, folder: Path) -> None:
        """Clear a folder's leftovers the first time this backend writes into it."""
        with self._sweeping:
            if folder in self._swept:
                return
            self._swept.add(folder)
        sweep(folder)


def _write(path: Path, data: bytes) -> None:
    """Write `data` whole under a hidden temporary name, then rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _refusal(recipient: Recipient, exc: Exception) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"subscriber {recipient.subscriber_id} ({recipient.email!r}): {reason}"
