"""What one recipient costs on the wire: the size of a real SendGrid request body.

    .venv/bin/python -m benchmarks.request_bytes [--recipients 1000] [--comparisons 3 1]

For each issue size (three comparisons, the sample issue `benchmarks.send` sends, and one)
it builds the issue from content/ in a fresh SQLite database with N active subscribers,
then encodes ONE request for all N exactly as a send does: the send's message
(`issue_message`, `batch_message`), a `PersonalizedBatch` of the subscribers' rows, and the
SendGrid backend's own encoder (`encode_request`). It prints the body's bytes per recipient,
and how that splits between the content (HTML and text, once per request) and the
personalizations (once per recipient).

The byte counts are deterministic (no clock, no network): they depend only on the code, the
content and N. The encoding time beside them is a median of 15 encodes and moves with the
machine's load. Run it in a worktree of another commit to get that commit's figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from sqlmodel import col, select

from benchmarks.send import add_subscribers, build
from newsletter.core.database import make_engine, session_scope, upgrade
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.delivery import PersonalizedBatch
from newsletter.delivery.providers.sendgrid.encoding import encode_request
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.sending.message import batch_message, issue_message
from subscribers.models import Subscriber


def measure(recipients: int, comparisons: int) -> dict[str, int]:
    """The byte counts of one request to `recipients` subscribers of a new issue, and the
    median time to encode it (µs; on a loaded machine, noisy)."""
    with tempfile.TemporaryDirectory(prefix="request-bytes-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            content_dir=PROJECT_ROOT / "content",
            secret_key="benchmark-secret-" + "x" * 32,
            site_url="https://verdicts.example.com",
            comparisons_per_issue=comparisons,
            _env_file=None,  # type: ignore[call-arg]
        )
        engine = make_engine(url)
        upgrade(engine)
        add_subscribers(settings, recipients)
        issue = build(settings)
        with session_scope(engine) as session:
            rows = [
                (sid or 0, email, name)
                for sid, email, name in session.exec(
                    select(Subscriber.id, Subscriber.email, Subscriber.name).order_by(
                        col(Subscriber.id)
                    )
                ).all()
            ]
        engine.dispose()
    personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
    message = batch_message(issue_message(issue, settings), issue, 1)
    body = encode_request(message, PersonalizedBatch(personalizer, rows))
    timings = []
    for _ in range(15):  # as a send encodes batch after batch with one personalizer
        started = time.perf_counter()
        encode_request(message, PersonalizedBatch(personalizer, rows))
        timings.append(time.perf_counter() - started)
    parsed = json.loads(body)
    content = sum(len(json.dumps(part["value"]).encode()) for part in parsed["content"])
    personalizations = sum(
        len(json.dumps(p, separators=(",", ":")).encode()) for p in parsed["personalizations"]
    )
    return {
        "body": len(body.encode()),
        "content": content,
        "personalizations": personalizations,
        "recipients": len(rows),
        "encode_us": round(statistics.median(timings) * 1e6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--comparisons", type=int, nargs="+", default=[3, 1])
    args = parser.parse_args(argv)
    if not 1 <= args.recipients <= 1000:
        parser.error("--recipients: one request holds 1 to 1,000 recipients")
    for comparisons in args.comparisons:
        figures = measure(args.recipients, comparisons)
        n = figures["recipients"]
        print(
            f"{comparisons} comparison(s), {n:,} recipients in one request: "
            f"{figures['body']:,} bytes, {figures['body'] / n:.0f} bytes/recipient "
            f"(content {figures['content']:,} bytes = {figures['content'] / n:.0f}/recipient; "
            f"personalizations {figures['personalizations'] / n:.0f}/recipient); "
            f"encoded in {figures['encode_us'] / 1000:.1f} ms (median of 15)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
