"""uvicorn's access log without the signed tokens of the links in emails.

A confirm, unsubscribe or vote link's path holds the token that acts for its subscriber;
written to a log as it is, the log would hold working links for every reader who clicked
(and a log is read by more people, and kept longer, than the database). The filter keeps the
path's shape, `/vote/…/12/34`, so a log still says which kind of link was used and how it
was answered.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any, Final

from newsletter.links import urls

_TOKEN_IN_PATH: Final = re.compile(
    "(/(?:"
    + "|".join(
        re.escape(urls.link_prefix(path).strip("/"))
        for path in (urls.CONFIRM, urls.UNSUBSCRIBE, urls.RESUBSCRIBE, urls.VOTE)
    )
    + ")/+)[^/?#]+"
)
"""Anywhere in the path, not only at its start: `//vote/<token>`, `/./vote/<token>` or a
path under a prefix answer 404, but the token they carry still works on the right path."""
HIDDEN: Final = "…"


def without_tokens(path: str) -> str:
    """'/unsubscribe/<token>' -> '/unsubscribe/…'; other paths as they are."""
    return _TOKEN_IN_PATH.sub(lambda m: m.group(1) + HIDDEN, path)


class LinkTokens(logging.Filter):
    """For the `uvicorn.access` logger, whose records carry (client, method, path, HTTP
    version, status) as their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], without_tokens(args[2]), *args[3:])
        return True


def redacting(log_config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a logging dictConfig with `LinkTokens` on uvicorn's access logger."""
    config = copy.deepcopy(log_config)
    config.setdefault("filters", {})["link_tokens"] = {"()": f"{__name__}.LinkTokens"}
    access = config.setdefault("loggers", {}).setdefault("uvicorn.access", {})
    access["filters"] = [*access.get("filters", []), "link_tokens"]
    return config
