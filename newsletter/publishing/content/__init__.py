"""The editors' files: parse, check (every problem with file, line and field), load.

`check_content` never writes; `load_content` runs the same checks and then upserts
everything by slug in one transaction, so a bad file loads nothing and a second
load of the same files changes nothing.

One module per concern: `lines` reads YAML keeping line numbers, `syntax` says YAML's
syntax errors and `wording` pydantic's errors in the editors' words, `schema` holds the
shapes editors write, `rules` the checks a schema cannot express, `check` walks a content
folder, `load` writes it, and `reports` the types callers receive.
"""

from newsletter.publishing.content.check import ContentSet, check_content
from newsletter.publishing.content.load import load_content
from newsletter.publishing.content.reports import ContentError, LoadReport, Problem

__all__ = [
    "ContentError",
    "ContentSet",
    "LoadReport",
    "Problem",
    "check_content",
    "load_content",
]
