"""What the stand-in refuses, field by field, as SendGrid does (through the real client),
and what it takes at the limit.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import StandIn, validate_mail_send
from tests.newsletter.devtools.standin.helpers import (
    error_fields,
    mail,
    send,
)


def _many(n: int) -> list[dict[str, Any]]:
    return [{"to": [{"email": f"u{i}@example.com"}]} for i in range(n)]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting ``value`` at a dotted path (ints index lists)."""

    def apply(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(key)


def _both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(body)

    return apply


def _reverse_content(body: dict[str, Any]) -> None:
    body["content"].reverse()


BAD_BODIES = [
    pytest.param(
        _set("personalizations", _many(1001)), "personalizations", id="1001-personalizations"
    ),
    pytest.param(
        _set(
            "personalizations",
            [
                {"to": [{"email": f"a{i}@example.com"} for i in range(501)]},
                {"to": [{"email": f"b{i}@example.com"} for i in range(500)]},
            ],
        ),
        "personalizations",
        id="1001-recipients",
    ),
    pytest.param(_delete("personalizations"), "personalizations", id="no-personalizations"),
    pytest.param(_set("personalizations.0.to", []), "personalizations.0.to", id="empty-to"),
    pytest.param(
        _set("personalizations.1.to.0.email", "grace@"),
        "personalizations.1.to.0.email",
        id="bad-email",
    ),
    pytest.param(
        _set("personalizations.0.headers", {"reply-to": "x@example.com"}),
        "personalizations.0.headers.reply-to",
        id="reserved-header-personalization",
    ),
    pytest.param(
        _set("headers", {"DKIM-Signature": "x"}), "headers.DKIM-Signature", id="reserved-header"
    ),
    pytest.param(_reverse_content, "content.1.type", id="html-before-text"),
    pytest.param(_delete("content"), "content", id="no-content"),
    pytest.param(_set("content.0.value", ""), "content.0.value", id="empty-content-value"),
    pytest.param(
        _set("categories", [f"c{i}" for i in range(11)]), "categories", id="11-categories"
    ),
    pytest.param(_set("categories", ["a", "a"]), "categories.1", id="duplicate-category"),
    pytest.param(_set("categories", ["café"]), "categories.0", id="non-ascii-category"),
    pytest.param(_set("categories", ["x" * 256]), "categories.0", id="long-category"),
    pytest.param(
        _set("personalizations.0.cc", [{"email": "ADA@example.COM"}]),
        "personalizations.0.cc.0.email",
        id="duplicate-address",
    ),
    pytest.param(
        _set("personalizations.0.substitutions", {"-big-": "x" * 10_000}),
        "personalizations.0.substitutions",
        id="substitutions-over-10000-bytes",
    ),
    pytest.param(
        _set("personalizations.0.substitutions", {"-n-": 7}),
        "personalizations.0.substitutions.-n-",
        id="substitution-not-string",
    ),
    pytest.param(
        _both(
            _set("custom_args", {"blob": "y" * 6000}),
            _set("personalizations.0.custom_args", {"more": "z" * 4000}),
        ),
        "personalizations.0.custom_args",
        id="merged-custom-args-over-10000-bytes",
    ),
    pytest.param(
        _set("custom_args", {"issue": 42}), "custom_args.issue", id="custom-arg-not-string"
    ),
    pytest.param(
        _set("personalizations.0.to.0.name", "Lovelace, Ada"),
        "personalizations.0.to.0.name",
        id="name-with-comma",
    ),
    pytest.param(
        _set("personalizations.0.to.0.name", "Ada; Lovelace"),
        "personalizations.0.to.0.name",
        id="name-with-semicolon",
    ),
    pytest.param(_delete("from"), "from.email", id="missing-from"),
    pytest.param(_delete("subject"), "subject", id="missing-subject"),
    pytest.param(_set("send_at", int(time.time()) + 73 * 3600), "send_at", id="send-at-too-far"),
    pytest.param(
        _set("personalizations.0.send_at", "tomorrow"),
        "personalizations.0.send_at",
        id="send-at-not-int",
    ),
    pytest.param(
        _set("mail_settings", {"sandbox_mode": {"enable": "true"}}),
        "mail_settings.sandbox_mode.enable",
        id="sandbox-enable-not-boolean",
    ),
]


@pytest.mark.parametrize(("mutate", "field"), BAD_BODIES)
def test_invalid_bodies_are_400_with_the_field(
    standin: StandIn, sg: Any, mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    body = copy.deepcopy(mail())
    mutate(body)

    with pytest.raises(sg_errors.BadRequestsError) as caught:
        send(sg, body)

    assert caught.value.status_code == 400
    assert field in error_fields(caught.value)
    assert standin.requests == []
    assert standin.stats().rejected_requests == 1


def test_every_error_is_reported_at_once() -> None:
    body = mail()
    del body["from"], body["subject"]
    body["categories"] = ["a", "a"]

    errors, sandbox = validate_mail_send(body)

    assert {e.field for e in errors} == {"from.email", "subject", "categories.1"}
    assert sandbox is False


def test_exactly_1000_personalizations_is_fine(standin: StandIn, sg: Any) -> None:
    body = mail()
    body["personalizations"] = _many(1000)
    assert send(sg, body).status_code == 202
    assert len(standin.recipients()) == 1000
