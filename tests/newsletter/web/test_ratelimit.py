"""Rate limits on the sign-up form: per client and overall, a friendly 429 with
Retry-After, and X-Forwarded-For believed only from the proxies uvicorn is told to trust."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from sqlalchemy import Engine

from newsletter.core.settings import Settings, SettingsError, get_settings
from newsletter.web.app import create_app
from newsletter.web.ratelimit import SignupLimits, client_key
from tests.conftest import serve
from tests.newsletter.web.helpers import subscriber_of, wait_for_signups

FRIENDLY = "Please try again shortly"


def _post(client: httpx.Client, address: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/subscribe", data={"email": address}, headers=headers)


def test_a_client_over_its_limit_gets_the_friendly_page_and_nothing_is_stored(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    settings.signup_limit_per_client = "3/minute"
    for n in range(3):
        assert _post(http, f"ok{n}@example.com").status_code == 200
    over = _post(http, "over@example.com")
    assert over.status_code == 429
    assert over.headers["content-type"].startswith("text/html")
    assert FRIENDLY in over.text
    assert "from your connection" in over.text
    assert "Nothing was stored" in over.text
    assert 'href="/subscribe"' in over.text
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert http.get("/subscribe").status_code == 200  # only posts are counted
    wait_for_signups(engine)
    assert subscriber_of(engine, "ok2@example.com") is not None
    assert subscriber_of(engine, "over@example.com") is None


def test_each_client_behind_a_trusted_proxy_has_its_own_allowance(
    http: httpx.Client, settings: Settings
) -> None:
    """The test client is the loopback proxy uvicorn trusts by default (the one
    `newsletter serve` runs behind): X-Forwarded-For names the client."""
    settings.signup_limit_per_client = "2/minute"
    for n in range(2):
        assert _post(http, f"a{n}@example.com", forwarded_for="198.51.100.1").status_code == 200
    assert _post(http, "a2@example.com", forwarded_for="198.51.100.1").status_code == 429
    assert _post(http, "b0@example.com", forwarded_for="198.51.100.2").status_code == 200
    same_64 = "2001:db8:1:2::1", "2001:db8:1:2:ffff::9"  # one subscriber line, one allowance
    assert _post(http, "c0@example.com", forwarded_for=same_64[0]).status_code == 200
    assert _post(http, "c1@example.com", forwarded_for=same_64[1]).status_code == 200
    assert _post(http, "c2@example.com", forwarded_for=same_64[0]).status_code == 429


def test_x_forwarded_for_from_a_peer_uvicorn_does_not_trust_is_ignored(
    engine: Engine, settings: Settings
) -> None:
    """Served as on a public address with the proxy elsewhere (`--forwarded-allow-ips`
    names only it): a client cannot pick a fresh key per post."""
    settings.signup_limit_per_client = "2/minute"
    with (
        serve(create_app(settings, engine), forwarded_allow_ips="192.0.2.10") as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client,
    ):
        answers = [
            _post(client, f"spoof{n}@example.com", forwarded_for=f"203.0.113.{n}").status_code
            for n in range(3)
        ]
    assert answers == [200, 200, 429]


def test_the_overall_limit_holds_whoever_posts(http: httpx.Client, settings: Settings) -> None:
    settings.signup_limit_total = "4/minute"
    answers = [
        _post(http, f"crowd{n}@example.com", forwarded_for=f"198.51.100.{n + 10}").status_code
        for n in range(5)
    ]
    assert answers == [200, 200, 200, 200, 429]
    over = _post(http, "late@example.com", forwarded_for="198.51.100.99")
    assert over.status_code == 429
    assert FRIENDLY in over.text


def test_a_refused_post_is_not_counted_so_waiting_is_enough() -> None:
    settings = Settings(_env_file=None, signup_limit_per_client="2/minute;3/hour")  # type: ignore[call-arg]
    limits = SignupLimits(settings)
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        assert [limits.check("192.0.2.1") for _ in range(2)] == [None, None]
        assert limits.check("192.0.2.1") == 60  # seconds until the oldest post leaves
        for _ in range(10):
            limits.check("192.0.2.1")  # hammering changes nothing
        clock.move_to(start + timedelta(seconds=61))
        assert limits.check("192.0.2.1") is None
        wait = limits.check("192.0.2.1")  # the hourly rate now: 3 an hour
        assert wait is not None
        assert 3500 < wait <= 3600


def test_a_client_is_its_ipv4_address_or_its_ipv6_slash_64() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_key("2001:DB8:1:2::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key(None) == "unknown"
    assert client_key("proxy-said-this") == "proxy-said-this"


@pytest.mark.parametrize(
    "variable", ["NEWSLETTER_SIGNUP_LIMIT_PER_CLIENT", "NEWSLETTER_SIGNUP_LIMIT_TOTAL"]
)
def test_a_rate_that_cannot_be_read_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "5 per fortnight")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert "5/minute" in message
    assert "\n" not in message
