"""Rendering keeps its templates compiled between calls, and an edit to any template file
still shows at the next render: the preview reloads on every edit under templates/email/."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from newsletter.core.settings import PROJECT_ROOT
from newsletter.publishing.figures import NO_VOTES_YET
from newsletter.publishing.render import (
    EMAIL_TEMPLATES,
    ComparisonView,
    IssueView,
    RenderError,
    TakeView,
    ToolView,
    compile_mjml,
    email_templates,
    render_view,
)


def _view() -> IssueView:
    take = TakeView("Ann", "Lens", "ship", "Ann ships it.", "ann")
    tools = [
        ToolView(
            name.lower(), name, "V", "C", "T", "D", "Free", None, "https://x.example/",
            "50%", NO_VOTES_YET, ["ann"] if name == "Alpha" else [], [take], "", id=i,
        )
        for i, name in enumerate(["Alpha", "Beta"], start=1)
    ]  # fmt: skip
    comparison = ComparisonView(
        1, "alpha-vs-beta", "Alpha vs Beta", "Which?", date(2026, 11, 23), "Alpha.", "u",
        tools, [], 0, id=1,
    )  # fmt: skip
    return IssueView(7, "2026-W48", date(2026, 11, 23), "Subject", "Preheader", [comparison])


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of the project's templates, free to edit."""
    copy = tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "templates", copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    """Replace `old` with `new` (same length) and put the file's times back as they were:
    an edit the file's modification time cannot tell (one within its granularity)."""
    assert len(old) == len(new)
    stat = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def test_the_environment_is_kept_while_the_templates_do_not_change(templates: Path) -> None:
    folder = templates / EMAIL_TEMPLATES
    first = email_templates(folder)
    assert email_templates(folder) is first
    assert render_view(_view(), templates) == render_view(_view(), templates)
    assert email_templates(folder) is first


def test_an_edited_template_shows_at_the_next_render_even_at_the_same_time_and_size(
    templates: Path,
) -> None:
    view = _view()
    before = render_view(view, templates)
    assert "WEEKLY AI TOOL VERDICTS" in before.text
    _edit(templates / EMAIL_TEMPLATES / "issue.txt", "WEEKLY AI TOOL", "WEEKLY ML TOOL")
    after = render_view(view, templates)
    assert "WEEKLY ML TOOL VERDICTS" in after.text
    assert after.html == before.html


def test_an_edit_to_an_imported_template_shows_too(templates: Path) -> None:
    """macros.mjml is imported by issue.mjml: the issue's HTML follows it."""
    view = _view()
    before = render_view(view, templates)
    assert "Comparison 1" in before.html
    _edit(templates / EMAIL_TEMPLATES / "macros.mjml", ">Comparison {{", ">Kompareson {{")
    after = render_view(view, templates)
    assert "Kompareson 1" in after.html
    assert "Comparison 1" not in after.html
    assert after.mjml != before.mjml


def test_a_broken_edit_fails_and_its_repair_renders_again(templates: Path) -> None:
    view = _view()
    good = render_view(view, templates)
    path = templates / EMAIL_TEMPLATES / "issue.txt"
    original = path.read_text()
    path.write_text(original + "{% if %}\n")
    with pytest.raises(RenderError, match=r"^templates/email/issue\.txt:\d+: "):
        render_view(view, templates)
    path.write_text(original)
    assert render_view(view, templates) == good


def test_a_deleted_template_is_not_rendered_from_memory(templates: Path) -> None:
    render_view(_view(), templates)
    (templates / EMAIL_TEMPLATES / "issue.txt").unlink()
    with pytest.raises(RenderError, match=r"issue\.txt"):
        render_view(_view(), templates)


def test_two_folders_render_each_their_own_templates(templates: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(templates, other)
    _edit(other / EMAIL_TEMPLATES / "issue.txt", "WEEKLY AI TOOL", "WEEKLY ML TOOL")
    assert "WEEKLY AI TOOL" in render_view(_view(), templates).text
    assert "WEEKLY ML TOOL" in render_view(_view(), other).text
    assert "WEEKLY AI TOOL" in render_view(_view(), templates).text


def test_the_html_kept_for_an_mjml_source_is_what_the_compiler_gives(templates: Path) -> None:
    snapshot = render_view(_view(), templates)
    assert snapshot.html == compile_mjml(snapshot.mjml)
    again = render_view(_view(), templates)
    assert again.html == snapshot.html
