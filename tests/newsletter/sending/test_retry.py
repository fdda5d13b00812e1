"""The retry policy the send run and the dry run share."""

from __future__ import annotations

from newsletter.delivery import TransientFailure
from newsletter.sending.retry import RetryPolicy

POLICY = RetryPolicy(base=1.0, cap=8.0, attempts=3)


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    for tries, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        for _ in range(50):
            assert full * 0.5 <= POLICY.backoff(tries) <= full


def test_a_provider_retry_time_is_believed_within_the_cap() -> None:
    now = 1000.0
    soon = TransientFailure("429", retry_at=now + 3)
    late = TransientFailure("429", retry_at=now + 60)
    past = TransientFailure("429", retry_at=now - 5)
    for _ in range(50):
        assert 3.0 <= POLICY.delay(soon, 1, now) <= 3.25
        assert 8.0 <= POLICY.delay(late, 1, now) <= 8.25
        assert 0.0 <= POLICY.delay(past, 1, now) <= 0.25
        assert 0.5 <= POLICY.delay(TransientFailure("503"), 1, now) <= 1.0


def test_attempts_run_out_after_the_setting() -> None:
    assert not POLICY.gives_up(2)
    assert POLICY.gives_up(3)
