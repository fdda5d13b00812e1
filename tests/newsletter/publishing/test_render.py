"""What the rendered email shows, how it escapes content, and how big it gets."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Purpose, Signer
from newsletter.publishing.content import load_content
from newsletter.publishing.figures import NO_VOTES_YET
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Issue, Tool
from newsletter.publishing.render import ComparisonView, TakeView, ToolView
from newsletter.sending.message import issue_message
from tests.factories import comparison, tool, write_content

EVIL_TAKE = "<script>alert('x')</script> & </mj-text><mj-raw>injected</mj-raw>"


def _build(engine: Engine, settings: Settings, root: Path, items: list[dict]) -> Issue:
    write_content(root, items)
    settings.comparisons_per_issue = len(items)
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        return build_issue(session, "2026-W48", settings).issue


@pytest.fixture
def issue(engine: Engine, settings: Settings, tmp_path: Path) -> Issue:
    alpha = tool(
        "alpha",
        name="Alpha <Pro>",
        vendor="Alpha & Sons",
        category="Voice & Audio",
        tagline='Speaks "quotes"',
        pricing={"entry": "Paid", "note": "$2 per 1M tokens"},
    )
    beta = tool(
        "beta",
        name="Beta",
        vendor="Beta Corp",
        category="Voice & Audio",
        tagline="Listens",
        pricing={"entry": "Free"},
    )
    item = comparison(
        "alpha-vs-beta",
        "2026-11-24",
        tools=[alpha, beta],
        verdicts={
            "dx": ["ship", "wait"],
            "risk": ["ship", "ship"],
            "long": ["ship", "skip"],
            "buyer": ["skip", "skip"],
        },
        title="Alpha <Pro> vs Beta",
        question="Which one should you ship with?",
        verdict="Alpha if you pay; Beta if you </mj-text> don't.",
    )
    item["reviews"][0]["takes"]["alpha"]["take"] = EVIL_TAKE
    return _build(engine, settings, tmp_path / "content", [item])


def _visible(html: str) -> str:
    """The text a reader sees: block tags break words apart, inline tags do not."""
    body = html.split("<body", 1)[1].split(">", 1)[1]
    body = re.sub(r"<(?:br|/?div|/?td|/?tr|/?h2|/?p|/?table)\b[^>]*>", " ", body)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", body)))


def test_html_shows_every_field_and_escapes_content(issue: Issue) -> None:
    html = issue.html
    visible = _visible(html)
    for expected in [
        "Alpha <Pro> vs Beta",
        "Which one should you ship with?",
        "Alpha <Pro>",
        "Alpha & Sons",
        "Voice & Audio",
        'Speaks "quotes"',
        "75% panel ship",
        "25% panel ship",
        "Community vote: no votes yet",
        "Paid · $2 per 1M tokens",
        "Free",
        "Our verdict: Alpha if you pay; Beta if you </mj-text> don't.",
        "Dana Dev · developer experience: favours Alpha <Pro>",
        "Riley Risk · competition and risk: no single favourite",
        "Alpha <Pro>: ship · Beta: wait",
        EVIL_TAKE,
        "Issue #1",
        "23 November 2026",
        "Verdicts Ltd, 12 Test Lane, Testville 12345",
        "Unsubscribe with one click",
        "View in your browser",
    ]:
        assert expected in visible, expected
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<mj-" not in html
    assert f'href="{placeholders.UNSUBSCRIBE}"' in html
    assert f'href="{placeholders.VIEW}"' in html
    votes = re.findall(r'href="(%%vote_\d+_\d+%%)"', html)
    assert len(set(votes)) == 2
    assert 'href="https://verdicts.example.com/comparisons/alpha-vs-beta"' in html
    assert f"<title>{issue.subject}</title>" in html.replace("&lt;", "<").replace("&gt;", ">")
    assert issue.preheader.split(";")[0].replace("<", "&lt;") in html  # mj-preview


def test_text_part_shows_every_field_unescaped(issue: Issue) -> None:
    text = issue.text
    for expected in [
        "1. Alpha <Pro> vs Beta",
        "Alpha <Pro> (Alpha & Sons, Voice & Audio)",
        'Speaks "quotes"',
        "Panel ship: 75% · Community vote: no votes yet",
        "Pricing: Paid ($2 per 1M tokens)",
        "Our verdict: Alpha if you pay; Beta if you </mj-text> don't.",
        "- Dana Dev (developer experience): favours Alpha <Pro>\n"
        "  Alpha <Pro>: ship · Beta: wait\n"
        f'  "{EVIL_TAKE}" (on Alpha <Pro>)\n',
        "- Bo Buyer (buyer and business model): no single favourite\n"
        "  Alpha <Pro>: skip · Beta: skip\n",
        "Vote Alpha <Pro>: %%vote_",
        f"Unsubscribe with one click: {placeholders.UNSUBSCRIBE}",
        f"View in your browser: {placeholders.VIEW}",
        "Verdicts Ltd, 12 Test Lane, Testville 12345",
        "Read the full comparison: https://verdicts.example.com/comparisons/alpha-vs-beta",
    ]:
        assert expected in text, expected
    assert "&lt;" not in text
    assert "&amp;" not in text


REVIEWER_NAMES = ("Dana Dev", "Riley Risk", "Lee Long", "Bo Buyer")


def _panel_split(text: str) -> str:
    return text.split("The panel split", 1)[1].split("Read the full comparison", 1)[0]


def test_the_panel_split_names_each_reviewer_once_and_quotes_agree_with_their_line(
    issue: Issue,
) -> None:
    """Riley Risk ships both tools: before, Beta's line read "nobody favours it outright"
    with Riley's ship take quoted right under it, and Riley came back as "Undecided"."""
    for part in (_visible(issue.html), issue.text):
        split = _panel_split(part)
        assert [split.count(name) for name in REVIEWER_NAMES] == [1, 1, 1, 1], split
        assert "nobody favours" not in split
        assert "Undecided" not in split
    reviewers = re.split(r"\n- ", _panel_split(issue.text))[1:]
    assert len(reviewers) == 4
    for block in reviewers:
        favourite = re.search(r": favours (.+)$", block, re.M)
        quoted = re.search(r"\(on (.+)\)$", block, re.M)
        assert quoted is not None, block
        if favourite:  # a favourite's quote is about that favourite
            assert quoted[1] == favourite[1], block
        else:
            assert ": no single favourite" in block


def test_panel_of_three_tools_lists_each_reviewer_once_with_every_verdict() -> None:
    def take(reviewer: str, verdict: str) -> TakeView:
        return TakeView(reviewer, "Lens", verdict, f"{reviewer} says {verdict}.")

    def tool_view(name: str, takes: list[TakeView], favoured_by: list[str]) -> ToolView:
        return ToolView(
            name.lower(), name, "V", "C", "T", "D", "Free", None, "https://x.example/",
            "50%", NO_VOTES_YET, favoured_by, takes, "",
        )  # fmt: skip

    view = ComparisonView(
        1, "a-b-c", "A vs B vs C", "Q?", date(2026, 11, 23), "V.", "u",
        [
            tool_view("A", [take("Ann", "ship"), take("Bob", "wait")], []),
            tool_view("B", [take("Ann", "ship"), take("Bob", "skip")], []),
            tool_view("C", [take("Ann", "wait"), take("Bob", "ship")], ["Bob"]),
        ],
        ["Ann"], 0,
    )  # fmt: skip
    ann, bob = view.panel
    assert (ann.name, ann.favours, [t.verdict for t in ann.takes]) == (
        "Ann",
        None,
        ["ship", "ship", "wait"],
    )
    assert ann.quote is not None
    assert (ann.quote.tool, ann.quote.verdict) == ("A", "ship")  # the first tool rated best
    assert (bob.name, bob.favours) == ("Bob", "C")
    assert bob.quote is not None
    assert bob.quote.tool == "C"
    assert [t.tool for t in bob.takes] == ["A", "B", "C"]


def test_namesakes_in_the_panel_stay_apart_tools_and_reviewers_alike() -> None:
    """Two tools called "Copilot", two reviewers called "Sam Lee": by name, they were one
    panelist, whose quote could sit under a favourite it contradicts."""

    def take(slug: str, verdict: str) -> TakeView:
        return TakeView("Sam Lee", "Lens", verdict, f"{slug} says {verdict}.", slug)

    def copilot(tool_id: int, takes: list[TakeView], favoured_by: list[str]) -> ToolView:
        return ToolView(
            f"copilot-{tool_id}", "Copilot", "V", "C", "T", "D", "Free", None,
            "https://x.example/", "50%", NO_VOTES_YET, favoured_by, takes, "", tool_id,
        )  # fmt: skip

    view = ComparisonView(
        1, "copilots", "Copilot vs Copilot", "Q?", date(2026, 11, 23), "V.", "u",
        [
            copilot(7, [take("sam-1", "skip"), take("sam-2", "ship")], ["sam-2"]),
            copilot(9, [take("sam-1", "ship"), take("sam-2", "wait")], ["sam-1"]),
        ],
        [], 0, 3,
    )  # fmt: skip
    first, second = view.panel
    for panelist, favourite in ((first, 1), (second, 0)):
        assert (panelist.name, panelist.favours, panelist.favourite) == (
            "Sam Lee",
            "Copilot",
            favourite,
        )
        assert len(panelist.takes) == 2
        assert panelist.quote is not None
        assert panelist.quote.place == favourite
        assert panelist.quote.verdict == "ship"  # the take on the tool they favour


def test_namesakes_read_right_in_the_rendered_email(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    reviewers = [
        {"slug": "sam-1", "name": "Sam Lee", "lens": "thesis"},
        {"slug": "sam-2", "name": "Sam Lee", "lens": "business"},
    ]
    item = comparison(
        "copilots",
        "2026-11-24",
        tools=[tool("copilot-gh", name="Copilot"), tool("copilot-ms", name="Copilot")],
        verdicts={"sam-1": ["skip", "ship"], "sam-2": ["ship", "skip"]},
    )
    write_content(tmp_path / "content", [item], reviewers=reviewers)
    with session_scope(engine) as session:
        load_content(session, tmp_path / "content")
    with session_scope(engine) as session:
        issue = build_issue(session, "2026-W48", settings).issue
    blocks = re.split(r"\n- ", _panel_split(issue.text))[1:]
    assert [b.split("\n")[0] for b in blocks] == [
        "Sam Lee (long-term thesis): favours Copilot",
        "Sam Lee (buyer and business model): favours Copilot",
    ]
    # Each quote is the ship take on the Copilot that reviewer favours, not the skip.
    assert '"sam-1 on copilot-ms: ship." (on Copilot)' in blocks[0]
    assert '"sam-2 on copilot-gh: ship." (on Copilot)' in blocks[1]
    html = _visible(issue.html)
    assert "sam-1 on copilot-ms: ship." in html
    assert "sam-2 on copilot-gh: ship." in html
    assert "on copilot-gh: skip." not in html


def test_subject_preheader_and_hash(issue: Issue) -> None:
    assert issue.subject == "Verdicts #1: Alpha <Pro> vs Beta"
    assert issue.preheader.startswith("Alpha if you pay")
    assert len(issue.content_hash) == 64
    assert issue.rendered_at is not None


def test_five_comparisons_stay_well_under_gmail_clipping(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    long_take = "A specific, opinionated take that runs to the length editors really write. " * 2
    items = []
    for i in range(5):
        tools = [
            tool(f"tool-{i}-{j}", tagline="A tagline of a realistic length for a tool")
            for j in range(3)
        ]
        item = comparison(
            f"c{i}",
            "2026-11-24",
            tools=tools,
            verdicts={r: ["ship", "wait", "skip"] for r in ["dx", "risk", "long", "buyer"]},
        )
        for review in item["reviews"]:
            for take in review["takes"].values():
                take["take"] = long_take[:399].strip()
        items.append(item)
    issue = _build(engine, settings, tmp_path / "content", items)
    size = len(issue.html.encode())
    assert issue.html.count("Comparison ") >= 5
    assert size < 90_000, f"{size} bytes: too close to Gmail's ~102 KB clip"


def test_outbox_eml_parses_back_with_both_parts_and_headers(
    engine: Engine, settings: Settings, issue: Issue
) -> None:
    signer = Signer(settings.secret())
    personalizer = Personalizer(issue, vote_slots(issue), settings, signer)
    recipients = [
        personalizer.recipient(41, "reader@example.com", "Rea Der"),
        personalizer.recipient(42, "other@example.com", None),
    ]
    backend = OutboxBackend(settings.outbox_dir)
    message = issue_message(issue, settings)
    backend.send_batch(message, recipients)
    backend.send_batch(message, recipients)  # a second time overwrites, never duplicates
    files = sorted(settings.outbox_dir.rglob("*.eml"))
    assert len(files) == 2
    assert not list(settings.outbox_dir.rglob("*.tmp"))

    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == "Rea Der <reader@example.com>"
    assert parsed["Subject"] == issue.subject
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(parsed["List-Unsubscribe"]).strip()  # may be folded
    assert unsubscribe.startswith("<https://verdicts.example.com/unsubscribe/")
    token = unsubscribe.strip("<>").rsplit("/", 1)[1]
    assert signer.verify(Purpose.RECIPIENT, token) == (41, issue.id)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    assert "%%" not in text
    assert "%%" not in html
    assert unsubscribe.strip("<>") in text
    assert unsubscribe.strip("<>") in html
    votes = re.findall(r"https://verdicts\.example\.com/vote/([\w.-]+)/(\d+)/(\d+)", html)
    assert len({(c, t) for _, c, t in votes}) == 2
    assert {v for v, _, _ in votes} == {token}  # every link carries the one token

    other = email.message_from_bytes(files[1].read_bytes(), policy=email.policy.default)
    assert other["To"] == "other@example.com"
    assert unsubscribe not in str(other)


def test_vote_links_keep_their_tool_when_content_changes_after_rendering(
    engine: Engine, settings: Settings, issue: Issue, tmp_path: Path
) -> None:
    """The snapshot's vote markers carry ids: swapping the tools in the file after the
    issue was rendered cannot make "Vote Alpha" vote for Beta."""
    root = tmp_path / "content"
    path = root / "comparisons" / "alpha-vs-beta.yaml"
    data = yaml.safe_load(path.read_text())
    data["tools"].reverse()
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    with session_scope(engine) as session:
        load_content(session, root)
        alpha = session.exec(select(Tool).where(Tool.slug == "alpha")).one()
        personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
    recipient = personalizer.recipient(7, "seven@example.com", None)
    html = placeholders.fill(issue.html, recipient.substitutions)
    assert "%%" not in html
    link = re.search(r'href="[^"]*/vote/([\w.-]+)/(\d+)/(\d+)"[^>]*>Vote Alpha &lt;Pro&gt;<', html)
    assert link is not None
    assert Signer(settings.secret()).verify(Purpose.RECIPIENT, link.group(1)) == (7, issue.id)
    assert int(link.group(3)) == alpha.id
