"""The preview server: it follows the files, shows a broken file's error, and previews one
comparison alone."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import time_machine
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.errors import InvalidInput, NotFound
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.publishing.composition import links_of, remove_comparison
from newsletter.publishing.content import check_content, load_content
from newsletter.publishing.gate import snapshot_hash
from newsletter.publishing.issues import approve_issue, build_issue, get_issue, move_issue
from newsletter.publishing.models import Comparison
from newsletter.publishing.preview import (
    Preview,
    PreviewFailure,
    build_preview,
    comparison_preview,
)
from newsletter.publishing.render import Snapshot
from newsletter.web.app import create_app
from subscribers.models import Subscriber
from tests.conftest import serve
from tests.newsletter.publishing.helpers import stored


def _copy_content(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", root)
    settings.content_dir = root
    return root


def test_preview_follows_edits_and_shows_broken_files(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = _copy_content(settings, tmp_path)
    target = root / "comparisons" / "code-llama-4-vs-mistral-large-3.yaml"
    original = target.read_text()
    with (
        serve(create_app(settings, engine, preview=True)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20) as http,
    ):
        first = http.get("/preview", params={"week": "2026-W48"})
        assert first.status_code == 200
        assert "All checks pass" in first.text
        version = http.get("/preview/version").text

        target.write_text(original.replace("verdict: Open weights", "verdict: EDITED Open weights"))
        assert http.get("/preview/version").text != version
        assert "EDITED Open weights" in http.get("/preview/email", params={"week": "2026-W48"}).text

        target.write_text(original.replace("published: 2026-11-23", "published: 2026-11-31"))
        broken = http.get("/preview", params={"week": "2026-W48"})
        assert broken.status_code == 422
        assert "Cannot render the issue" in broken.text
        assert (
            "content/comparisons/code-llama-4-vs-mistral-large-3.yaml:4: published: "
            "&#39;2026-11-31&#39; is not a date" in broken.text
        )

        target.write_text(original)
        fixed = http.get("/preview", params={"week": "2026-W48"})
        assert fixed.status_code == 200
        text = http.get("/preview/text", params={"week": "2026-W48"}).text
        assert "sample" not in text.lower() or "/unsubscribe/" in text
        assert "%%" not in text

        alone = http.get("/preview/comparisons/code-llama-4-vs-mistral-large-3")
        assert alone.status_code == 200
        assert "Code Llama 4 vs Mistral Large 3" in alone.text
        assert "Comparison 2" not in alone.text
        missing = http.get("/preview/comparisons/nope")
        assert missing.status_code == 404
        hostile = http.get("/preview/comparisons/%3Cb%3Ebold")
        assert hostile.status_code == 404
        assert "<b>bold" not in hostile.text
        assert "&lt;b&gt;bold" in hostile.text
        assert (
            "no comparison &#39;nope&#39;" in missing.text or "no comparison 'nope'" in missing.text
        )


def test_preview_is_off_on_the_public_app(engine: Engine, settings: Settings) -> None:
    with serve(create_app(settings, engine)) as port:
        answer = httpx.get(f"http://127.0.0.1:{port}/preview", trust_env=False)
    assert answer.status_code == 404


def test_template_errors_name_file_and_line(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "templates", templates)
    settings.templates_dir = templates
    mjml = templates / "email" / "issue.mjml"
    lines = mjml.read_text().splitlines()
    lines[9] = lines[9] + " {% if %}"
    mjml.write_text("\n".join(lines) + "\n")
    result = build_preview(engine, settings, week="2026-W48")
    assert isinstance(result, PreviewFailure)
    assert result.problems[0].startswith("templates/email/issue.mjml:10: ")


def test_a_failure_keeps_the_kind_of_error_behind_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = _copy_content(settings, tmp_path)
    missing = comparison_preview(engine, settings, "nope")
    assert isinstance(missing, PreviewFailure)
    assert isinstance(missing.error, NotFound)
    assert missing.problems[0].startswith("no comparison 'nope'; known: ")
    (root / "comparisons" / "broken.yaml").write_text("slug: [\n")
    broken = comparison_preview(engine, settings, "nope")
    assert isinstance(broken, PreviewFailure)
    assert isinstance(broken.error, InvalidInput)
    assert broken.error.__traceback__ is None


def test_previewing_a_draft_takes_a_deleted_comparison_out(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """The preview loads through the same door as `content load`: what the editor sees
    after deleting a file is the draft without it, and that is what is stored."""
    root = _copy_content(settings, tmp_path)
    with session_scope(engine) as session:
        load_content(session, root)
        build_issue(session, "2026-W48", settings)
    first = build_preview(engine, settings, week="2026-W48")
    assert isinstance(first, Preview)
    assert not first.provisional
    slugs = [view.slug for view in first.comparisons]
    assert len(slugs) > 1
    (root / "comparisons" / f"{slugs[0]}.yaml").unlink()
    after = build_preview(engine, settings, week="2026-W48")
    assert isinstance(after, Preview)
    assert [view.slug for view in after.comparisons] == slugs[1:]
    with session_scope(engine) as session:
        stored = get_issue(session, after.number)
    assert first.comparisons[0].title not in stored.html


"""The preview server: it follows the files, shows a broken file's error, previews one
comparison alone, leaves an approved issue as it was approved, and by default shows the
issue the editor is working on."""


def _build(engine: Engine, settings: Settings, week: str) -> int:
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
        return build_issue(session, week, settings).issue.number


def test_the_preview_never_re_renders_an_approved_issue(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Editing a file while the preview is open re-renders a draft, never what the editor
    approved; `unapprove` is the way to change it."""
    root = _copy_content(settings, tmp_path)
    target = root / "comparisons" / "code-llama-4-vs-mistral-large-3.yaml"
    number = _build(engine, settings, "2026-W48")
    with session_scope(engine) as session:
        approve_issue(session, number, settings)
    approved = stored(engine, number)
    target.write_text(
        target.read_text().replace("verdict: Open weights", "verdict: EDITED Open weights")
    )
    with (
        serve(create_app(settings, engine, preview=True)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20) as http,
    ):
        page = http.get("/preview", params={"number": number})
        assert page.status_code == 200
        assert f"Issue #{number} · 2026-W48 · approved" in page.text
        assert "EDITED" not in http.get("/preview/email", params={"number": number}).text
        after = stored(engine, number)
        assert (after.html, after.text, after.rendered_at) == (
            approved.html,
            approved.text,
            approved.rendered_at,
        )
        assert after.approved_hash == snapshot_hash(after)

        with session_scope(engine) as session:
            move_issue(session, number, "unapprove")
        target.write_text(target.read_text() + "\n")  # the page reloads on the next save
        assert "EDITED Open weights" in http.get("/preview/email", params={"number": number}).text
    assert "EDITED Open weights" in stored(engine, number).html


def test_the_default_preview_shows_the_issue_the_editor_just_built(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """No number, no week: the newest issue that has not gone out and is not cancelled,
    followed as the editor builds the next one while the server runs."""
    _copy_content(settings, tmp_path)
    with (
        time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False),
        serve(create_app(settings, engine, preview=True)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20) as http,
    ):
        first = http.get("/preview")
        assert "· 2026-W48 · draft (not built yet: provisional)" in first.text
        assert _build(engine, settings, "2026-W48") == 1
        assert "Issue #1 · 2026-W48 · draft<" in http.get("/preview").text
        assert _build(engine, settings, "2026-W49") == 2

        ahead = http.get("/preview")

        assert ahead.status_code == 200
        assert "Issue #2 · 2026-W49 · draft<" in ahead.text
        assert "Issue #2" in http.get("/preview/email").text
        with session_scope(engine) as session:
            move_issue(session, 2, "cancel")
        assert "Issue #1 · 2026-W48 · draft<" in http.get("/preview").text


def test_the_preview_waits_for_another_writer_instead_of_failing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Another process is writing (a send recording its batches, an import) while the
    editor previews: the preview waits its turn and shows the issue; it never fails with
    "database is locked" (which `issue check` printed and the page answered with a 500)."""
    root = _copy_content(settings, tmp_path)
    number = _build(engine, settings, "2026-W48")
    target = root / "comparisons" / "code-llama-4-vs-mistral-large-3.yaml"

    def while_another_writes(preview: Callable[[], object]) -> object:
        holding, done = threading.Event(), threading.Event()

        def write() -> None:
            with session_scope(engine, immediate=True) as session:
                session.add(Subscriber(email=f"writer{time.monotonic_ns()}@example.com"))
                session.flush()
                holding.set()
                done.wait(timeout=0.8)  # holds the write lock, then commits

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert holding.wait(timeout=10)
            return preview()
        finally:
            done.set()
            writer.join(timeout=10)

    target.write_text(target.read_text().replace("verdict: Open weights", "verdict: NEW Open"))
    shown = while_another_writes(lambda: build_preview(engine, settings, number=number))
    assert isinstance(shown, Preview), shown
    assert "NEW Open" in shown.html
    target.write_text(target.read_text().replace("verdict: NEW Open", "verdict: NEWER Open"))
    alone = while_another_writes(
        lambda: comparison_preview(engine, settings, "code-llama-4-vs-mistral-large-3")
    )
    assert isinstance(alone, Snapshot), alone
    assert "NEWER Open" in alone.html


def test_the_preview_follows_issue_changes_made_from_the_command_line(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """`issue remove` and `issue approve` change no file, yet what the preview shows: the
    version the page polls changes with them (so the page reloads), and the page shows the
    issue as it is now; with nothing changed, the version stays put."""
    _copy_content(settings, tmp_path)
    number = _build(engine, settings, "2026-W48")
    with session_scope(engine) as session:
        first, *_ = (c for _, c in links_of(session, get_issue(session, number)))
    with (
        serve(create_app(settings, engine, preview=True)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20) as http,
    ):
        page = http.get("/preview", params={"number": number})
        assert f"Issue #{number} · 2026-W48 · draft<" in page.text
        assert first.title in http.get("/preview/email", params={"number": number}).text
        version = http.get("/preview/version").text
        assert f'data-version="{version}"' in page.text
        assert http.get("/preview/version").text == version

        with session_scope(engine, immediate=True) as session:  # `issue remove`
            remove_comparison(session, number, first.slug, settings)

        removed = http.get("/preview/version").text
        assert removed != version
        assert first.title not in http.get("/preview/email", params={"number": number}).text
        with session_scope(engine, immediate=True) as session:  # `issue approve`
            approve_issue(session, number, settings)

        assert http.get("/preview/version").text != removed
        approved = http.get("/preview", params={"number": number})
        assert f"Issue #{number} · 2026-W48 · approved<" in approved.text
        assert http.get("/preview/version").text == http.get("/preview/version").text


def test_a_frozen_issue_is_previewed_without_loading_the_files(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Previewing an approved issue neither reads nor loads content/: a new comparison
    file stays unloaded until something that loads (a draft's preview, `content load`)."""
    root = _copy_content(settings, tmp_path)
    number = _build(engine, settings, "2026-W48")
    with session_scope(engine) as session:
        approve_issue(session, number, settings)
        loaded = session.exec(select(func.count()).select_from(Comparison)).one()
    source = root / "comparisons" / "code-llama-4-vs-mistral-large-3.yaml"
    (root / "comparisons" / "brand-new.yaml").write_text(  # a valid file, not loaded yet
        source.read_text().replace("slug: code-llama-4-vs-mistral-large-3", "slug: brand-new")
    )
    assert not check_content(root).problems

    shown = build_preview(engine, settings, number=number)

    assert isinstance(shown, Preview), shown
    assert (shown.status, shown.errors) == ("approved", [])
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Comparison)).one() == loaded
