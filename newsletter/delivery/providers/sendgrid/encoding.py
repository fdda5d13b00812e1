"""A batch as the JSON body of one mail/send request, checked against SendGrid's limits.

One request carries up to 1,000 personalizations, one recipient each: the rendered HTML and
text travel once per request and each recipient's links arrive as `substitutions` (for the
sender's batches, a single one: the recipient's token, see `_Template`). The body
is checked before it is sent: a request SendGrid would refuse is refused here
(`LimitError`), with the reason, and nothing goes out.

Two ways to the same JSON: `build_body` makes a plain dict from any `Recipient`s (the
package's `Mail` helper would prepend personalizations, O(n) each); for the sender's
`PersonalizedBatch`, `encode_request` lays the text out directly from the rows and tokens
with a per-personalizer template, which at a million recipients saves more time than
everything else put together (a test holds the two equal).

Every request states its tracking (`tracking_settings`, from `Message.tracking`) rather
than leaving it to the account's defaults, and marks the HTML's action links so that click
tracking never rewrites them (`links`).

Picklable in and out (messages, batches, `LimitError`): a build process runs
`encode_request` on the backend's behalf.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from newsletter.core.text import without_controls
from newsletter.delivery import (
    LinkScheme,
    Message,
    PermanentFailure,
    PersonalizedBatch,
    Recipient,
    placeholders,
)
from newsletter.delivery.headers import LIST_ID, LIST_UNSUBSCRIBE, LIST_UNSUBSCRIBE_POST, ONE_CLICK
from newsletter.delivery.message import ISSUE_ARG, SUBSCRIBER_ARG
from newsletter.delivery.providers.sendgrid.limits import (
    MAX_BODY_BYTES,
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MAX_MAP_BYTES,
    MAX_PERSONALIZATIONS,
    NAME_REFUSED_CHARACTERS,
    RESERVED_HEADERS,
)
from newsletter.delivery.providers.sendgrid.links import mark_action_links

TOKEN_MAX_CHARS: Final = 100
"""A token is two base64 integers, a dot and a 16-character MAC: the template proves the
limits once for a token this long instead of measuring every recipient's."""


_MAX_BODY_MB: Final = MAX_BODY_BYTES // 2**20


class LimitError(PermanentFailure):
    """The request breaks a documented SendGrid limit; it was not sent."""


# ------------------------------------------------------------------------------ checks


def _json_bytes(value: Mapping[str, str]) -> int:
    """Compact UTF-8 JSON size of a string map, computed only when it could matter.

    A character costs 1 to 6 bytes in JSON, so a map is decided from its length alone
    unless it is near the limit (this runs once per recipient).
    """
    chars = sum(len(k) + len(v) + 6 for k, v in value.items()) + 1
    if chars * 6 <= MAX_MAP_BYTES or chars > MAX_MAP_BYTES:
        return chars
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _check_headers(headers: Mapping[str, str], where: str) -> None:
    for name, value in headers.items():
        if name.lower() in RESERVED_HEADERS:
            raise LimitError(f"{where}: the header {name} is reserved by SendGrid")
        if not isinstance(value, str):
            raise LimitError(f"{where}: the header {name} must be a string")


def check_message(message: Message) -> None:
    """The parts of a request that are the same for every batch; LimitError if SendGrid
    would refuse them (so every batch would fail: the send stops instead)."""
    categories = message.categories
    if len(categories) > MAX_CATEGORIES:
        raise LimitError(
            f"{len(categories)} categories; SendGrid allows {MAX_CATEGORIES}", stops_send=True
        )
    if len(set(categories)) != len(categories):
        raise LimitError(f"categories must be unique: {list(categories)}", stops_send=True)
    for category in categories:
        if not category.isascii() or len(category) > MAX_CATEGORY_CHARS or not category:
            raise LimitError(
                f"category {category!r} must be 1 to {MAX_CATEGORY_CHARS} ASCII characters",
                stops_send=True,
            )
    try:
        _check_headers(_message_headers(message), "message")
    except LimitError as exc:
        raise LimitError(str(exc), stops_send=True) from None
    if not message.text or not message.html:
        raise LimitError("the message needs both a text and an HTML part", stops_send=True)
    if not message.subject:
        raise LimitError("the message has no subject", stops_send=True)
    if _json_bytes(message.custom_args) > MAX_MAP_BYTES:
        raise LimitError(
            f"the message's custom_args exceed {MAX_MAP_BYTES:,} bytes", stops_send=True
        )


# ---------------------------------------------------------------------- the dict body


def _message_headers(message: Message) -> dict[str, str]:
    headers = dict(message.headers)
    if message.list_id:
        headers[LIST_ID] = message.list_id
    return headers


_REFUSED: Final = frozenset(NAME_REFUSED_CHARACTERS)
_REFUSED_AS_SPACES: Final = str.maketrans(dict.fromkeys(NAME_REFUSED_CHARACTERS, " "))


def display_name(name: str | None) -> str | None:
    """A subscriber's name as the `name` of a recipient: SendGrid refuses a request whose
    recipient name holds ';' or ',', so each becomes a space ("Lovelace, Ada" is sent as
    "Lovelace Ada"; the stored name keeps its comma). The name is cleaned again of control
    characters and escape sequences (names stored by older code were not cleaned when they
    came in: a CR or LF must never reach a header). None when nothing is left."""
    if not name:
        return None
    if not _REFUSED.isdisjoint(name):
        name = name.translate(_REFUSED_AS_SPACES)
    return without_controls(name) or None


def tracking_settings(tracking: bool) -> dict[str, Any]:
    """The request's tracking, overriding the account's defaults either way. On: opens and
    clicks of the HTML part are tracked, but never links of the text part (`enable_text`
    false): there no link can be marked, and the action links would be rewritten too."""
    return {
        "click_tracking": {"enable": tracking, "enable_text": False},
        "open_tracking": {"enable": tracking},
    }


def _body_without_personalizations(message: Message) -> dict[str, Any]:
    """Everything in a request but the recipients: the same for every batch but the
    batch's custom_args. The HTML's action links are marked so click tracking leaves them
    alone (see `links`), whatever the tracking setting: a link is marked the same in every
    request, and the mark is harmless when nothing is tracked."""
    body: dict[str, Any] = {
        "from": {"email": message.from_email, "name": message.from_name}
        if message.from_name
        else {"email": message.from_email},
        "subject": message.subject,
        "content": [  # text/plain first, or SendGrid answers 400
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": mark_action_links(message.html, message.action_urls)},
        ],
        "tracking_settings": tracking_settings(message.tracking),
    }
    headers = _message_headers(message)
    if headers:
        body["headers"] = headers
    if message.categories:
        body["categories"] = list(message.categories)
    if message.custom_args:
        body["custom_args"] = message.custom_args
    if message.sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def build_body(message: Message, recipients: Sequence[Recipient]) -> dict[str, Any]:
    """The mail/send body for one batch, checked against SendGrid's limits first."""
    if not recipients:
        raise LimitError("a request needs at least one recipient")
    if len(recipients) > MAX_PERSONALIZATIONS:
        raise LimitError(
            f"{len(recipients)} personalizations in one request; "
            f"SendGrid allows {MAX_PERSONALIZATIONS}"
        )
    # One recipient per personalization, so the 1,000-recipient rule holds with the above.
    check_message(message)
    top_args = message.custom_args
    top_args_bytes = _json_bytes(top_args) if top_args else 0
    personalizations: list[dict[str, Any]] = []
    approximate = len(message.html) + len(message.text) + 1000
    for index, r in enumerate(recipients):
        to: dict[str, str] = {"email": r.email}
        name = display_name(r.name)
        if name:
            to["name"] = name
        p: dict[str, Any] = {"to": [to]}
        if r.substitutions:
            size = _json_bytes(r.substitutions)
            if size > MAX_MAP_BYTES:
                raise LimitError(
                    f"recipient {index + 1} ({r.email}): substitutions are {size:,} bytes; "
                    f"SendGrid allows {MAX_MAP_BYTES:,}"
                )
            p["substitutions"] = r.substitutions
            approximate += size
        if r.headers:
            _check_headers(r.headers, f"recipient {index + 1} ({r.email})")
            p["headers"] = r.headers
        if r.custom_args:
            size = _json_bytes(r.custom_args)
            if top_args and size + top_args_bytes > MAX_MAP_BYTES:
                size = _json_bytes({**top_args, **r.custom_args})
            if size > MAX_MAP_BYTES:
                raise LimitError(
                    f"recipient {index + 1} ({r.email}): custom_args are {size:,} bytes "
                    f"with the message's; SendGrid allows {MAX_MAP_BYTES:,}"
                )
            p["custom_args"] = r.custom_args
        personalizations.append(p)
    body: dict[str, Any] = {"personalizations": personalizations}
    body.update(_body_without_personalizations(message))
    if approximate * 6 > MAX_BODY_BYTES:
        size = len(json.dumps(body).encode())
        if size >= MAX_BODY_BYTES:
            raise LimitError(
                f"the request is {size:,} bytes; SendGrid takes under {_MAX_BODY_MB} MB"
            )
    return body


# --------------------------------------------------------------- the sender's fast path


def _json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_address(email: str) -> str:
    """A JSON string for an address; the common case needs no escaping at all."""
    if email.isascii() and email.isprintable() and '"' not in email and "\\" not in email:
        return f'"{email}"'
    return _json(email)


class _Template:
    """The JSON text of one personalization of a `PersonalizedBatch`, laid out once per
    Personalizer: per recipient only the address, the name, the id and the one token
    (base64url and so JSON-safe as it is) are filled in.

    The request's HTML and text are the scheme's `compact` form of the message's (every
    per-recipient link laid out around `placeholders.TOKEN`), so a personalization carries
    one substitution, the List-Unsubscribe headers and the subscriber's id; the issue's id
    is left to the request's own custom_args when they name the same issue (SendGrid merges
    the two, and every event carries both). What each recipient receives is what
    `build_body` sends for the same recipients (a test holds them together)."""

    def __init__(self, p: LinkScheme) -> None:
        # Weakly: `_templates` is keyed weakly by the scheme, so a template that held its
        # scheme would keep both alive for good (a build process unpickles a scheme per
        # batch: each one's template, with its compacted content, was never freed).
        self._scheme = weakref.ref(p)
        unsubscribe_base = _json(p.unsubscribe_base)[1:-1]
        self.substitutions = '}],"substitutions":{' + _json(placeholders.TOKEN) + ':"'
        self.headers = f'"}},"headers":{{{_json(LIST_UNSUBSCRIBE)}:"<{unsubscribe_base}'
        after_headers = f'>",{_json(LIST_UNSUBSCRIBE_POST)}:{_json(ONE_CLICK)}}},"custom_args":{{'
        subscriber = f'{_json(SUBSCRIBER_ARG)}:"'
        self.custom_args = after_headers + subscriber
        self.custom_args_with_issue = (
            f"{after_headers}{_json(ISSUE_ARG)}:{_json(p.issue_arg)},{subscriber}"
        )
        self._content: tuple[str, str, str, str] | None = None
        self._content_lock = threading.Lock()
        # The limits, proven once for the longest token instead of measured per recipient.
        self.within_limits = _json_bytes({placeholders.TOKEN: "x" * TOKEN_MAX_CHARS}) <= (
            MAX_MAP_BYTES
        )
        self.custom_args_longest = {ISSUE_ARG: p.issue_arg, SUBSCRIBER_ARG: "9" * 20}

    def content(self, message: Message) -> tuple[str, str]:
        """The message's (HTML, text) compacted, once per message: every batch of a send
        carries the same strings (the same objects, or equal copies in a build process)."""
        with self._content_lock:
            cached = self._content
            if cached is None or cached[0] != message.html or cached[1] != message.text:
                # Marked before it is compacted: a marker is what says a link is personal
                # (`%%view_url%%` becomes the issue's plain address), and a mark stays put.
                scheme = self._scheme()
                assert scheme is not None  # the caller's batch holds it
                marked = mark_action_links(message.html, message.action_urls)
                html, text = scheme.compact(marked), scheme.compact(message.text)
                cached = self._content = (message.html, message.text, html, text)
            return cached[2], cached[3]

    def render(
        self,
        tokens: Callable[[int], str],
        subscriber_id: int,
        email: str,
        name: str | None,
        custom_args: str,
    ) -> str:
        token = tokens(subscriber_id)
        display = display_name(name)
        parts = ['{"to":[{"email":', _json_address(email)]
        if display:
            parts += (',"name":', _json(display))
        parts += (self.substitutions, token, self.headers, token, custom_args)
        parts += (str(subscriber_id), '"}}')
        return "".join(parts)


_templates: weakref.WeakKeyDictionary[LinkScheme, _Template] = weakref.WeakKeyDictionary()
_templates_lock = threading.Lock()


def _template(personalizer: LinkScheme) -> _Template:
    with _templates_lock:
        template = _templates.get(personalizer)
        if template is None:
            template = _templates[personalizer] = _Template(personalizer)
        return template


def encode_request(message: Message, recipients: Sequence[Recipient]) -> str:
    """The mail/send body as JSON text, checked against SendGrid's limits first.

    A `PersonalizedBatch` (what the sender sends) is laid out from its rows and tokens
    directly; any other sequence of recipients goes through `build_body`.
    """
    if not isinstance(recipients, PersonalizedBatch):
        return json.dumps(build_body(message, recipients))
    template = _template(recipients.personalizer)
    if not template.within_limits or not 0 < len(recipients) <= MAX_PERSONALIZATIONS:
        return json.dumps(build_body(message, list(recipients)))  # refused there, precisely
    check_message(message)
    if _json_bytes({**message.custom_args, **template.custom_args_longest}) > MAX_MAP_BYTES:
        return json.dumps(build_body(message, list(recipients)))
    html, text_part = template.content(message)
    rest = json.dumps(_body_without_personalizations(replace(message, html=html, text=text_part)))
    if message.custom_args.get(ISSUE_ARG) == recipients.personalizer.issue_arg:
        custom_args = template.custom_args  # the request's own names the issue
    else:
        custom_args = template.custom_args_with_issue
    render, tokens = template.render, recipients.personalizer.token
    personalizations = ",".join(
        [render(tokens, sid, email, name, custom_args) for sid, email, name in recipients.rows]
    )
    text = f'{{"personalizations":[{personalizations}],{rest[1:]}'
    if len(text) * 4 >= MAX_BODY_BYTES and len(text.encode()) >= MAX_BODY_BYTES:
        raise LimitError(
            f"the request is {len(text.encode()):,} bytes; SendGrid takes under {_MAX_BODY_MB} MB"
        )
    return text
