"""The ledger's gauges on their own: an empty ledger shows every outcome at zero (so a
dashboard has its series before the first send), and the attempts label stays bounded."""

from __future__ import annotations

from sqlalchemy import Engine

from newsletter.analytics.ledger_metrics import LedgerCollector, attempts_label
from newsletter.sending.ledger import RecipientState


def test_an_empty_ledger_shows_every_outcome_at_zero(engine: Engine) -> None:
    recipients, batches = LedgerCollector(engine).collect()

    shown = {sample.labels["outcome"]: sample.value for sample in recipients.samples}
    assert shown == {state.value: 0 for state in RecipientState}
    assert batches.samples == []


def test_the_attempts_label_stops_at_ten() -> None:
    assert [attempts_label(n) for n in (0, 1, 9, 10, 57)] == ["0", "1", "9", "10+", "10+"]
