"""YAML read the way editors need it reported: every node knows its line.

PyYAML's SafeLoader forgets where a value came from and silently keeps the last of two
equal keys; an editor who wrote a field twice, or mistyped one, needs to be told on which
line. Dates stay text here so that a bad date reaches validation as a field problem
instead of failing inside the parser.

A content file is also untrusted input read by the weekly job and the preview, so reading
one is bounded: only a regular file (a FIFO would block the reader forever, a device would
never end), at most `MAX_FILE_BYTES`, nesting at most `MAX_DEPTH` deep, numbers of at most
`MAX_NUMBER_CHARACTERS`, and no aliases. An alias (`*name`) repeats an anchored value
without copying the text, so a few kilobytes of nested aliases stand for billions of values
that every later walk over the document would visit. The format never needs one: nothing
repeats inside one comparison file (a tool repeats across files, where anchors cannot
reach), none of the shipped files uses one, and a problem inside an aliased value would be
reported at the anchor, not where the editor used it. Refusing them keeps the parsed
document as small as the file.

Everything else the reader can step past is reported and stepped past, so that one run
still checks the rest of the file: a key written twice (the first is kept), a key that is
a list or a mapping, a tag (`!!int`, `!custom`: the format uses none, and PyYAML's own
constructors crash on `!!int abc`), and characters YAML cannot read (not UTF-8, NUL, other
control characters) or reads differently from an editor (U+0085, U+2028 and U+2029 end a
line for YAML but not on screen, so every line number after one would be off by one). Those
characters are reported at their own line and read as U+FFFD; a tag's value is read as the
plain value it tags; and a field holding either reports nothing more, its problem is said.
"""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.publishing.content.reports import Problem
from newsletter.publishing.content.syntax import UNREADABLE, syntax_problem

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

_STR = "tag:yaml.org,2002:str"
_PLAIN_TAGS = {
    yaml.ScalarNode: _STR,
    yaml.SequenceNode: yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    yaml.MappingNode: yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
}


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and the mark of each key; a document's
    root also knows the places whose problem is reported already (`damaged`)."""

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


@dataclass(frozen=True)
class _Note:
    """Something the loader stepped past. Its field is the key `key` of the mapping `owner`
    when it names one (a key written twice is not in the document to be found by its mark),
    else the field at `mark`. `quiet`: the value there is a stand-in, so validating it
    would only repeat this note."""

    mark: Mark
    message: str
    owner: LineDict | None = None
    key: str | None = None
    quiet: bool = False


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,") else tag


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, notes duplicate keys, keys that are not names and
    tags, refuses aliases, deep nesting and overlong numbers, and leaves dates as text (a
    bad date must reach validation as a field error, not a crash in the parser)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self.notes: list[_Note] = []

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
        tag = getattr(event, "tag", None)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        plain_text = tag == _STR and isinstance(node, yaml.ScalarNode)  # `!!str 12` is '12'
        if node is not None and tag not in (None, "!") and not plain_text:
            message = f"tag '{_shown_tag(tag)}' is not allowed in content files; remove it"
            self.notes.append(_Note(_mark(node), message, quiet=True))
            node.tag = _PLAIN_TAGS[type(node)]
        return node

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_marks = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                shape = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                message = f"a key must be a name, not {shape}; this entry is not read"
                self.notes.append(_Note(_mark(key_node), message, owner=result))
                continue
            key = str(key_node.value)  # as written: `null:` is 'null', not None
            if key in result:
                first = result.key_marks[key][0]
                message = f"written twice (first on line {first}); only the first is read"
                self.notes.append(_Note(_mark(key_node), message, owner=result, key=key))
                continue
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
_IMPLICIT = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("bool", "int", "float", "null"))
"""What an untagged value may be read as besides text. Not dates (see above), not `<<`
(merging exists for aliases) and not `=`, which SafeLoader resolves but cannot build."""
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _IMPLICIT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SEPARATORS = {
    "\x85": "next-line character U+0085",
    "\u2028": "line separator U+2028",
    "\u2029": "paragraph separator U+2029",
}
_REFUSED = re.compile(
    "[\x85\u2028\u2029]|[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
"""What YAML refuses to read (the YAML 1.1 printable set, inverted), and the line breaks
only YAML sees; invalid UTF-8 bytes arrive here as lone surrogates (`surrogateescape`),
which this also matches."""
_BREAK = re.compile("\r\n|[\n\r]")
"""Line ends as editors count them; once `_SEPARATORS` are replaced, PyYAML agrees."""


def read_yaml(path: Path, shown: str, problems: list[Problem]) -> Any:
    """The parsed document, or None after adding why it could not be read to `problems`.
    Problems the reader stepped past are added too, and the document is still returned."""
    data = _read_bounded(path)
    if isinstance(data, str):
        problems.append(Problem(shown, 1, "", data))
        return None
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    refused = list(_REFUSED.finditer(text))
    if refused:
        text = _REFUSED.sub("\ufffd", text)
    loader = _LineLoader(text)
    document = _parse(loader, text, shown, problems)
    places = _Places(document)
    found = _refused_problems(text, refused, places, shown)
    found += [(note.quiet, *places.note(note, shown)) for note in loader.notes]
    problems += [problem for _, _, problem in found]
    if isinstance(document, LineDict | LineList):
        # A character before the first field (in a comment) damages no field.
        document.damaged = frozenset(loc for quiet, loc, _ in found if quiet and loc)
    return document


def _read_bounded(path: Path) -> bytes | str:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file, or why it is not read. The
    file's kind is checked before opening, and again on what was opened: opening does not
    block, whatever replaced the file in between."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return "cannot be read (a link to nothing, or it was just removed)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(status.st_mode):
        return _not_a_file(status.st_mode)
    if status.st_size > MAX_FILE_BYTES:
        return f"file is {status.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,}"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    with os.fdopen(descriptor, "rb") as stream:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            return _not_a_file(mode)
        try:
            data = stream.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
    if len(data) > MAX_FILE_BYTES:
        return f"file is over {MAX_FILE_BYTES:,} bytes, the limit"
    return data


def _not_a_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is {kind}, not a file; not read"


def damaged(document: Any) -> frozenset[Loc]:
    """The places of `document` whose problem is reported already."""
    return getattr(document, "damaged", frozenset())


def _parse(loader: _LineLoader, text: str, shown: str, problems: list[Problem]) -> Any:
    try:
        document = loader.get_single_data()
    except _Refused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        problems.append(Problem(shown, line, "", f"YAML: {exc.problem}"))
        return None
    except yaml.MarkedYAMLError as exc:
        line, message = syntax_problem(exc, text)
        problems.append(Problem(shown, line, "", f"YAML: {message}"))
        return None
    except yaml.YAMLError:  # every YAML error PyYAML raises is marked; kept as a net
        problems.append(Problem(shown, 1, "", f"YAML: {UNREADABLE}"))
        return None
    finally:
        loader.dispose()
    if document is None:
        problems.append(Problem(shown, 1, "", "file is empty"))
    return document


class _Places:
    """Where each field of a parsed document is: by mark, and each mapping by identity."""

    def __init__(self, document: Any) -> None:
        self.fields: list[tuple[Mark, int, Loc]] = []
        self.mappings: dict[int, Loc] = {}
        self._walk(document, ())
        self.fields.sort(key=lambda entry: entry[:2])

    def _walk(self, node: Any, loc: Loc) -> None:
        if isinstance(node, LineDict):
            self.mappings[id(node)] = loc
            for key, value in node.items():
                self.fields.append((node.key_marks[key], len(loc) + 1, (*loc, key)))
                self._walk(value, (*loc, key))
        elif isinstance(node, LineList):
            for index, value in enumerate(node):
                self.fields.append((node.item_marks[index], len(loc) + 1, (*loc, index)))
                self._walk(value, (*loc, index))

    def at(self, mark: Mark) -> Loc:
        """The innermost key or item that starts at or before `mark`: the field holding it."""
        position = bisect_right(self.fields, (mark, MAX_DEPTH + 1), key=lambda entry: entry[:2])
        return self.fields[position - 1][2] if position else ()

    def note(self, note: _Note, shown: str) -> tuple[Loc, Problem]:
        if note.owner is not None:
            loc = self.mappings.get(id(note.owner), ())
            loc = (*loc, note.key) if note.key is not None else loc
        else:
            loc = self.at(note.mark)
        return loc, Problem(shown, note.mark[0], dotted(loc), note.message)


def _refused_problems(
    text: str, found: list[re.Match[str]], places: _Places, shown: str
) -> list[tuple[bool, Loc, Problem]]:
    """One problem per line holding characters refused, at the field there."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    out: list[tuple[bool, Loc, Problem]] = []
    for match in found:
        index = match.start()
        line = bisect_right(starts, index)
        if out and out[-1][2].line == line:
            continue
        char = match.group()
        if "\udc80" <= char <= "\udcff":
            reason = f"byte 0x{ord(char) - 0xDC00:02X} is not UTF-8 (save the file as UTF-8)"
        elif char == "\x00":
            reason = "NUL byte (0x00) is not allowed in text"
        elif char in _SEPARATORS:
            reason = (
                f"{_SEPARATORS[char]} is not allowed: YAML reads it as a line break, "
                "editors do not show one (use a plain new line)"
            )
        else:
            reason = f"control character U+{ord(char):04X} is not allowed in text"
        loc = places.at((line, index - starts[line - 1]))
        out.append((True, loc, Problem(shown, line, dotted(loc), reason)))
    return out


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
