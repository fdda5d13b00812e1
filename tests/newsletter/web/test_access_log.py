"""The access log `newsletter serve` configures holds no link's token."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest
import uvicorn

from newsletter.core.logs import uvicorn_log_config
from newsletter.core.settings import Settings
from newsletter.web.access_log import redacting, without_tokens


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/vote/AbC-d_9/12/34", "/vote/…/12/34"),
        ("/vote/AbC.d_9", "/vote/…"),
        ("/unsubscribe/tok3n", "/unsubscribe/…"),
        ("/resubscribe/tok3n?x=1", "/resubscribe/…?x=1"),
        ("/confirm/tok3n", "/confirm/…"),
        ("//vote/tok3n", "//vote/…"),
        ("/vote//tok3n/1/2", "/vote//…/1/2"),
        ("/./unsubscribe/tok3n", "/./unsubscribe/…"),
        ("/static/../confirm/tok3n", "/static/../confirm/…"),
        ("/prefix/vote/tok3n?next=/unsubscribe/t2", "/prefix/vote/…?next=/unsubscribe/…"),
        ("/issues/12", "/issues/12"),
        ("/votes/tok3n", "/votes/tok3n"),
        ("/admin/subscribers/7", "/admin/subscribers/7"),
    ],
)
def test_a_link_token_is_hidden_and_other_paths_kept(path: str, logged: str) -> None:
    assert without_tokens(path) == logged


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_served_access_log_writes_the_path_without_the_token(
    settings: Settings, log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.log_format = "json" if log_format == "json" else "text"
    config = redacting(uvicorn_log_config(settings) or uvicorn.config.LOGGING_CONFIG)
    access = logging.getLogger("uvicorn.access")
    before = (access.filters[:], access.handlers[:], access.propagate)
    root_handlers = logging.getLogger().handlers[:]
    try:
        logging.config.dictConfig(config)
        stream = io.StringIO()
        capture = logging.StreamHandler(stream)
        access.addHandler(capture)
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/unsubscribe/SECRET", "1.1", 200
        )
        access.removeHandler(capture)
    finally:
        access.filters[:], access.handlers[:], access.propagate = before
        logging.getLogger().handlers[:] = root_handlers
    written = stream.getvalue() + capsys.readouterr().err
    assert "/unsubscribe/…" in written
    assert "SECRET" not in written
