"""Content written the way editors write it, for tests that need their own files."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from newsletter.publishing.content import check_content

REVIEWERS = [
    {"slug": "dx", "name": "Dana Dev", "lens": "developer-experience"},
    {"slug": "risk", "name": "Riley Risk", "lens": "competition"},
    {"slug": "long", "name": "Lee Long", "lens": "thesis"},
    {"slug": "buyer", "name": "Bo Buyer", "lens": "business"},
]


COMPARISON_FILE = """\
slug: alpha-vs-beta
title: Alpha vs Beta
question: Which one should you ship with?
published: 2026-11-23
verdict: Alpha for teams, Beta for solo work.
tools:
  - slug: alpha
    name: Alpha
    vendor: Alpha Labs
    category: Developer Tools
    tagline: The first tool
    description: Alpha does one thing well.
    pricing: {entry: Free, note: Self-hosted}
    url: https://alpha.example.com/
  - slug: beta
    name: Beta
    vendor: Beta Corp
    category: Developer Tools
    tagline: The second tool
    description: Beta does another thing.
    pricing: {entry: Paid}
    url: https://beta.example.com/
reviews:
  - reviewer: dx
    takes:
      alpha: {verdict: ship, take: "Fast to set up."}
      beta: {verdict: wait, take: "Docs are thin."}
  - reviewer: risk
    takes:
      alpha: {verdict: ship, take: "Two vendors behind it."}
      beta: {verdict: skip, take: "Single cloud."}
"""
"""One comparison exactly as an editor types it (flow mappings, quotes), with the line
numbers that the content checks report against; reviewers as in `REVIEWERS`."""


def tool(slug: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": slug,
        "name": slug.replace("-", " ").title(),
        "vendor": f"{slug.split('-')[0].title()} Inc.",
        "category": "Developer Tools",
        "tagline": f"The {slug} tagline",
        "description": f"What {slug} does, in one sentence.",
        "pricing": {"entry": "Freemium", "note": f"$10 per seat for {slug}"},
        "url": f"https://{slug}.example.com/",
    }
    data.update(overrides)
    return data


def comparison(
    slug: str,
    published: date | str = "2026-11-23",
    tools: list[dict[str, Any]] | None = None,
    verdicts: dict[str, list[str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid comparison; `verdicts` maps reviewer slug -> one verdict per tool."""
    tools = tools or [tool(f"{slug}-a"), tool(f"{slug}-b")]
    verdicts = verdicts or {
        "dx": ["ship", "wait"],
        "risk": ["ship", "ship"],
        "long": ["wait", "ship"],
        "buyer": ["skip", "skip"],
    }
    data: dict[str, Any] = {
        "slug": slug,
        "title": f"{tools[0]['name']} vs {tools[1]['name']}",
        "question": "Which one should you ship with?",
        "published": str(published),
        "verdict": f"The verdict on {slug}.",
        "tools": tools,
        "reviews": [
            {
                "reviewer": reviewer,
                "takes": {
                    t["slug"]: {"verdict": v, "take": f"{reviewer} on {t['slug']}: {v}."}
                    for t, v in zip(tools, row, strict=False)
                },
            }
            for reviewer, row in verdicts.items()
        ],
    }
    data.update(overrides)
    return data


def write_content(root: Path, comparisons: list[dict[str, Any]], reviewers: Any = None) -> Path:
    (root / "comparisons").mkdir(parents=True, exist_ok=True)
    (root / "reviewers.yaml").write_text(
        yaml.safe_dump(REVIEWERS if reviewers is None else reviewers, sort_keys=False)
    )
    for item in comparisons:
        write_comparison(root, item)
    return root


def write_comparison(root: Path, item: dict[str, Any], name: str | None = None) -> Path:
    path = root / "comparisons" / f"{name or item['slug']}.yaml"
    path.write_text(yaml.safe_dump(item, sort_keys=False, allow_unicode=True))
    return path


def problems_in(root: Path, text: str, name: str = "alpha-vs-beta") -> list[str]:
    """Every problem the content check reports once `text` is the comparison file `name`."""
    (root / "comparisons" / f"{name}.yaml").write_text(text)
    return [str(p) for p in check_content(root).problems]
