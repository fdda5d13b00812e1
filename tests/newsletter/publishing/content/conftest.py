"""A content folder with the reviewer panel and no comparison yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import write_content


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_content(tmp_path / "content", [])
