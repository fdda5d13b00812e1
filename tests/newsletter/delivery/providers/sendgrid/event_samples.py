"""Events as SendGrid's Event Webhook reference documents them: one of each type, with the
fields SendGrid sends for it, and the custom_args a newsletter request carries."""

from __future__ import annotations

import json
from typing import Any

STAMP = 1513299569  # 2017-12-15 00:59:29 UTC
MESSAGE_ID = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
ARGS = {"issue": "7", "subscriber": "42", "batch": "3"}

COMMON: dict[str, Any] = {
    "email": "ada@example.com",
    "timestamp": STAMP,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "category": ["newsletter"],
    "sg_message_id": MESSAGE_ID,
    **ARGS,
}

SAMPLES: dict[str, dict[str, Any]] = {
    "processed": {"event": "processed", "pool": {"name": "new_MY_test", "id": 210}},
    "dropped": {"event": "dropped", "reason": "Bounced Address", "status": "5.0.0"},
    "delivered": {"event": "delivered", "ip": "168.1.1.1", "response": "250 OK", "tls": 1},
    "deferred": {
        "event": "deferred",
        "ip": "168.1.1.1",
        "response": "400 try again later",
        "attempt": "5",
        "tls": 0,
    },
    "bounce": {
        "event": "bounce",
        "ip": "168.1.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        "status": "5.1.1",
        "type": "bounce",
        "bounce_classification": "Invalid Address",
        "tls": 1,
    },
    "blocked": {
        "event": "bounce",
        "ip": "168.1.1.1",
        "reason": "550 5.7.1 Message rejected due to local policy",
        "status": "5.7.1",
        "type": "blocked",
        "bounce_classification": "Reputation",
        "tls": 1,
    },
    "open": {"event": "open", "sg_machine_open": False, "useragent": UA, "ip": "255.255.255.255"},
    "machine_open": {
        "event": "open",
        "sg_machine_open": True,
        "useragent": "Mozilla/5.0",
        "ip": "17.0.0.1",
    },
    "click": {
        "event": "click",
        "useragent": UA,
        "ip": "255.255.255.255",
        "url": "https://tools.example.com/compare?a=1&b=2",
        "url_offset": {"index": 0, "type": "html"},
    },
    "spamreport": {"event": "spamreport"},
    "unsubscribe": {"event": "unsubscribe"},
    "group_unsubscribe": {
        "event": "group_unsubscribe",
        "useragent": UA,
        "ip": "255.255.255.255",
        "url": "https://www.sendgrid.com/",
        "asm_group_id": 10,
    },
    "group_resubscribe": {
        "event": "group_resubscribe",
        "useragent": UA,
        "ip": "255.255.255.255",
        "url": "https://www.sendgrid.com/",
        "asm_group_id": 10,
    },
}


def event(name: str, number: int = 0, **changes: Any) -> dict[str, Any]:
    """The sample `name` with its own `sg_event_id` (`number` tells copies apart)."""
    return {**COMMON, **SAMPLES[name], "sg_event_id": f"ev-{name}-{number}", **changes}


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()
