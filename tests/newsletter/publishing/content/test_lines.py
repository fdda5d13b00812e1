"""YAML problems are reported at their line, a key written twice is refused, bytes YAML
cannot read are reported where they are, and a file built to exhaust the reader is refused
at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsletter.publishing.content import check_content
from newsletter.publishing.content.lines import MAX_FILE_BYTES
from tests.factories import COMPARISON_FILE, problems_in

EDITED = "content/comparisons/alpha-vs-beta.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "title: Alpha vs Beta",
            'title: "Alpha vs Beta',
            f"{EDITED}:2: YAML: unclosed quote: the quote that opens on this line runs on "
            "to line 26",
        ),
        (
            "title: Alpha vs Beta",
            "title: 'Alpha vs Beta",
            f"{EDITED}:2: YAML: unclosed quote: the quote that opens on this line is never closed",
        ),
        (
            "title: Alpha vs Beta",
            'title: "Alpha" vs Beta',
            f"{EDITED}:2: YAML: text after a closing quote; put the whole value in quotes",
        ),
        (
            "verdict: Alpha for teams, Beta for solo work.",
            "verdict: [unclosed",
            f"{EDITED}:5: YAML: unclosed '[': the one that opens on this line has no ']'",
        ),
        (
            "    pricing: {entry: Paid}",
            "    pricing: {entry: Paid",
            f"{EDITED}:21: YAML: unclosed '{{': the one that opens on this line has no '}}'",
        ),
        (
            "    name: Beta",
            "\tname: Beta",
            f"{EDITED}:16: YAML: a tab indents this line; indent with spaces",
        ),
        (
            "    name: Beta",
            "   name: Beta",
            f"{EDITED}:16: YAML: bad indentation: this line does not line up with the lines above",
        ),
        (
            "title: Alpha vs Beta",
            "title: Alpha: vs Beta",
            f"{EDITED}:2: YAML: a ':' where none can be: put a value holding ': ' in quotes, "
            "or check the indentation and the line above",
        ),
        (
            "title: Alpha vs Beta",
            "title Alpha vs Beta",
            f"{EDITED}:2: YAML: a 'name: value' line without its ':' (or text above that needs "
            "quotes)",
        ),
        (
            "title: Alpha vs Beta",
            "title: @Alpha",
            f"{EDITED}:2: YAML: a value cannot start with '@'; put the text in quotes",
        ),
        (
            "title: Alpha vs Beta",
            "title: & Alpha",
            f"{EDITED}:2: YAML: a value cannot start with '&'; put the text in quotes",
        ),
        (
            '      beta: {verdict: skip, take: "Single cloud."}',
            '      beta: {verdict: skip, take: "Single cloud."}\n---\nslug: again',
            f"{EDITED}:32: YAML: a second document starts here ('---'); "
            "a file holds one comparison",
        ),
        (
            "title: Alpha vs Beta",
            "title: Alpha vs Beta\n%directive",
            f"{EDITED}:3: YAML: a line starting with '%' is read as a YAML directive; "
            "put the text in quotes",
        ),
        (
            "title: Alpha vs Beta",
            "title: Alpha vs Beta\n...",
            f"{EDITED}:3: YAML: a '...' line ends the file early; remove it",
        ),
        (
            "title: Alpha vs Beta",
            "title: |\nAlpha vs Beta",
            f"{EDITED}:3: YAML: a 'name: value' line without its ':' (or text above that needs "
            "quotes)",
        ),
    ],
)
def test_yaml_problems_are_in_our_words_where_they_are_made(
    root: Path, old: str, new: str, expected: str
) -> None:
    """At the line to fix (where an unclosed quote or bracket opens, not where the parser
    gave up), in the editors' words, with a plain sentence for what has no wording."""
    assert old in COMPARISON_FILE
    assert problems_in(root, COMPARISON_FILE.replace(old, new)) == [expected]


def test_a_key_written_twice_is_reported_and_the_rest_still_checked(root: Path) -> None:
    """The first value is kept; the second is reported at its line and field, and every
    other problem of the file (here, inside the same tool) comes in the same run."""
    text = COMPARISON_FILE.replace(
        "    vendor: Beta Corp", "    vendor: 42\n    name: Beta again\n    url: x"
    ).replace("title: Alpha vs Beta", "title: Alpha vs Beta\ntitle: Alpha versus Beta")
    assert problems_in(root, text) == [
        f"{EDITED}:3: title: written twice (first on line 2); only the first is read",
        f"{EDITED}:18: tools[1].vendor: must be text "
        "(YAML reads this value as a number; put it in quotes)",
        f"{EDITED}:19: tools[1].name: written twice (first on line 17); only the first is read",
        f"{EDITED}:20: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
        f"{EDITED}:25: tools[1].url: written twice (first on line 20); only the first is read",
    ]


def test_keys_are_shown_as_written(root: Path) -> None:
    """`null:`, `true:` and `1.0:` are keys an editor typed, not Python's None, True, 1.0;
    a key that is a list is reported, and its entry skipped."""
    text = COMPARISON_FILE.replace(
        "title: Alpha vs Beta", "title: Alpha vs Beta\nnull: x\nTrue: y\n1.0: z\n? [a, b]\n: w"
    )
    known = "a comparison has: slug, title, question, published, verdict, tools, reviews"
    assert problems_in(root, text) == [
        f"{EDITED}:3: null: unknown field (a typo?); {known}",
        f"{EDITED}:4: True: unknown field (a typo?); {known}",
        f"{EDITED}:5: 1.0: unknown field (a typo?); {known}",
        f"{EDITED}:6: a key must be a name, not a list; this entry is not read",
    ]


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!int abc", "!!int"),
        ("!!bool maybe", "!!bool"),
        ("!!timestamp soon", "!!timestamp"),
        ("!!float x", "!!float"),
        ("!!binary QWxwaGE=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!python/object:os.system x", "!!python/object:os.system"),
        ("!fancy Alpha", "!fancy"),
    ],
)
def test_a_tag_is_reported_at_its_field_and_the_rest_still_checked(
    root: Path, value: str, tag: str
) -> None:
    """PyYAML's own constructors crash on some (`!!int abc`) and read others as bytes or
    sets; the format uses none, so each is one problem at its field, and the file goes on."""
    text = COMPARISON_FILE.replace("title: Alpha vs Beta", f"title: {value}").replace(
        "    url: https://beta.example.com/", "    url: beta"
    )
    assert problems_in(root, text) == [
        f"{EDITED}:2: title: tag '{tag}' is not allowed in content files; remove it",
        f"{EDITED}:22: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
    ]


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\u2028", "line separator U+2028"),
        ("\u2029", "paragraph separator U+2029"),
        ("\x85", "next-line character U+0085"),
    ],
)
def test_line_breaks_only_yaml_sees_are_reported_and_do_not_shift_lines(
    root: Path, char: str, name: str
) -> None:
    """The raw character, not a YAML escape: reported at its line and field, and every
    later line keeps the number an editor (or grep) shows."""
    assert char not in COMPARISON_FILE
    data = (
        COMPARISON_FILE.replace("title: Alpha vs Beta", f"title: Alpha{char}vs Beta")
        .replace("    description: Beta does another thing.", f"    description: Beta{char} does.")
        .encode()
        .replace(b'take: "Docs are thin."', b'take: "Docs are\x00 thin."')
    )
    separator = (
        f"{name} is not allowed: YAML reads it as a line break, editors do not show one "
        "(use a plain new line)"
    )
    assert _write_bytes(root, data) == [
        f"{EDITED}:2: title: {separator}",
        f"{EDITED}:20: tools[1].description: {separator}",
        f"{EDITED}:27: reviews[0].takes.beta.take: NUL byte (0x00) is not allowed in text",
    ]


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_lines_are_counted_as_editors_count_them(root: Path, newline: bytes) -> None:
    data = COMPARISON_FILE.replace("    url: https://beta", "    url: beta").encode()
    assert _write_bytes(root, data.replace(b"\n", newline)) == [
        f"{EDITED}:22: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool"
    ]


def _write_bytes(root: Path, data: bytes, name: str = "alpha-vs-beta") -> list[str]:
    (root / "comparisons" / f"{name}.yaml").write_bytes(data)
    return [str(p) for p in check_content(root).problems]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_unreadable_bytes_are_reported_at_their_line_and_field(root: Path, newline: bytes) -> None:
    """Each at its own line and field, and the rest of the file is still checked."""
    data = COMPARISON_FILE.encode()
    data = data.replace(b"Alpha does one thing well.", b"Alpha does one thing \xe9ell.")
    data = data.replace(b'take: "Docs are thin."', b'take: "Docs are\x00 thin."')
    data = data.replace(b"question: Which one should you ship with?\n", b"")
    data = data.replace(b"\n", newline)
    assert _write_bytes(root, data) == [
        f"{EDITED}:1: question: is required",
        f"{EDITED}:11: tools[0].description: byte 0xE9 is not UTF-8 (save the file as UTF-8)",
        f"{EDITED}:26: reviews[0].takes.beta.take: NUL byte (0x00) is not allowed in text",
    ]


def test_a_control_character_in_the_file_is_reported_at_its_line(root: Path) -> None:
    data = COMPARISON_FILE.encode().replace(b"    vendor: Beta Corp", b"    vendor: Beta\x1bCorp")
    assert _write_bytes(root, data) == [
        f"{EDITED}:17: tools[1].vendor: control character U+001B is not allowed in text"
    ]


def test_a_slug_with_a_bad_byte_is_reported_once(root: Path) -> None:
    """The byte is the problem; the slug's pattern and the file name are not reported too."""
    data = COMPARISON_FILE.encode().replace(b"slug: alpha-vs-beta", b"slug: alpha-vs-b\xffta")
    assert _write_bytes(root, data) == [
        f"{EDITED}:1: slug: byte 0xFF is not UTF-8 (save the file as UTF-8)"
    ]


def test_a_bad_byte_in_a_leading_comment_hides_nothing(root: Path) -> None:
    data = b"# caf\xe9 notes\n" + COMPARISON_FILE.encode().replace(
        b"    url: https://beta", b"    url: beta"
    )
    assert _write_bytes(root, data) == [
        f"{EDITED}:1: byte 0xE9 is not UTF-8 (save the file as UTF-8)",
        f"{EDITED}:23: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
    ]


def test_aliases_are_refused_at_their_line(root: Path) -> None:
    text = COMPARISON_FILE.replace("    pricing: {entry: Paid}", "    pricing: *free").replace(
        "    pricing: {entry: Free, note: Self-hosted}", "    pricing: &free {entry: Free}"
    )
    assert problems_in(root, text) == [
        f"{EDITED}:21: YAML: alias '*free' is not allowed in content files; "
        "write the value out in full"
    ]


def test_a_billion_laughs_file_is_refused_at_once(root: Path) -> None:
    """Seven levels of nine aliases: 500 bytes that stand for three million strings, each
    visited by every walk over the document. (The command-line test runs a bigger one.)"""
    lines = ["slug: alpha-vs-beta", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 7):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    started = time.monotonic()
    problems = problems_in(root, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert problems == [
        f"{EDITED}:3: YAML: alias '*a0' is not allowed in content files; write the value out in full"
    ]


def test_deep_nesting_is_refused(root: Path) -> None:
    problems = problems_in(root, "slug: x\ntitle: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems == [f"{EDITED}:2: YAML: nested more than 32 levels deep"]


def test_a_number_too_long_to_read_is_refused(root: Path) -> None:
    text = COMPARISON_FILE.replace("    name: Beta", "    name: " + "9" * 5000)
    assert problems_in(root, text) == [
        f"{EDITED}:16: YAML: a number of 5000 characters is too long; "
        "put it in quotes if it is text"
    ]


def test_an_oversized_file_is_refused_unread(root: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    text = COMPARISON_FILE + padding * (MAX_FILE_BYTES // len(padding))
    assert len(text) > MAX_FILE_BYTES
    assert problems_in(root, text) == [
        f"{EDITED}:1: file is {len(text):,} bytes; the limit is {MAX_FILE_BYTES:,}"
    ]


def test_a_folder_named_like_a_file_is_reported(root: Path) -> None:
    (root / "comparisons" / "odd.yaml").mkdir()
    problems = [str(p) for p in check_content(root).problems]
    assert problems == ["content/comparisons/odd.yaml:1: is a folder, not a file"]


def test_every_problem_is_one_line(root: Path) -> None:
    """A key with a line break, quoted back in a message, is shown escaped."""
    text = COMPARISON_FILE.replace("title: Alpha vs Beta", 'title: Alpha vs Beta\n"ti\\ntle": x')
    assert problems_in(root, text) == [
        f"{EDITED}:3: ti\\ntle: unknown field (a typo?); a comparison has: slug, title, "
        "question, published, verdict, tools, reviews"
    ]
