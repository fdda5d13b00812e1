"""The development signing key: ten processes starting together agree on one key, made
whole and private; an unsafe folder or an empty file is refused with one clear line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings

PROCESSES = 10

# Each process imports everything first, says so, then waits for the go file: the ten
# reach `secret()` within a millisecond of each other.
_FIRST_START = """
import sys, time
from pathlib import Path
from newsletter.core.settings import Settings
settings = Settings()
print("ready", flush=True)
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.0002)
print(settings.secret().decode(), flush=True)
"""


def _environment(key_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(NEWSLETTER_ENV_FILE=os.devnull, NEWSLETTER_SECRET_KEY_FILE=str(key_file))
    return env


def test_ten_first_starts_at_once_agree_on_one_private_key(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret_key"
    go = tmp_path / "go"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", _FIRST_START, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(key_file),
        )
        for _ in range(PROCESSES)
    ]
    try:
        for start in starts:
            assert start.stdout is not None
            assert start.stdout.readline().strip() == "ready", start.stderr
        go.touch()
        answers = [start.communicate(timeout=30) for start in starts]
    finally:
        for start in starts:
            start.kill()
            start.wait()

    assert [err for _, err in answers if err] == []
    keys = {out.strip() for out, _ in answers}
    assert len(keys) == 1, f"{len(keys)} different keys: {keys}"
    [key] = keys
    assert len(key) == 64
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) & 0o077 == 0  # made 0700
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["secret_key"]  # no drafts


def test_the_key_file_is_private_from_creation_whatever_the_umask(tmp_path: Path) -> None:
    """No chmod after the fact: with a umask that lets everyone read (0), the file is born
    0600 and its folder 0700."""
    key_file = tmp_path / "var" / "secret_key"
    old = os.umask(0)
    try:
        key = Settings(_env_file=None, secret_key_file=key_file).secret()  # type: ignore[call-arg]
    finally:
        os.umask(old)

    assert key == key_file.read_bytes().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    again = Settings(_env_file=None, secret_key_file=key_file)  # type: ignore[call-arg]
    assert again.secret() == key


def test_a_folder_anyone_can_write_to_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(0o777)
    settings = Settings(_env_file=None, secret_key_file=folder / "secret_key")  # type: ignore[call-arg]

    with pytest.raises(InvalidInput, match=r"any user can write to this folder.*chmod o-w"):
        settings.secret()
    assert not (folder / "secret_key").exists()


def test_an_empty_key_file_is_refused_not_used(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("\n")
    settings = Settings(_env_file=None, secret_key_file=key_file)  # type: ignore[call-arg]

    with pytest.raises(InvalidInput, match=r"secret_key: the signing key file is empty"):
        settings.secret()


def test_a_configured_key_never_touches_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret_key"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        secret_key="configured",
        secret_key_file=key_file,
    )
    assert settings.secret() == b"configured"
    assert not key_file.parent.exists()
