"""``/_standin/*``: script faults, read what was accepted and the counters, reset, from
another process (the CLI's stand-in, the benchmark's). No auth: a local development tool.

- ``GET|POST|DELETE faults``: the script; POST ``{"fault": name, "count": n, ...params}``
  queues one (``"default": true`` sets the default instead; a null fault clears it).
- ``GET accepted[?content=1]``: recipients and requests (full mode only: 409 otherwise).
- ``POST reset``: records, counters and faults cleared. ``GET stats``: the counters.
- ``GET events``: the event webhook's URL, public key, seed, events made by type and
  what the poster did (409 without ``--events-to``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, urlsplit

from newsletter.devtools.standin.api_errors import ApiError
from newsletter.devtools.standin.exchange import BodyProblem, Exchange

if TYPE_CHECKING:
    from newsletter.devtools.standin.stand_in import StandIn

CONTROL_PREFIX: Final = "/_standin/"
_METHODS: Final = {
    "faults": ("GET", "POST", "DELETE"),
    "accepted": ("GET",),
    "reset": ("POST",),
    "stats": ("GET",),
    "events": ("GET",),
}


def answer(exchange: Exchange, path: str) -> int:
    """Answer one control request; return the status."""
    route = path[len(CONTROL_PREFIX) :].rstrip("/")
    allowed = _METHODS.get(route)
    if allowed is None:
        return exchange.refuse(404)
    if exchange.command not in allowed:
        return exchange.refuse(405, allow=", ".join(allowed))
    try:
        raw = exchange.read_body()
    except BodyProblem as problem:
        exchange.reply_errors(problem.status, [ApiError(str(problem))], close=True)
        return problem.status
    standin = exchange.standin
    if route == "faults":
        if exchange.command == "POST":
            refusal = _post_fault(standin, raw)
            if refusal is not None:
                exchange.reply_errors(400, [ApiError(refusal)])
                return 400
        elif exchange.command == "DELETE":
            standin.clear_faults()
        exchange.reply_json(200, standin.faults())
    elif route == "accepted":
        if standin.record != "full":
            exchange.reply_errors(409, [ApiError("record='count': nothing is recorded")])
            return 409
        query = parse_qs(urlsplit(exchange.path).query)
        content = query.get("content", ["0"])[-1].lower() in ("1", "true", "yes")
        exchange.reply_json(200, standin.summary(content=content))
    elif route == "events":
        if standin.events is None:
            exchange.reply_errors(409, [ApiError("no event webhook: start with --events-to")])
            return 409
        exchange.reply_json(200, standin.events.as_json())
    elif route == "reset":
        standin.reset()
        exchange.reply_json(200, {"reset": True})
    else:
        exchange.reply_json(200, standin.stats().as_json())
    return 200


def _post_fault(standin: StandIn, raw: bytes) -> str | None:
    """Queue (or set as default) the fault described by a JSON body; the refusal, if any."""
    try:
        spec = json.loads(raw.decode("utf-8") or "null")
    except ValueError:
        return "the body must be JSON"
    if not isinstance(spec, dict) or not isinstance(spec.get("fault"), str | None):
        return 'expected {"fault": name, "count": n, ...params}'
    params = dict(spec)
    kind = params.pop("fault", None)
    count = params.pop("count", 1)
    as_default = params.pop("default", False)
    try:
        if as_default is True:
            standin.set_default_fault(kind, **params)
        elif kind is None:
            return "fault is required (or default: true with fault null to clear)"
        else:
            standin.inject(kind, count, **params)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None
