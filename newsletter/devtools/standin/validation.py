"""Whether a mail/send body is one SendGrid would accept, every problem reported at once.

The rules follow the SendGrid v3 documentation as collected in ``LIBRARY-FACTS.md``. Every
number comes from the provider's own ``limits`` module, so the stand-in and the backend
can never disagree about a limit; the checks themselves are written independently of the
backend's, so that the stand-in stays a second opinion on what the backend sends.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any, Final

from newsletter.delivery.providers.sendgrid.limits import (
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MAX_MAP_BYTES,
    MAX_PERSONALIZATIONS,
    MAX_RECIPIENTS,
    MAX_SEND_AT_AHEAD_S,
    RESERVED_HEADERS,
)
from newsletter.devtools.standin.api_errors import ApiError, help_for

# Plausible, not RFC 5322: a dot-atom-ish local part and a dotted domain whose
# last label is letters (or punycode).  Precompiled: it runs once per address.
_EMAIL_RE: Final = re.compile(
    r"(?!\.)(?!.*\.\.)[^\s@<>()\[\],;:\\\"]{1,64}(?<!\.)"
    r"@(?=.{1,253}\Z)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})\Z",
    re.IGNORECASE,
)


def _map_too_big(value: Mapping[str, str]) -> bool:
    """Whether compact UTF-8 JSON of ``value`` exceeds ``MAX_MAP_BYTES``.

    A JSON character costs 1..6 bytes (``\\u00XX``), so most maps are decided
    from their length alone; only borderline ones are serialised (the
    benchmark checks 1000 of these per request).
    """
    chars = sum(len(k) + len(v) + 6 for k, v in value.items()) + 1
    if chars > MAX_MAP_BYTES:
        return True
    if chars * 6 <= MAX_MAP_BYTES:
        return False
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return len(encoded) > MAX_MAP_BYTES


class _Errors:
    """Collects every problem, as SendGrid reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[ApiError] = []

    def add(self, field_name: str | None, message: str) -> None:
        self.items.append(ApiError(message, field_name, help_for(field_name)))


def _plausible_email(value: object) -> bool:
    return isinstance(value, str) and _EMAIL_RE.match(value) is not None


def _check_address(value: Any, field_name: str, errs: _Errors, *, what: str) -> None:
    if not isinstance(value, dict) or not _plausible_email(value.get("email")):
        errs.add(
            f"{field_name}.email",
            f"The {what} object must be provided with a valid email parameter, "
            'e.g. {"email": "example@example.com", "name": "Example"}.',
        )
        return
    _check_name(value.get("name"), f"{field_name}.name", errs)


def _check_name(name: Any, field_name: str, errs: _Errors) -> None:
    if name is None:
        return
    if not isinstance(name, str):
        errs.add(field_name, "The name must be a string.")
    elif ";" in name or "," in name:
        errs.add(field_name, "The name may not contain ';' or ','.")


def _check_recipients(
    value: Any, field_name: str, seen: dict[str, str], errs: _Errors
) -> list[str]:
    """Check one to/cc/bcc list; return its lower-cased valid addresses."""
    if not isinstance(value, list):
        errs.add(field_name, "Must be an array of email objects.")
        return []
    found: list[str] = []
    for j, item in enumerate(value):
        item_field = f"{field_name}.{j}"
        email = item.get("email") if isinstance(item, dict) else None
        if not _plausible_email(email):
            errs.add(f"{item_field}.email", "Does not contain a valid address.")
            continue
        assert isinstance(email, str)
        assert isinstance(item, dict)
        lowered = email.lower()
        first = seen.get(lowered)
        if first is not None:
            errs.add(
                f"{item_field}.email",
                "Each email address in the personalization block should be unique between "
                f"to, cc, and bcc. We found the first duplicate instance of [{email}] "
                f"in the {first} field.",
            )
        else:
            seen[lowered] = field_name
        found.append(lowered)
        _check_name(item.get("name"), f"{item_field}.name", errs)
    return found


def _check_string_map(value: Any, field_name: str, errs: _Errors) -> dict[str, str]:
    """A JSON object of string values; absent/null is an empty map."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errs.add(field_name, "Must be an object of string keys and string values.")
        return {}
    good: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            good[key] = item
        else:
            errs.add(f"{field_name}.{key}", "Values must be strings.")
    return good


def _check_headers(value: Any, field_name: str, errs: _Errors) -> dict[str, str]:
    headers = _check_string_map(value, field_name, errs)
    for name in headers:
        if name.lower() in RESERVED_HEADERS:
            errs.add(f"{field_name}.{name}", f"The header {name} is reserved and cannot be used.")
    return headers


def _check_send_at(value: Any, field_name: str, now: float, errs: _Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add(field_name, "send_at must be an integer unix timestamp.")
        return None
    if value > now + MAX_SEND_AT_AHEAD_S:
        errs.add(
            field_name,
            f"send_at cannot be scheduled more than {MAX_SEND_AT_AHEAD_S // 3600} hours "
            "in advance.",
        )
    return value


def _check_categories(value: Any, errs: _Errors) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        errs.add("categories", "categories must be an array of strings.")
        return
    if len(value) > MAX_CATEGORIES:
        errs.add("categories", f"You cannot have more than {MAX_CATEGORIES} categories per send.")
    seen: set[str] = set()
    for i, category in enumerate(value):
        item_field = f"categories.{i}"
        if not isinstance(category, str):
            errs.add(item_field, "Each category must be a string.")
            continue
        if not category.isascii():
            errs.add(item_field, "Categories must be ASCII.")
        if len(category) > MAX_CATEGORY_CHARS:
            errs.add(item_field, f"A category may not exceed {MAX_CATEGORY_CHARS} characters.")
        if category in seen:
            errs.add(item_field, "Categories must be unique.")
        seen.add(category)


def _check_content(value: Any, has_template: bool, errs: _Errors) -> None:
    if value is None or value == []:
        if not has_template:
            errs.add(
                "content",
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
            )
        return
    if not isinstance(value, list):
        errs.add("content", "content must be an array of {type, value} objects.")
        return
    plain_at: int | None = None
    html_at: int | None = None
    for i, item in enumerate(value):
        item_field = f"content.{i}"
        if not isinstance(item, dict):
            errs.add(item_field, "Each content block must be an object with type and value.")
            continue
        ctype, cvalue = item.get("type"), item.get("value")
        if not isinstance(cvalue, str) or not cvalue:
            errs.add(
                f"{item_field}.value",
                "The content value must be a string at least one character in length.",
            )
        if not isinstance(ctype, str) or not ctype.strip():
            errs.add(
                f"{item_field}.type",
                "The content type must be a string at least one character in length.",
            )
            continue
        kind = ctype.strip().lower()
        if kind not in ("text/plain", "text/html"):
            continue
        if (plain_at if kind == "text/plain" else html_at) is not None:
            errs.add(f"{item_field}.type", f"{kind} may only be provided once.")
            continue
        expected = 0 if kind == "text/plain" or plain_at is None else plain_at + 1
        if i != expected:
            errs.add(
                f"{item_field}.type",
                "The text/plain content type must be first, followed by text/html, "
                "followed by any other content.",
            )
        if kind == "text/plain":
            plain_at = i
        else:
            html_at = i


def _check_personalizations(
    value: Any, top_custom: Mapping[str, str], now: float, errs: _Errors
) -> bool:
    """Check the personalizations; return whether every one carries a subject."""
    if not isinstance(value, list) or not value:
        errs.add(
            "personalizations",
            "The personalizations field is required and must have at least one personalization.",
        )
        return False
    if len(value) > MAX_PERSONALIZATIONS:
        errs.add(
            "personalizations",
            f"The personalizations field may not have more than {MAX_PERSONALIZATIONS} items.",
        )
    recipients = 0
    every_subject = True
    for i, p in enumerate(value):
        p_field = f"personalizations.{i}"
        if not isinstance(p, dict):
            errs.add(p_field, "Each personalization must be an object.")
            every_subject = False
            continue
        seen: dict[str, str] = {}
        to = p.get("to")
        if not isinstance(to, list) or not to:
            errs.add(
                f"{p_field}.to",
                "The to array is required for all personalization objects, and must have "
                "at least one email object with a valid email address.",
            )
        else:
            recipients += len(_check_recipients(to, f"{p_field}.to", seen, errs))
        for key in ("cc", "bcc"):
            if p.get(key) is not None:
                recipients += len(_check_recipients(p[key], f"{p_field}.{key}", seen, errs))
        subject = p.get("subject")
        if subject is not None and not isinstance(subject, str):
            errs.add(f"{p_field}.subject", "The subject must be a string.")
        if not (isinstance(subject, str) and subject):
            every_subject = False
        _check_headers(p.get("headers"), f"{p_field}.headers", errs)
        substitutions = _check_string_map(p.get("substitutions"), f"{p_field}.substitutions", errs)
        if substitutions and _map_too_big(substitutions):
            errs.add(
                f"{p_field}.substitutions",
                f"The substitutions of a personalization may not exceed {MAX_MAP_BYTES} bytes.",
            )
        custom = _check_string_map(p.get("custom_args"), f"{p_field}.custom_args", errs)
        merged = {**top_custom, **custom} if custom else top_custom
        if merged and _map_too_big(merged):
            errs.add(
                f"{p_field}.custom_args",
                f"custom_args merged with the top-level custom_args may not exceed "
                f"{MAX_MAP_BYTES} bytes.",
            )
        _check_send_at(p.get("send_at"), f"{p_field}.send_at", now, errs)
    if recipients > MAX_RECIPIENTS:
        errs.add(
            "personalizations",
            f"The total number of recipients (to, cc and bcc) may not exceed {MAX_RECIPIENTS}.",
        )
    return every_subject


def _sandboxed(value: Any, errs: _Errors) -> bool:
    if value is None:
        return False
    if not isinstance(value, dict):
        errs.add("mail_settings", "mail_settings must be an object.")
        return False
    sandbox = value.get("sandbox_mode")
    if sandbox is None:
        return False
    if not isinstance(sandbox, dict):
        errs.add("mail_settings.sandbox_mode", "sandbox_mode must be an object.")
        return False
    enable = sandbox.get("enable")
    if enable is not None and not isinstance(enable, bool):
        errs.add("mail_settings.sandbox_mode.enable", "enable must be a boolean.")
        return False
    return enable is True


def validate_mail_send(body: Any, now: float | None = None) -> tuple[list[ApiError], bool]:
    """Validate a decoded mail/send body; return (errors, sandbox_mode_enabled).

    Exposed so other code (and tests) can check a body without a server.
    """
    when = time.time() if now is None else now
    errs = _Errors()
    if not isinstance(body, dict):
        errs.add(None, "The request body must be a JSON object.")
        return errs.items, False
    _check_address(body.get("from"), "from", errs, what="from")
    if body.get("reply_to") is not None:
        _check_address(body["reply_to"], "reply_to", errs, what="reply_to")
    template_id = body.get("template_id")
    if template_id is not None and not isinstance(template_id, str):
        errs.add("template_id", "template_id must be a string.")
    has_template = isinstance(template_id, str) and bool(template_id)
    _check_content(body.get("content"), has_template, errs)
    _check_headers(body.get("headers"), "headers", errs)
    top_custom = _check_string_map(body.get("custom_args"), "custom_args", errs)
    _check_categories(body.get("categories"), errs)
    _check_send_at(body.get("send_at"), "send_at", when, errs)
    every_subject = _check_personalizations(body.get("personalizations"), top_custom, when, errs)
    subject = body.get("subject")
    if subject is not None and not isinstance(subject, str):
        errs.add("subject", "The subject must be a string.")
    elif not subject and not every_subject and not has_template:
        errs.add(
            "subject",
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject defined.",
        )
    sandbox = _sandboxed(body.get("mail_settings"), errs)
    return errs.items, sandbox
