"""`core.metrics.count`: counting never fails the work it counts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from newsletter.core import metrics as metrics_module
from newsletter.core.metrics import Metrics, count, share_directory
from newsletter.core.settings import SettingsError


def test_a_failing_counter_is_logged_once_and_never_raises(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "_failing", False)
    calls = []

    def broken(m: Metrics) -> None:
        calls.append(m)
        raise PermissionError(13, "Permission denied", "/run/metrics/counter_1.db")

    with caplog.at_level(logging.WARNING, logger="newsletter.core.metrics"):
        count(broken)
        count(broken)
    assert len(calls) == 2  # tried each time, failing quietly
    warnings = [r for r in caplog.records if "cannot count" in r.getMessage()]
    assert len(warnings) == 1
    assert "Permission denied" in warnings[0].getMessage()


def test_a_counter_that_works_counts() -> None:
    before = _votes()
    count(lambda m: m.votes.inc())
    assert _votes() == before + 1


def test_a_metrics_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match=r"^PROMETHEUS_MULTIPROC_DIR: cannot make .*a-file/m"):
        metrics_module._use(blocker / "m")


def _votes() -> float:
    from prometheus_client import generate_latest

    text = generate_latest(metrics_module.metrics().registry).decode()
    line = next(line for line in text.splitlines() if line.startswith("newsletter_votes_total"))
    return float(line.split()[-1])


def test_sharing_a_directory_after_counting_is_refused() -> None:
    metrics_module.metrics()
    with pytest.raises(RuntimeError, match="already counted in memory"):
        share_directory(Path("/nonexistent"))
