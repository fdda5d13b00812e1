"""How long rendering an issue takes, cold and warm: the preview's reload path.

    .venv/bin/python -m benchmarks.render --runs 50

Builds the issue of the newest week in content/ (three comparisons, as `make demo`) in a
fresh SQLite file (or a fresh schema of --database-url) and times, median of --runs:

- render, cold: `render_view` on a template folder it has never seen (a fresh copy of
  templates/ per run) and a view whose MJML it has never compiled (the subject differs per
  run): what the first render in a process, or the first after a template edit, costs;
- render, warm: `render_view` of the same view again, with the same templates (what the
  preview's reload pays once the editor's change has been read);
- render_issue, warm: the issue's view read from the database, then rendered (what the
  preview's re-render of a draft pays, in a transaction rolled back);
- MJML alone: `compile_mjml` on the issue's MJML, for the share of the compiler.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session, col, select

from benchmarks.databases import fresh_database
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import Settings
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue, get_issue
from newsletter.publishing.models import Comparison
from newsletter.publishing.render import compile_mjml, issue_view, render_issue, render_view
from newsletter.publishing.weeks import week_of

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def median_ms(runs: int, step: Callable[[int], object]) -> tuple[float, float]:
    """Median and slowest of `runs` calls of `step(i)`, in milliseconds."""
    times = []
    for i in range(runs):
        started = time.perf_counter()
        step(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", help="PostgreSQL URL; a schema is made and dropped")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        folder = Path(tmp)
        with fresh_database(args.database_url, folder) as url:
            settings = Settings(
                database_url=url,
                content_dir=PROJECT_ROOT / "content",
                templates_dir=PROJECT_ROOT / "templates",
                secret_key="benchmark-secret-" + "x" * 32,
                site_url="https://verdicts.example.com",
                comparisons_per_issue=3,
                _env_file=None,  # type: ignore[call-arg]
            )
            engine = make_engine(url)
            try:
                upgrade(engine)
                with session_scope(engine) as session:
                    load_content(session, settings.content_dir)
                with session_scope(engine) as session:
                    newest = session.exec(
                        select(Comparison).order_by(col(Comparison.published).desc())
                    ).first()
                    assert newest is not None
                    number = build_issue(session, week_of(newest.published), settings).issue.number
                measure(
                    engine_session=lambda: Session(engine),
                    number=number,
                    settings=settings,
                    folder=folder,
                    runs=args.runs,
                )
            finally:
                engine.dispose()


def measure(
    *,
    engine_session: Callable[[], Session],
    number: int,
    settings: Settings,
    folder: Path,
    runs: int,
) -> None:
    with engine_session() as session:
        view = issue_view(session, get_issue(session, number), settings)

    def warm(_: int) -> None:
        render_view(view, settings.templates_dir)

    snapshot = render_view(view, settings.templates_dir)

    def mjml_alone(_: int) -> None:
        compile_mjml(snapshot.mjml)

    def issue_warm(_: int) -> None:
        with engine_session() as session:
            render_issue(session, get_issue(session, number), settings)
            session.rollback()

    # The copies are made outside the timing: copy first, then time the render alone.
    cold_times = []
    for i in range(runs):
        copy = folder / f"templates-{i}"
        shutil.copytree(settings.templates_dir, copy)
        started = time.perf_counter()
        render_view(replace(view, subject=f"{view.subject} ({i})"), copy)
        cold_times.append((time.perf_counter() - started) * 1000)
    load = os.getloadavg()
    print(f"issue #{number}: {len(snapshot.mjml):,} chars of MJML, {len(snapshot.html):,} of HTML")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; median (slowest) of {runs}")
    print(f"render, cold:        {statistics.median(cold_times):6.2f} ms ({max(cold_times):.2f})")
    for label, step in (
        ("render, warm:", warm),
        ("render_issue, warm:", issue_warm),
        ("MJML alone:", mjml_alone),
    ):
        step(0)  # the first call warms what it can
        median, slowest = median_ms(runs, step)
        print(f"{label:20} {median:6.2f} ms ({slowest:.2f})")


if __name__ == "__main__":
    main()
