"""YAML read the way editors need it reported: every node knows its line.

PyYAML's SafeLoader forgets where a value came from and silently keeps the last of two
equal keys; an editor who wrote a field twice, or mistyped one, needs to be told on which
line. Dates stay text here so that a bad date reaches validation as a field problem
instead of failing inside the parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from newsletter.publishing.content.reports import Problem


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that remembers the line of itself and of each item (1-based)."""

    line: int
    item_lines: list[int]


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, refuses duplicate keys and leaves dates as text
    (a bad date must reach validation as a field error, not a crash in the parser)."""

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise _DuplicateKey(None, None, f"duplicate key '{key}'", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_line_sequence(self, node: yaml.SequenceNode) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_line_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_line_sequence
)
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path, shown: str, problems: list[Problem]) -> Any:
    """The parsed document, or None after adding why it could not be read to `problems`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, 1, "", f"not UTF-8 text ({exc.reason})"))
        return None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(shown, line, "", f"YAML: {exc.problem or exc.context}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(shown, 1, "", f"YAML: {exc}"))
    return None


def line_of(document: Any, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest node along `loc` that exists in the parsed document."""
    node = document
    line = getattr(document, "line", 1)
    for part in loc:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.key_lines[part]
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def dotted(loc: tuple[int | str, ...]) -> str:
    """A location as an editor reads it: ('tools', 1, 'url') -> 'tools[1].url'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
