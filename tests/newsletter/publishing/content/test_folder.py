"""What is in the content folder besides well-formed files: a FIFO, a device, a folder
where a file should be, a file nobody may read, editors' leftovers, links out of the folder
and look-alike names. Each is one problem (or, for leftovers, nothing), never a hang, a
memory blow-up or an unexpected error.

A FIFO or a device would block or never end in the old reader, so whatever might reach one
runs in a child process with a time and memory limit: a regression fails the test instead
of hanging it or exhausting the machine's memory.
"""

from __future__ import annotations

import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.publishing.content import check_content
from tests.factories import COMPARISON_FILE

CHECK = (
    "import sys; from pathlib import Path;"
    "from newsletter.publishing.content import check_content;"
    "print('\\n'.join(str(p) for p in check_content(Path(sys.argv[1])).problems))"
)


def _limit_memory() -> None:
    limit = 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _check_in_a_process(root: Path, *prefix: str) -> list[str]:
    """`check_content(root)` in a child process (started with `prefix`, if any), in at most
    a minute and a gigabyte."""
    result = subprocess.run(
        [*prefix, sys.executable, "-c", CHECK, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _problems(root: Path) -> list[str]:
    return [str(p) for p in check_content(root).problems]


def test_a_fifo_is_refused_without_being_opened(root: Path) -> None:
    os.mkfifo(root / "comparisons" / "x.yaml")
    assert _check_in_a_process(root) == [
        "content/comparisons/x.yaml:1: is a FIFO, not a file; not read"
    ]


def test_a_device_is_refused_without_being_read(root: Path) -> None:
    """/dev/zero under another name, inside the folder: the old reader trusted its size (0)
    and read until memory ran out."""
    try:
        os.mknod(root / "comparisons" / "z.yaml", stat.S_IFCHR | 0o644, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("making a device needs CAP_MKNOD")
    assert _check_in_a_process(root) == [
        "content/comparisons/z.yaml:1: is a device, not a file; not read"
    ]


def _without_root_powers() -> list[str]:
    """A prefix that runs a command unable to bypass file permissions (root can otherwise
    read anything), or nothing when the tests do not run as root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv to drop the capability to read anything")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_an_unreadable_folder_or_file_is_a_problem(root: Path) -> None:
    prefix = _without_root_powers()
    locked = root / "comparisons" / "locked.yaml"
    locked.write_text(COMPARISON_FILE)
    locked.chmod(0)
    assert _check_in_a_process(root, *prefix) == [
        "content/comparisons/locked.yaml:1: cannot be read (Permission denied)"
    ]
    (root / "comparisons").chmod(0)
    try:
        assert _check_in_a_process(root, *prefix) == [
            "content/comparisons:1: cannot be read (Permission denied)"
        ]
    finally:
        (root / "comparisons").chmod(0o755)
    root.chmod(0)  # nothing inside can even be looked at: unreadable, not missing
    try:
        assert _check_in_a_process(root, *prefix) == [
            "content/comparisons:1: cannot be read (Permission denied)",
            "content/reviewers.yaml:1: cannot be read (Permission denied)",
        ]
    finally:
        root.chmod(0o755)


def test_editor_leftovers_are_not_content(root: Path) -> None:
    """Emacs' lock (a link to nowhere) and autosave, Vim's swap file, a backup: none of
    them is a comparison, and none is reported."""
    folder = root / "comparisons"
    (folder / ".#x.yaml").symlink_to("editor@host.1234:1700000000")
    (folder / "#x.yaml#").write_text("slug: [half-written")
    (folder / ".x.yaml.swp").write_bytes(b"b0VIM 9.0\x00\xff")
    (folder / "x.yaml~").write_text("slug: old")
    (folder / ".hidden.yaml").write_text("slug: hidden")
    assert _problems(root) == []


def test_a_link_out_of_the_content_folder_is_not_followed(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(COMPARISON_FILE.replace("alpha-vs-beta", "elsewhere"))
    (root / "comparisons" / "elsewhere.yaml").symlink_to(outside)
    (root / "comparisons" / "zero.yaml").symlink_to("/dev/zero")
    (root / "drafts").mkdir()
    (root / "drafts" / "alpha-vs-beta.yaml").write_text(COMPARISON_FILE)
    (root / "comparisons" / "alpha-vs-beta.yaml").symlink_to("../drafts/alpha-vs-beta.yaml")
    assert _check_in_a_process(root) == [
        "content/comparisons/elsewhere.yaml:1: is a link to outside the content folder; not read",
        "content/comparisons/zero.yaml:1: is a link to outside the content folder; not read",
    ]
    (root / "comparisons" / "zero.yaml").unlink()
    checked = check_content(root)
    assert [c.slug for _, c in checked.comparisons] == ["alpha-vs-beta"]


def test_look_alike_names_are_reported_not_ignored(root: Path) -> None:
    folder = root / "comparisons"
    (folder / "alpha-vs-beta.yml").write_text(COMPARISON_FILE)
    (folder / "Gamma.YAML").write_text(COMPARISON_FILE)
    (root / "reviewers.yaml").rename(root / "reviewers.yml")
    assert _problems(root) == [
        "content/comparisons/Gamma.YAML:1: not read: use the .yaml extension (Gamma.yaml)",
        "content/comparisons/alpha-vs-beta.yml:1: not read: use the .yaml extension "
        "(alpha-vs-beta.yaml)",
        "content/reviewers.yaml:1: file not found: the reviewer panel is required",
        "content/reviewers.yml:1: not read: name it reviewers.yaml",
    ]


def test_a_folder_where_a_file_should_be_says_so(root: Path) -> None:
    (root / "reviewers.yaml").unlink()
    (root / "reviewers.yaml").mkdir()
    assert _problems(root) == ["content/reviewers.yaml:1: is a folder, not a file"]
    shutil.rmtree(root / "comparisons")
    (root / "comparisons").write_text("")
    assert _problems(root) == [
        "content/comparisons:1: is a file, not a folder",
        "content/reviewers.yaml:1: is a folder, not a file",
    ]
