"""An issue's snapshot as files an editor can open (`issue render`, the demo)."""

from __future__ import annotations

from pathlib import Path

from newsletter.publishing.models import Issue


def write_issue_files(issue: Issue, folder: Path) -> dict[str, Path]:
    """The snapshot as files an editor can open: HTML, text and the MJML source."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "html": folder / f"issue-{issue.number}.html",
        "text": folder / f"issue-{issue.number}.txt",
        "mjml": folder / f"issue-{issue.number}.mjml",
    }
    files["html"].write_text(issue.html, encoding="utf-8")
    files["text"].write_text(issue.text, encoding="utf-8")
    files["mjml"].write_text(issue.mjml, encoding="utf-8")
    return files
