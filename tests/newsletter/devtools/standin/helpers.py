"""The stand-in tests' request body and the ways they talk to a running stand-in."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import sendgrid
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import StandIn

KEY = "test-key"


def mail() -> dict[str, Any]:
    """A valid two-personalization body, as the sender builds it (plain dict)."""
    return {
        "personalizations": [
            {
                "to": [{"email": "Ada@Example.com", "name": "Ada Lovelace"}],
                "substitutions": {"-first-": "Ada", "-unsub-": "https://x.test/u/ada"},
                "custom_args": {"subscriber_id": "1"},
            },
            {
                "to": [{"email": "grace@example.com"}],
                "subject": "For you, -first-",
                "substitutions": {"-first-": "Grace", "-unsub-": "https://x.test/u/grace"},
                "custom_args": {"subscriber_id": "2", "issue": "override"},
                "headers": {"X-Test": "p1"},
            },
        ],
        "from": {"email": "verdicts@example.com", "name": "Weekly AI Tool Verdicts"},
        "subject": "Issue 42",
        "content": [
            {"type": "text/plain", "value": "Hi -first-, unsubscribe: -unsub-"},
            {"type": "text/html", "value": '<p>Hi -first-</p><a href="-unsub-">unsubscribe</a>'},
        ],
        "custom_args": {"issue": "42"},
        "categories": ["newsletter"],
        "headers": {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    }


def send(sg: sendgrid.SendGridAPIClient, body: dict[str, Any], **kwargs: Any) -> Any:
    return sg.client.mail.send.post(request_body=body, **kwargs)


def control(standin: StandIn, method: str, route: str, payload: object = None) -> Any:
    """Call a /_standin route with plain urllib, as another process would."""
    data = None if payload is None else json.dumps(payload).encode()
    url = f"{standin.url}/_standin/{route}"
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def raw_post(standin: StandIn, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = standin.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("POST", "/v3/mail/send", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def error_fields(exc: sg_errors.HTTPError) -> list[str | None]:
    errors = json.loads(exc.body)["errors"]
    for error in errors:
        assert set(error) == {"message", "field", "help"}
        assert isinstance(error["message"], str)
    return [error["field"] for error in errors]
