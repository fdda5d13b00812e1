"""The SendGrid stand-in, driven through the real ``sendgrid`` client.

The point is that what the sender sees here (statuses, exception classes,
headers, ambiguous outcomes) is what it will see from SendGrid.
"""

from __future__ import annotations

import copy
import http.client
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sendgrid
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import MAX_BODY_BYTES, StandIn, validate_mail_send

KEY = "test-key"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=(KEY, "second-key")) as running:
        yield running


@pytest.fixture
def sg(standin: StandIn) -> sendgrid.SendGridAPIClient:
    client = sendgrid.SendGridAPIClient(api_key=KEY, host=standin.url)
    client.client.timeout = 5
    return client


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


# ----------------------------------------------------------------- acceptance


def test_valid_request_is_accepted_and_recorded(standin: StandIn, sg: Any) -> None:
    response = send(sg, mail())

    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    assert set(message_id) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )

    [accepted] = standin.requests
    assert accepted.message_id == message_id
    assert accepted.from_email == "verdicts@example.com"
    assert accepted.categories == ("newsletter",)
    assert accepted.text == "Hi -first-, unsubscribe: -unsub-"  # stored once, unsubstituted
    ada, grace = accepted.personalizations
    assert ada.to == ("ada@example.com",)
    assert ada.custom_args == {"issue": "42", "subscriber_id": "1"}
    assert grace.custom_args == {"issue": "override", "subscriber_id": "2"}
    assert grace.headers == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Test": "p1"}

    assert standin.recipients() == ["ada@example.com", "grace@example.com"]
    assert standin.rendered_for("ADA@example.com") == [
        (
            "Hi Ada, unsubscribe: https://x.test/u/ada",
            '<p>Hi Ada</p><a href="https://x.test/u/ada">unsubscribe</a>',
        )
    ]
    assert standin.subjects_for("grace@example.com") == ["For you, Grace"]
    assert standin.subjects_for("ada@example.com") == ["Issue 42"]
    assert standin.rendered_for("nobody@example.com") == []


def test_duplicates_across_requests_are_visible(standin: StandIn, sg: Any) -> None:
    first = send(sg, mail()).headers["X-Message-Id"]
    second = send(sg, mail()).headers["X-Message-Id"]

    assert first != second
    assert standin.recipients().count("grace@example.com") == 2
    assert len(standin.rendered_for("grace@example.com")) == 2
    stats = standin.stats()
    assert (stats.accepted_requests, stats.accepted_personalizations) == (2, 4)


def test_template_id_replaces_content_and_subject(standin: StandIn, sg: Any) -> None:
    body = mail()
    del body["content"], body["subject"]
    body["template_id"] = "d-0123456789abcdef"

    assert send(sg, body).status_code == 202
    assert standin.rendered_for("grace@example.com") == [("", "")]


def test_second_api_key_is_accepted(standin: StandIn) -> None:
    client = sendgrid.SendGridAPIClient(api_key="second-key", host=standin.url)
    client.client.timeout = 5
    assert send(client, mail()).status_code == 202


def test_sandbox_mode_answers_200_and_records_nothing(standin: StandIn, sg: Any) -> None:
    body = mail()
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}

    response = send(sg, body)

    assert response.status_code == 200
    assert standin.requests == []
    stats = standin.stats()
    assert (stats.sandboxed_requests, stats.sandboxed_personalizations) == (1, 2)
    assert stats.accepted_requests == 0


def test_keep_alive_works_for_other_clients(standin: StandIn) -> None:
    host, port = standin.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    body = json.dumps(mail()).encode()
    ports = set()
    for _ in range(3):
        connection.request("POST", "/v3/mail/send", body, {"Authorization": f"Bearer {KEY}"})
        response = connection.getresponse()
        assert (response.status, response.read()) == (202, b"")
        ports.add(connection.sock.getsockname()[1])
    connection.close()
    assert len(ports) == 1
    assert standin.stats().accepted_requests == 3


# ------------------------------------------------------------------ refusals


def test_wrong_key_is_401(standin: StandIn) -> None:
    client = sendgrid.SendGridAPIClient(api_key="wrong", host=standin.url)
    client.client.timeout = 5

    with pytest.raises(sg_errors.UnauthorizedError) as caught:
        send(client, mail())

    assert caught.value.status_code == 401
    assert error_fields(caught.value) == [None]
    assert standin.requests == []


def test_missing_authorization_is_401(standin: StandIn) -> None:
    status, body = raw_post(standin, json.dumps(mail()).encode(), {})
    assert status == 401
    assert json.loads(body)["errors"][0]["field"] is None


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


def test_oversize_content_length_is_413_before_the_body_is_read(standin: StandIn) -> None:
    host, port = standin.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("POST", "/v3/mail/send")
    connection.putheader("Authorization", f"Bearer {KEY}")
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()  # and no body at all: the answer must not wait for it

    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read())["errors"][0]["message"]
    connection.close()


def test_oversize_body_from_the_real_client_is_413(sg: Any) -> None:
    body = mail()
    body["content"][0]["value"] = "x" * (MAX_BODY_BYTES + 1)

    with pytest.raises(sg_errors.PayloadTooLargeError) as caught:
        send(sg, body)

    assert caught.value.status_code == 413


def test_invalid_utf8_is_415_and_non_json_is_400(standin: StandIn) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    assert raw_post(standin, b'{"subject": "\xff"}', auth)[0] == 415
    assert raw_post(standin, b"{not json", auth)[0] == 400
    assert raw_post(standin, b"NaN", auth)[0] == 400


def test_unknown_path_is_404_and_other_method_405(standin: StandIn, sg: Any) -> None:
    with pytest.raises(sg_errors.NotFoundError):
        sg.client.mail.batch.post(request_body={})
    with pytest.raises(sg_errors.MethodNotAllowedError) as caught:
        sg.client.mail.send.get()
    assert caught.value.headers["Allow"] == "POST"
    assert error_fields(caught.value) == [None]


# ------------------------------------------------------------------- faults


def test_rate_limit_with_headers(standin: StandIn, sg: Any) -> None:
    standin.inject("rate_limit", reset_in=30, limit=100)

    with pytest.raises(sg_errors.TooManyRequestsError) as caught:
        send(sg, mail())

    headers = caught.value.headers
    assert caught.value.status_code == 429
    assert headers["X-RateLimit-Limit"] == "100"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert abs(int(headers["X-RateLimit-Reset"]) - (time.time() + 30)) <= 2
    assert error_fields(caught.value) == [None]
    assert standin.requests == []
    assert send(sg, mail()).status_code == 202  # the fault was used up


def test_rate_limit_without_headers(sg: Any, standin: StandIn) -> None:
    standin.inject("rate_limit", headers=False)

    with pytest.raises(sg_errors.TooManyRequestsError) as caught:
        send(sg, mail())

    assert caught.value.headers["X-RateLimit-Reset"] is None


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (500, sg_errors.InternalServerError),
        (502, sg_errors.HTTPError),  # no subclass for 502 in python_http_client
        (503, sg_errors.ServiceUnavailableError),
        (504, sg_errors.GatewayTimeoutError),
        (400, sg_errors.BadRequestsError),
        (401, sg_errors.UnauthorizedError),
        (403, sg_errors.ForbiddenError),
        (413, sg_errors.PayloadTooLargeError),
    ],
)
def test_error_fault(standin: StandIn, sg: Any, status: int, exception: type[Exception]) -> None:
    standin.inject("error", status=status)

    with pytest.raises(exception) as caught:
        send(sg, mail())

    assert type(caught.value) is exception
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert standin.requests == []


def test_faults_apply_in_order_then_stop(standin: StandIn, sg: Any) -> None:
    standin.inject("rate_limit", count=2)
    standin.inject("error", status=503)
    seen = []
    for _ in range(4):
        try:
            seen.append(send(sg, mail()).status_code)
        except sg_errors.HTTPError as exc:
            seen.append(exc.status_code)
    assert seen == [429, 429, 503, 202]
    assert standin.stats().faults_applied == 3


def test_default_fault_until_cleared(standin: StandIn, sg: Any) -> None:
    standin.set_default_fault("error", status=500)
    for _ in range(2):
        with pytest.raises(sg_errors.InternalServerError):
            send(sg, mail())
    standin.clear_faults()
    assert send(sg, mail()).status_code == 202


def test_slow_answer_within_the_timeout_is_accepted(standin: StandIn, sg: Any) -> None:
    standin.inject("slow", seconds=0.1)
    assert send(sg, mail()).status_code == 202
    assert len(standin.requests) == 1


def test_slow_answer_past_the_timeout_raises_timeout_yet_is_accepted(
    standin: StandIn, sg: Any
) -> None:
    standin.inject("slow", seconds=0.5)

    with pytest.raises(TimeoutError):  # raw socket timeout, not wrapped in URLError
        send(sg, mail(), timeout=0.15)

    deadline = time.monotonic() + 3
    while not standin.stats().accepted_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin.recipients() == ["ada@example.com", "grace@example.com"]


def test_drop_after_accepting(standin: StandIn, sg: Any) -> None:
    standin.inject("drop")

    with pytest.raises(http.client.RemoteDisconnected) as caught:
        send(sg, mail())

    assert isinstance(caught.value, ConnectionResetError)
    assert standin.recipients() == ["ada@example.com", "grace@example.com"]


def test_drop_before_accepting(standin: StandIn, sg: Any) -> None:
    standin.inject("drop_before")

    with pytest.raises(http.client.RemoteDisconnected):
        send(sg, mail())

    assert standin.requests == []
    assert send(sg, mail()).status_code == 202


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("explode", {}),
        ("error", {"status": 418}),
        ("slow", {"seconds": -1}),
        ("drop", {"seconds": 1}),
        ("rate_limit", {"headers": "no"}),
    ],
)
def test_bad_fault_specs_are_refused(standin: StandIn, fault: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        standin.inject(fault, **params)
    with pytest.raises(ValueError, match="count"):
        standin.inject("drop", count=0)


# -------------------------------------------------------- control over HTTP


def test_control_routes_from_plain_urllib(standin: StandIn, sg: Any) -> None:
    state = control(standin, "POST", "faults", {"fault": "error", "status": 503, "count": 2})
    assert state["queue"] == [{"fault": "error", "status": 503, "count": 2}]
    with pytest.raises(sg_errors.ServiceUnavailableError):
        send(sg, mail())
    assert control(standin, "GET", "faults")["queue"][0]["count"] == 1
    assert control(standin, "DELETE", "faults") == {"queue": [], "default": None}

    message_id = send(sg, mail()).headers["X-Message-Id"]

    accepted = control(standin, "GET", "accepted")
    assert accepted["recipients"] == ["ada@example.com", "grace@example.com"]
    assert accepted["deliveries"][1] == {
        "email": "grace@example.com",
        "message_id": message_id,
        "custom_args": {"issue": "override", "subscriber_id": "2"},
    }
    [summary] = accepted["requests"]
    assert summary["message_id"] == message_id
    assert "html" not in summary
    with_content = control(standin, "GET", "accepted?content=1")
    assert with_content["requests"][0]["text"] == "Hi -first-, unsubscribe: -unsub-"

    stats = control(standin, "GET", "stats")
    assert stats["requests"] == 2
    assert stats["accepted_recipients"] == 2

    control(standin, "POST", "faults", {"fault": "drop_before", "default": True})
    assert control(standin, "GET", "faults")["default"] == {"fault": "drop_before"}

    assert control(standin, "POST", "reset") == {"reset": True}
    assert control(standin, "GET", "accepted")["recipients"] == []
    assert control(standin, "GET", "faults") == {"queue": [], "default": None}


def test_control_routes_refuse_bad_input(standin: StandIn) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(standin, "POST", "faults", {"fault": "explode"})
    assert caught.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(standin, "GET", "reset")
    assert caught.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(standin, "GET", "nothing-here")
    assert caught.value.code == 404


def test_count_mode_keeps_counters_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with StandIn(api_keys=[KEY], record="count") as counting:
        client = sendgrid.SendGridAPIClient(api_key=KEY, host=counting.url)
        client.client.timeout = 5
        body = mail()
        for _ in range(3):
            assert send(client, body).status_code == 202

        stats = counting.stats()
        assert (stats.accepted_requests, stats.accepted_personalizations) == (3, 6)
        assert stats.accepted_bytes == 3 * len(json.dumps(body).encode())
        assert counting._requests == []
        with pytest.raises(RuntimeError, match="count"):
            counting.recipients()
        with pytest.raises(urllib.error.HTTPError) as caught:
            control(counting, "GET", "accepted")
        assert caught.value.code == 409


def test_reset_and_restart(standin: StandIn, sg: Any) -> None:
    send(sg, mail())
    standin.inject("drop")
    standin.reset()
    assert standin.requests == []
    assert standin.stats().requests == 0
    assert send(sg, mail()).status_code == 202

    standin.stop()
    with pytest.raises(RuntimeError):
        _ = standin.url
    url = standin.start()
    client = sendgrid.SendGridAPIClient(api_key=KEY, host=url)
    client.client.timeout = 5
    assert send(client, mail()).status_code == 202


def test_runs_as_a_subprocess_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter.devtools.standin", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = sendgrid.SendGridAPIClient(api_key=KEY, host=url)
        client.client.timeout = 5
        assert send(client, mail()).status_code == 202
        with urllib.request.urlopen(f"{url}/_standin/accepted", timeout=5) as response:  # noqa: S310
            assert json.loads(response.read())["recipients"] == [
                "ada@example.com",
                "grace@example.com",
            ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
