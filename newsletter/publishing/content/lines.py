"""YAML read the way editors need it reported: every node knows its line.

PyYAML's SafeLoader forgets where a value came from and silently keeps the last of two
equal keys; an editor who wrote a field twice, or mistyped one, needs to be told on which
line. Dates stay text here so that a bad date reaches validation as a field problem
instead of failing inside the parser.

A content file is also untrusted input read by the weekly job and the preview, so reading
one is bounded: at most `MAX_FILE_BYTES`, nesting at most `MAX_DEPTH` deep, numbers of at
most `MAX_NUMBER_CHARACTERS`, and no aliases. An alias (`*name`) repeats an anchored value
without copying the text, so a few kilobytes of nested aliases stand for billions of values
that every later walk over the document would visit. The format never needs one: nothing
repeats inside one comparison file (a tool repeats across files, where anchors cannot
reach), none of the shipped files uses one, and a problem inside an aliased value would be
reported at the anchor, not where the editor used it. Refusing them keeps the parsed
document as small as the file.

Bytes YAML cannot read (not UTF-8, NUL, other control characters) are reported at their own
line, then read as U+FFFD so that the rest of the file is still checked in the same run.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path
from typing import Any

import yaml

from newsletter.publishing.content.reports import Problem

MAX_FILE_BYTES = 128 * 1024
"""Past this a file is refused unread. The largest shipped comparison is 4.5 KB; five tools
with the longest descriptions and takes allowed, reviewed by a panel of four, is about
25 KB. Parsing is pure Python (about a second per 100 KB on a busy machine), so the
limit also bounds how long one file can hold up the weekly job or the preview."""
MAX_DEPTH = 32
"""Nesting levels; a comparison uses six (reviews, a review, takes, a take, its fields)."""
MAX_NUMBER_CHARACTERS = 64
"""A longer number is refused before Python converts it (a long one takes seconds)."""

Mark = tuple[int, int]
"""(line, column) of a node: the line 1-based as editors count, the column 0-based."""


Loc = tuple[int | str, ...]
"""A place in a document: ('tools', 1, 'url')."""


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and the mark of each key; a document's
    root also knows the places that held bytes YAML could not read (`damaged`)."""

    line: int
    key_marks: dict[str, Mark]
    damaged: frozenset[Loc] = frozenset()


class LineList(list[Any]):
    """A sequence that remembers the line of itself and the mark of each item."""

    line: int
    item_marks: list[Mark]
    damaged: frozenset[Loc] = frozenset()


class _Refused(yaml.MarkedYAMLError):
    """What the loader will not read, at the mark where it starts."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(None, None, message, mark)


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, refuses duplicate keys, aliases, deep nesting and
    overlong numbers, and leaves dates as text (a bad date must reach validation as a field
    error, not a crash in the parser)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                f"alias '*{event.anchor}' is not allowed in content files; "
                "write the value out in full",
                event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_marks = {}
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise _Refused(f"duplicate key '{key}'", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_marks[key] = _mark(key_node)
        return result

    def construct_line_sequence(self, node: yaml.SequenceNode) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_marks = [_mark(child) for child in node.value]
        return result

    def construct_bounded_number(self, node: yaml.ScalarNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARACTERS:
            raise _Refused(
                f"a number of {len(node.value)} characters is too long; "
                "put it in quotes if it is text",
                node.start_mark,
            )
        if node.tag.endswith(":int"):
            return self.construct_yaml_int(node)
        return self.construct_yaml_float(node)


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_line_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_line_sequence
)
for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
    _LineLoader.add_constructor(_tag, _LineLoader.construct_bounded_number)
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_UNREADABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What YAML refuses to read (the YAML 1.1 printable set, inverted); invalid UTF-8 bytes
arrive here as lone surrogates (`surrogateescape`), which this also matches."""
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
"""Line ends as PyYAML counts them, so a byte's line agrees with the parser's marks."""


def read_yaml(path: Path, shown: str, problems: list[Problem]) -> Any:
    """The parsed document, or None after adding why it could not be read to `problems`."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(shown, 1, "", f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
            )
            return None
        data = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        problems.append(Problem(shown, 1, "", f"cannot be read ({exc.strerror or exc})"))
        return None
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    unreadable = list(_UNREADABLE.finditer(text))
    if unreadable:
        text = _UNREADABLE.sub("\ufffd", text)
    document = _parse(text, shown, problems)
    found = _unreadable_problems(text, unreadable, document, shown)
    problems += [problem for _, problem in found]
    if found and isinstance(document, LineDict | LineList):
        # A byte before the first field (in a comment) damages no field.
        document.damaged = frozenset(loc for loc, _ in found if loc)
    return document


def damaged(document: Any) -> frozenset[Loc]:
    """The places of `document` that held unreadable bytes (already reported)."""
    return getattr(document, "damaged", frozenset())


def _parse(text: str, shown: str, problems: list[Problem]) -> Any:
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(shown, line, "", f"YAML: {exc.problem or exc.context}"))
        return None
    except yaml.YAMLError as exc:  # every YAML error PyYAML raises is marked; kept as a net
        problems.append(Problem(shown, 1, "", f"YAML: {exc}"))
        return None
    if document is None:
        problems.append(Problem(shown, 1, "", "file is empty"))
    return document


def _unreadable_problems(
    text: str, found: list[re.Match[str]], document: Any, shown: str
) -> list[tuple[Loc, Problem]]:
    """One problem per line holding bytes YAML cannot read, at the field there."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    fields = _fields_by_mark(document)
    out: list[tuple[Loc, Problem]] = []
    for match in found:
        index = match.start()
        line = bisect_right(starts, index)
        if out and out[-1][1].line == line:
            continue
        char = match.group()
        if "\udc80" <= char <= "\udcff":
            reason = f"byte 0x{ord(char) - 0xDC00:02X} is not UTF-8 (save the file as UTF-8)"
        elif char == "\x00":
            reason = "NUL byte (0x00) is not allowed in text"
        else:
            reason = f"control character U+{ord(char):04X} is not allowed in text"
        loc = _field_at(fields, (line, index - starts[line - 1]))
        out.append((loc, Problem(shown, line, dotted(loc), reason)))
    return out


def _fields_by_mark(document: Any) -> list[tuple[Mark, int, Loc]]:
    """Every key and item of the document as (mark, depth, location), in text order."""
    found: list[tuple[Mark, int, Loc]] = []

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, LineDict):
            for key, value in node.items():
                found.append((node.key_marks[key], len(loc) + 1, (*loc, key)))
                walk(value, (*loc, key))
        elif isinstance(node, LineList):
            for index, value in enumerate(node):
                found.append((node.item_marks[index], len(loc) + 1, (*loc, index)))
                walk(value, (*loc, index))

    walk(document, ())
    found.sort(key=lambda entry: entry[:2])
    return found


def _field_at(fields: list[tuple[Mark, int, Loc]], mark: Mark) -> Loc:
    """The innermost key or item that starts at or before `mark`: the field holding it."""
    position = bisect_right(fields, (mark, MAX_DEPTH + 1), key=lambda entry: entry[:2])
    return fields[position - 1][2] if position else ()


def line_of(document: Any, loc: Loc) -> int:
    """The line of the deepest node along `loc` that exists in the parsed document."""
    node = document
    line = getattr(document, "line", 1)
    for part in loc:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.key_marks[part][0]
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_marks[part][0]
            node = node[part]
        else:
            break
    return line


def dotted(loc: Loc) -> str:
    """A location as an editor reads it: ('tools', 1, 'url') -> 'tools[1].url'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
