"""The HTTP layer: keep-alive, bodies over SendGrid's limit refused before they are read,
unknown paths and methods.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import MAX_BODY_BYTES, StandIn
from tests.newsletter.devtools.standin.helpers import (
    KEY,
    error_fields,
    mail,
    send,
)


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


def test_unknown_path_is_404_and_other_method_405(standin: StandIn, sg: Any) -> None:
    with pytest.raises(sg_errors.NotFoundError):
        sg.client.mail.batch.post(request_body={})
    with pytest.raises(sg_errors.MethodNotAllowedError) as caught:
        sg.client.mail.send.get()
    assert caught.value.headers["Allow"] == "POST"
    assert error_fields(caught.value) == [None]
