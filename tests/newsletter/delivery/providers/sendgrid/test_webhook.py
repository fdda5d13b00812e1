"""SendGrid's event webhook: the signature (signed by a key pair of the test's own, as
SendGrid signs), the key setting, and every event type read into a `DeliveryEvent`."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from newsletter.core.settings import Settings, SettingsError
from newsletter.delivery.events import BounceKind, EventType, WebhookMalformed, WebhookRefused
from newsletter.delivery.message import ISSUE_ARG
from newsletter.delivery.providers.sendgrid import (
    EVENT_TYPES,
    SendGridWebhook,
    event_map,
    parse_events,
)
from newsletter.devtools.standin.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSigner
from newsletter.tracking.models import StoredEvent
from subscribers.addresses import EMAIL_MAX
from tests.newsletter.delivery.providers.sendgrid.event_samples import (
    MESSAGE_ID,
    STAMP,
    UA,
    body,
    event,
)

NOW = 1_800_000_000
MAX_AGE = 600
BODY = body(event("delivered"), event("open"))


@pytest.fixture(scope="module")
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture(scope="module")
def webhook(signer: WebhookSigner) -> SendGridWebhook:
    return SendGridWebhook(signer.public_key, max_age=MAX_AGE)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# The signature.


def test_a_request_signed_with_the_key_passes(
    signer: WebhookSigner, webhook: SendGridWebhook
) -> None:
    webhook.verify(BODY, signer.headers(BODY, timestamp=NOW), now=NOW)


def test_header_names_are_found_whatever_their_case(
    signer: WebhookSigner, webhook: SendGridWebhook
) -> None:
    headers = signer.headers(BODY, timestamp=NOW)
    for spelled in (str.lower, str.upper):
        webhook.verify(BODY, {spelled(k): v for k, v in headers.items()}, now=NOW)


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def _refusals(signer: WebhookSigner) -> dict[str, tuple[bytes, dict[str, str], str]]:
    """(body, headers, the cause the refusal names) of every way a request is refused."""
    good = signer.headers(BODY, timestamp=NOW)
    changed = bytearray(BODY)
    changed[len(changed) // 2] ^= 0x01
    other = signer.headers(BODY, timestamp=NOW - 1)
    return {
        "forged": (BODY, WebhookSigner().headers(BODY, timestamp=NOW), "does not match"),
        "no signature": (BODY, _without(good, SIGNATURE_HEADER), "missing"),
        "no timestamp": (BODY, _without(good, TIMESTAMP_HEADER), "missing"),
        "empty signature": (BODY, good | {SIGNATURE_HEADER: ""}, "missing"),
        "stale": (BODY, signer.headers(BODY, timestamp=NOW - MAX_AGE - 1), "601 s old"),
        "future": (BODY, signer.headers(BODY, timestamp=NOW + 61), "61 s ahead"),
        "one byte changed": (bytes(changed), good, "does not match"),
        "first byte dropped": (BODY[1:], good, "does not match"),
        "byte appended": (BODY + b" ", good, "does not match"),
        "signed at another time": (
            BODY,
            {SIGNATURE_HEADER: other[SIGNATURE_HEADER], TIMESTAMP_HEADER: str(NOW)},
            "does not match",
        ),
        "not base64": (BODY, good | {SIGNATURE_HEADER: "not base64!"}, "not base64"),
        "too long": (BODY, good | {SIGNATURE_HEADER: "A" * 400}, "not base64"),
        "not DER": (BODY, good | {SIGNATURE_HEADER: "AAAA"}, "does not match"),
    }


REFUSALS = [
    "forged",
    "no signature",
    "no timestamp",
    "empty signature",
    "stale",
    "future",
    "one byte changed",
    "first byte dropped",
    "byte appended",
    "signed at another time",
    "not base64",
    "too long",
    "not DER",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_every_doubtful_request_is_refused_naming_the_cause(
    signer: WebhookSigner, webhook: SendGridWebhook, case: str
) -> None:
    data, headers, cause = _refusals(signer)[case]
    with pytest.raises(WebhookRefused, match=cause):
        webhook.verify(data, headers, now=NOW)


@pytest.mark.parametrize("stamp", ["abc", "1.8e9", "-5", f" {NOW}", f"{NOW}.0", "１２３", "0x6b"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused_even_when_signed(
    signer: WebhookSigner, webhook: SendGridWebhook, stamp: str
) -> None:
    """Signed over exactly that text, so it is the timestamp's form that is refused."""
    headers = {SIGNATURE_HEADER: signer.signature(BODY, stamp), TIMESTAMP_HEADER: stamp}
    with pytest.raises(WebhookRefused, match="not unix seconds"):
        webhook.verify(BODY, headers, now=NOW)


@pytest.mark.parametrize("offset", [-MAX_AGE, 60, 0])
def test_the_age_limits_are_inclusive(
    signer: WebhookSigner, webhook: SendGridWebhook, offset: int
) -> None:
    """Exactly `max_age` old and exactly a minute ahead pass, also part-way through our
    second (the header has whole seconds)."""
    headers = signer.headers(BODY, timestamp=NOW + offset)
    webhook.verify(BODY, headers, now=NOW)
    webhook.verify(BODY, headers, now=NOW + 0.999)


# The key, from settings.


def test_no_key_means_no_webhook() -> None:
    assert SendGridWebhook.from_settings(settings()) is None
    assert SendGridWebhook.from_settings(settings(SENDGRID_WEBHOOK_PUBLIC_KEY="  \n")) is None


def test_the_key_and_the_age_come_from_the_settings(signer: WebhookSigner) -> None:
    wrapped = "\n".join(signer.public_key[i : i + 64] for i in range(0, 200, 64))
    configured = SendGridWebhook.from_settings(
        settings(SENDGRID_WEBHOOK_PUBLIC_KEY=wrapped + "\n", webhook_max_age=30)
    )
    assert configured is not None
    configured.verify(BODY, signer.headers(BODY, timestamp=NOW - 30), now=NOW)
    with pytest.raises(WebhookRefused, match="31 s old"):
        configured.verify(BODY, signer.headers(BODY, timestamp=NOW - 31), now=NOW)


def _der(key: Any) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("not a key", "not a public key"),
        ("bm90IGEga2V5", "not a public key"),  # base64 of "not a key"
        ("-----BEGIN PUBLIC KEY-----", "not a public key"),
        (_der(rsa.generate_private_key(65537, 2048)), "not an EC P-256 key"),
        (_der(ec.generate_private_key(ec.SECP384R1())), "not an EC P-256 key"),
    ],
)
def test_a_key_that_is_not_one_is_one_line_naming_the_variable(key: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=rf"^SENDGRID_WEBHOOK_PUBLIC_KEY: {reason}") as caught:
        SendGridWebhook.from_settings(settings(SENDGRID_WEBHOOK_PUBLIC_KEY=key))
    assert "\n" not in str(caught.value)


# The events.

AT = datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
assert AT.timestamp() == STAMP

EXPECTED: dict[str, dict[str, Any]] = {
    "processed": {"type": EventType.PROCESSED},
    "dropped": {"type": EventType.DROPPED, "reason": "Bounced Address", "smtp_status": "5.0.0"},
    "delivered": {"type": EventType.DELIVERED},  # its "250 OK" is not kept
    "deferred": {"type": EventType.DEFERRED, "reason": "400 try again later"},
    "bounce": {
        "type": EventType.BOUNCED,
        "bounce_kind": BounceKind.HARD,
        "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        "smtp_status": "5.1.1",
        "classification": "Invalid Address",
    },
    "blocked": {
        "type": EventType.BOUNCED,
        "bounce_kind": BounceKind.SOFT,
        "reason": "550 5.7.1 Message rejected due to local policy",
        "smtp_status": "5.7.1",
        "classification": "Reputation",
    },
    "open": {"type": EventType.OPENED, "user_agent": UA},
    "machine_open": {"type": EventType.OPENED, "machine_open": True, "user_agent": "Mozilla/5.0"},
    "click": {
        "type": EventType.CLICKED,
        "url": "https://tools.example.com/compare?a=1&b=2",
        "user_agent": UA,
    },
    "spamreport": {"type": EventType.COMPLAINED},
    "unsubscribe": {"type": EventType.UNSUBSCRIBED},
    "group_unsubscribe": {
        "type": EventType.GROUP_UNSUBSCRIBED,
        "url": "https://www.sendgrid.com/",
        "user_agent": UA,
    },
    "group_resubscribe": {
        "type": EventType.GROUP_RESUBSCRIBED,
        "url": "https://www.sendgrid.com/",
        "user_agent": UA,
    },
}
EMPTY: dict[str, Any] = {
    "bounce_kind": None,
    "reason": "",
    "classification": "",
    "smtp_status": "",
    "url": "",
    "machine_open": False,
    "user_agent": "",
    "test": False,
}


def test_every_sendgrid_type_has_a_sample_and_a_type_of_its_own() -> None:
    covered = {event(name)["event"] for name in EXPECTED}
    assert covered == set(EVENT_TYPES)
    assert len(set(EVENT_TYPES.values())) == len(EVENT_TYPES)
    assert EventType.UNKNOWN not in EVENT_TYPES.values()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_event_type_is_read_with_its_details(name: str) -> None:
    (parsed,) = parse_events(body(event(name)), "sendgrid")
    common = {
        "provider": "sendgrid",
        "event_id": f"ev-{name}-0",
        "occurred_at": AT,
        "email": "ada@example.com",
        "issue_number": 7,
        "subscriber_id": 42,
        "batch_seq": 3,
        "provider_type": event(name)["event"],
        "message_id": MESSAGE_ID,
    }
    wanted = common | EMPTY | EXPECTED[name]
    assert {field: getattr(parsed, field) for field in wanted} == wanted
    assert parsed.occurred_at.utcoffset() is not None


def test_events_keep_their_order_and_the_webhook_reads_as_its_provider() -> None:
    names = ["open", "processed", "click", "delivered"]
    parsed = SendGridWebhook(WebhookSigner().public_key, max_age=60).parse(
        body(*(event(n) for n in names))
    )
    assert [e.event_id for e in parsed] == [f"ev-{n}-0" for n in names]
    assert {e.provider for e in parsed} == {"sendgrid"}


def test_custom_args_may_come_as_numbers_and_the_test_flag_is_read() -> None:
    (as_ints,) = parse_events(body(event("delivered", issue=7, subscriber=42, batch=3)), "sg")
    assert (as_ints.issue_number, as_ints.subscriber_id, as_ints.batch_seq) == (7, 42, 3)
    flags = [event("delivered", i, test=value) for i, value in enumerate(["1", 1, True, "true"])]
    assert all(e.test for e in parse_events(body(*flags), "sg"))
    not_flags = [event("delivered", i, test=v) for i, v in enumerate(["0", 0, False, "", None])]
    assert not any(e.test for e in parse_events(body(*not_flags), "sg"))


@pytest.mark.parametrize(
    "value",
    [
        *("", "0", "-1", "+1", "01", " 1", "1 ", "1.0", "1e3", "2147483648", "١٢", "seven", "7\n"),
        *(0, -5, 2**31, 2**63, True, 1.0, None, [], {}, [7]),
    ],
)
def test_a_custom_arg_that_is_not_a_clean_id_is_none(value: object) -> None:
    (parsed,) = parse_events(
        body(event("delivered", issue=value, subscriber=value, batch=value)), "sendgrid"
    )
    assert (parsed.issue_number, parsed.subscriber_id, parsed.batch_seq) == (None, None, None)


def test_missing_custom_args_and_fields_leave_an_unmatched_event() -> None:
    (parsed,) = parse_events(b'[{"event": "delivered", "timestamp": 1513299569}]', "sendgrid")
    assert (parsed.issue_number, parsed.subscriber_id, parsed.batch_seq) == (None, None, None)
    assert (parsed.email, parsed.message_id, parsed.type) == ("", "", EventType.DELIVERED)


def test_ids_at_their_bounds_are_kept() -> None:
    (low,) = parse_events(body(event("open", issue="1", subscriber="2147483647")), "sendgrid")
    assert (low.issue_number, low.subscriber_id) == (1, 2**31 - 1)


@pytest.mark.parametrize("name", ["amp_open", "Delivered", "", "processed "])
def test_an_unknown_type_is_kept_under_its_own_name(name: str) -> None:
    (parsed,) = parse_events(body(event("delivered", event=name)), "sendgrid")
    assert parsed.type is EventType.UNKNOWN
    assert parsed.provider_type == name.strip()
    assert parsed.issue_number == 7


def test_an_event_without_a_type_is_unknown() -> None:
    item = event("delivered")
    del item["event"]
    (parsed,) = parse_events(body(item), "sendgrid")
    assert (parsed.type, parsed.provider_type) == (EventType.UNKNOWN, "")


def test_text_is_cleaned_and_cut_to_its_column() -> None:
    long = "x" * 3000
    (parsed,) = parse_events(
        body(
            event(
                "bounce",
                reason="\x1b[31mbad\x00 mailbox\r\n" + long,
                url=long,
                useragent="\u202eUA" + long,
                bounce_classification=long,
                status="5.1.1" + long,
                email="ada@example.com\x00" + long,
                event="bounce",
            )
        ),
        "sendgrid",
    )
    assert parsed.reason.startswith("bad mailbox xxx")
    lengths = [
        len(parsed.reason),
        len(parsed.url),
        len(parsed.user_agent),
        len(parsed.classification),
        len(parsed.smtp_status),
        len(parsed.email),
    ]
    assert lengths == [500, 2000, 500, 100, 20, 320]
    assert parsed.user_agent.startswith("UAxx")


_CUT = {"event_id", "provider_type", "reason", "classification", "smtp_status", "url", "user_agent"}


def test_the_cuts_are_the_sizes_of_the_columns_the_texts_are_kept_in() -> None:
    """The delivery layer may not import the tracking tables: this holds the two together."""
    columns = StoredEvent.__table__.c  # type: ignore[attr-defined]
    kept = {name: columns[name].type.length for name in _CUT}
    assert kept == {
        "event_id": event_map.EVENT_ID_MAX,
        "provider_type": event_map.PROVIDER_TYPE_MAX,
        "reason": event_map.REASON_MAX,
        "classification": event_map.CLASSIFICATION_MAX,
        "smtp_status": event_map.STATUS_MAX,
        "url": event_map.URL_MAX,
        "user_agent": event_map.USER_AGENT_MAX,
    }
    assert event_map.EMAIL_MAX == EMAIL_MAX


def test_non_text_fields_are_left_empty() -> None:
    (parsed,) = parse_events(
        body(event("click", url=5, useragent=["x"], email=None, sg_message_id={})), "sendgrid"
    )
    assert (parsed.url, parsed.user_agent, parsed.email, parsed.message_id) == ("", "", "", "")


def test_a_machine_open_flag_only_counts_on_an_open() -> None:
    (click,) = parse_events(body(event("click", sg_machine_open=True)), "sendgrid")
    assert click.machine_open is False


def test_a_bounce_without_a_type_is_hard() -> None:
    item = event("bounce")
    del item["type"]
    (parsed,) = parse_events(body(item), "sendgrid")
    assert parsed.bounce_kind is BounceKind.HARD


# Event ids.


def test_an_event_without_an_id_gets_one_from_its_content_the_same_every_time() -> None:
    item = event("delivered")
    del item["sg_event_id"]
    (first,) = parse_events(body(item), "sendgrid")
    reordered = json.dumps([dict(reversed(list(item.items())))], indent=2).encode()
    (again,) = parse_events(reordered, "sendgrid")
    (other,) = parse_events(body(item | {"timestamp": STAMP + 1}), "sendgrid")
    assert first.event_id.startswith("sha256:")
    assert len(first.event_id) == len("sha256:") + 64
    assert first.event_id == again.event_id != other.event_id


@pytest.mark.parametrize("given", [123, "", "a b", "a\x00b", "é", "x" * 101, None, ["id"]])
def test_an_id_that_cannot_be_kept_is_replaced_by_the_content_id(given: object) -> None:
    (parsed,) = parse_events(body(event("delivered", sg_event_id=given)), "sendgrid")
    assert parsed.event_id.startswith("sha256:")


def test_an_id_of_the_column_size_is_kept() -> None:
    given = "A" * 99 + "="
    (parsed,) = parse_events(body(event("delivered", sg_event_id=given)), "sendgrid")
    assert parsed.event_id == given


# Malformed bodies.


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not JSON"),
        (b"not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b'[{"timestamp": NaN}]', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b"[1" + b"0" * 5000 + b"]", "not JSON"),
        (b"{}", "a JSON dict, not an array"),
        (b'"events"', "a JSON str, not an array"),
        (b"null", "a JSON NoneType, not an array"),
        (b"[1]", "event 0: a JSON int, not an object"),
        (b'[{"event": "open", "timestamp": 1}, "x"]', "event 1: a JSON str"),
        (b'[{"event": "open", "timestamp": 1}, [{}]]', "event 1: a JSON list"),
    ],
)
def test_a_body_that_is_not_an_array_of_events_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(WebhookMalformed) as caught:
        parse_events(data, "sendgrid")
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_empty_array_is_no_events() -> None:
    assert parse_events(b"[]", "sendgrid") == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "event",
    "type",
    "timestamp",
    "email",
    "sg_event_id",
    "sg_message_id",
    "reason",
    "response",
    "status",
    "bounce_classification",
    "url",
    "useragent",
    "sg_machine_open",
    "issue",
    "subscriber",
    "batch",
    "test",
]
event_like = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.lists(event_like, max_size=5), st.lists(json_values)))
def test_any_json_parses_or_is_malformed(data: object) -> None:
    try:
        events = parse_events(json.dumps(data).encode(), "sendgrid")
    except WebhookMalformed:
        return
    assert isinstance(data, list)
    assert len(events) == len(data)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(event_like, max_size=5), st.integers(0, 2**33))
def test_any_object_with_a_unix_timestamp_is_an_event(items: list[dict], stamp: int) -> None:
    """Whatever else an event carries, it is read, never refused: SendGrid is answered
    2xx and does not retry it for a day."""
    events = parse_events(json.dumps([i | {"timestamp": stamp} for i in items]).encode(), "sg")
    assert len(events) == len(items)
    for parsed in events:
        assert 0 < len(parsed.event_id) <= event_map.EVENT_ID_MAX
        for value in (parsed.issue_number, parsed.subscriber_id, parsed.batch_seq):
            assert value is None or 1 <= value <= 2**31 - 1
        assert len(parsed.reason) <= event_map.REASON_MAX


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_malformed(data: bytes) -> None:
    with contextlib.suppress(WebhookMalformed):
        parse_events(data, "sendgrid")


@pytest.mark.parametrize(
    "stamp",
    [None, "x", True, -1, 1e300, 99999999999999, [1], {"a": 1}, "9" * 5000, "", " 1"],
)
def test_an_event_without_a_readable_time_is_kept_at_the_time_it_came(stamp: object) -> None:
    """Review defect: one event with an odd timestamp made the whole POST a 400, which
    SendGrid retries for a day and then drops, with every good event in it. Now that event
    is dated when it was received, and the others keep theirs."""
    before = datetime.now(UTC)
    item: dict[str, object] = {"event": "open", "sg_event_id": "odd"}
    if stamp is not None:
        item["timestamp"] = stamp
    good = {"event": "delivered", "sg_event_id": "good", "timestamp": STAMP}
    odd, kept = parse_events(json.dumps([item, good]).encode(), "sendgrid")
    assert before <= odd.occurred_at <= datetime.now(UTC)
    assert kept.occurred_at == AT


def test_a_timestamp_written_as_digits_is_read() -> None:
    (event,) = parse_events(b'[{"event": "open", "timestamp": "1513299569"}]', "sendgrid")
    assert event.occurred_at == datetime.fromtimestamp(1513299569, UTC)


def test_values_shared_by_a_bodys_events_are_read_alike_for_each() -> None:
    """A body's events share their custom args and seconds (the parser reads each distinct
    value once): a repeated value reads the same every time, and values that are equal to
    Python but not as JSON (1 and true, "1" and "01") are still told apart."""
    items = [
        {"event": "open", "sg_event_id": f"e{i}", "timestamp": stamp, ISSUE_ARG: issue}
        for i, (stamp, issue) in enumerate(
            [(1, "1"), (True, "01"), (1, 1), (STAMP, True), (True, "1"), (STAMP, "01")]
        )
    ]
    events = parse_events(json.dumps(items).encode(), "sendgrid")
    assert [e.issue_number for e in events] == [1, None, 1, None, 1, None]
    one = datetime.fromtimestamp(1, UTC)
    assert [e.occurred_at == one for e in events] == [True, False, True, False, False, False]
    assert events[3].occurred_at == events[5].occurred_at == AT
