"""YAML's syntax errors in the editors' words, at the line to fix.

PyYAML reports where it gave up, in its own vocabulary ("expected <block end>, but found
'<scalar>'"), often many lines after the mistake: a quote left open on line 2 is only
noticed on line 26, where the next quote closes it. An editor needs the line where the
unclosed quote or bracket opens, and what to do about it. PyYAML has no error codes, so
the errors are told apart by their wording; one it does not know gets a plain sentence at
the parser's line, never the parser's own.
"""

from __future__ import annotations

from typing import Any

import yaml

UNREADABLE = "cannot be read here; check the quotes, colons and indentation"
"""What a syntax error without wording of its own says."""


def syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """A YAML syntax error as (line, sentence) in the editors' words, at the line to fix:
    where an unclosed quote or bracket opens, not where the parser gave up. PyYAML has no
    error codes, so this goes by its wording; a wording it does not know gets a plain
    sentence at the parser's line."""
    context = exc.context or ""
    problem = exc.problem or ""
    at = exc.problem_mark or exc.context_mark
    line = at.line + 1 if at else 1
    opened = exc.context_mark.line + 1 if exc.context_mark else line
    if context == "while scanning a quoted scalar":
        return opened, "unclosed quote: the quote that opens on this line is never closed"
    if problem.startswith(("found character '\\t'", "found a tab character")):
        return line, "a tab indents this line; indent with spaces"
    if problem.endswith("that cannot start any token"):
        char = problem.removeprefix("found character ").split(" ")[0]
        return line, f"a value cannot start with {char}; put the text in quotes"
    if context in ("while scanning an alias", "while scanning an anchor"):
        char = "*" if context.endswith("alias") else "&"
        return opened, f"a value cannot start with '{char}'; put the text in quotes"
    if context == "while scanning a simple key":
        return opened, "a 'name: value' line without its ':' (or text above that needs quotes)"
    if problem == "mapping values are not allowed here":
        return line, (
            "a ':' where none can be: put a value holding ': ' in quotes, "
            "or check the indentation and the line above"
        )
    if problem.startswith("found undefined tag handle"):
        return line, "tags are not allowed in content files; remove it"
    if context.startswith("while parsing a flow ") and opened < line:
        bracket, closing = ("[", "]") if context.endswith("sequence") else ("{", "}")
        return opened, f"unclosed '{bracket}': the one that opens on this line has no '{closing}'"
    if problem.startswith("expected <block end>") and exc.problem_mark is not None:
        return _block_end(exc.problem_mark, text)
    if context == "expected a single document in the stream":
        return line, "a second document starts here ('---'); a file holds one comparison"
    if problem.startswith("expected '<document start>'") and exc.problem_mark is not None:
        before = _token_before(exc.problem_mark, text)
        if isinstance(before, yaml.DirectiveToken):
            return before.start_mark.line + 1, (
                "a line starting with '%' is read as a YAML directive; put the text in quotes"
            )
        if isinstance(before, yaml.DocumentEndToken):
            return before.start_mark.line + 1, "a '...' line ends the file early; remove it"
    return line, UNREADABLE


def _token_before(mark: Any, text: str) -> yaml.Token | None:
    """The last token that starts before `mark` (the scanner got that far before)."""
    before = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                break
            before = token
    except yaml.YAMLError:
        pass
    return before


def _block_end(mark: Any, text: str) -> tuple[int, str]:
    """The parser met a value where a key or the end of a block should be: right after a
    quoted value that ran over several lines the quote was never closed; right after a
    one-line quoted value, text follows its closing quote; else the line is mis-indented."""
    before = _token_before(mark, text)
    if isinstance(before, yaml.ScalarToken) and before.style in ('"', "'"):
        start, end = before.start_mark.line + 1, before.end_mark.line + 1
        if start < end:
            return start, (
                f"unclosed quote: the quote that opens on this line runs on to line {end}"
            )
        return end, "text after a closing quote; put the whole value in quotes"
    return mark.line + 1, "bad indentation: this line does not line up with the lines above"
