"""The development signing key kept in a file: made once, by one process, private from birth.

Several processes may start for the first time together (the web app's workers, a send, the
scheduler), and every one of them must sign with the same key, so:

- the key is written whole to a temporary file of its own, created with `O_EXCL` and mode
  0600 (never readable by others, not even for the moment before a `chmod`), and then
  hard-linked to its name. A link does not replace: the first process to link wins, the
  others drop their own key and read the winner's. The name only ever points at a complete
  file, so nobody reads half a key, or an empty one;
- the folder is created 0700, and a folder any user can write to is refused: another user
  could have put a key of their choosing there first, or could swap it.

A production deployment sets `NEWSLETTER_SECRET_KEY` and never comes here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from newsletter.core.errors import InvalidInput

KEY_BYTES = 48  # 64 characters of base64url


class KeyFileError(InvalidInput):
    """The key file or its folder cannot be used safely; the message says what to do."""


def shared_key(path: Path) -> bytes:
    """The key in `path`, made first if there is none (see the module docstring)."""
    _private_folder(path.parent)
    key = _read(path)
    if key is None:
        _create(path)
        key = _read(path)
        if key is None:  # removed between the link and the read: someone is tidying up
            raise KeyFileError(f"{path}: vanished as it was made; run the command again")
    return key


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = folder.stat().st_mode
    except OSError as exc:
        raise KeyFileError(f"{folder}: cannot keep the signing key here ({exc.strerror})") from None
    if mode & stat.S_IWOTH:
        raise KeyFileError(
            f"{folder}: any user can write to this folder, so the signing key cannot be kept "
            "in it safely; remove that permission (chmod o-w) or set NEWSLETTER_SECRET_KEY"
        )


def _read(path: Path) -> bytes | None:
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if not key:
        raise KeyFileError(
            f"{path}: the signing key file is empty; delete it to make a new key (links "
            "signed with the old one stop working) or set NEWSLETTER_SECRET_KEY"
        )
    return key


def _create(path: Path) -> None:
    """Write a new key whole under a name of this process's own, then link it into place
    unless another process did first."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(draft, flags, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(secrets.token_urlsafe(KEY_BYTES).encode() + b"\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another process linked first: theirs
                os.link(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    except OSError as exc:
        raise KeyFileError(
            f"{path}: cannot make the signing key ({exc.strerror}); set NEWSLETTER_SECRET_KEY"
        ) from None
