"""Checks that catch what would hurt deliverability or readers, before an issue goes out.

Run by the preview and by `newsletter issue check`. Each finding is an error (the issue
should not be sent) or a warning (worth a look). Sizes use KiB: Gmail clips the HTML of a
message past about 102 KB, and the footer with the unsubscribe link is what disappears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from html.parser import HTMLParser

import httpx

from newsletter.delivery import Recipient, placeholders
from newsletter.publishing.render import ComparisonView

SIZE_ERROR = 100 * 1024
SIZE_WARNING = 80 * 1024
SUBJECT_MAX = 80


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.check}: {self.message}"


@dataclass(frozen=True)
class Link:
    href: str
    text: str
    line: int


@dataclass(frozen=True)
class Image:
    src: str
    alt: str | None
    line: int


class _Collector(HTMLParser):
    """Anchors with their visible text (an image's alt counts) and images with their alt."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self.images: list[Image] = []
        self._open: list[tuple[str, int, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        line = self.getpos()[0]
        if tag == "a" and values.get("href") is not None:
            self._open.append((values["href"] or "", line, []))
        elif tag == "img":
            self.images.append(Image(values.get("src") or "", values.get("alt"), line))
            if self._open and values.get("alt"):
                self._open[-1][2].append(values["alt"] or "")

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, line, text = self._open.pop()
            self.links.append(Link(href, " ".join("".join(text).split()), line))


@lru_cache(maxsize=4)
def collect(html: str) -> _Collector:
    """Parsed once per HTML: several checks read the same links and images."""
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


def check_size(html: str) -> list[Finding]:
    size = len(html.encode())
    if size > SIZE_ERROR:
        return [
            Finding(
                Level.ERROR,
                "size",
                f"HTML is {size / 1024:.1f} KiB; Gmail clips past ~102 KB and hides the "
                f"footer (keep it under {SIZE_ERROR // 1024} KiB)",
            )
        ]
    if size > SIZE_WARNING:
        return [
            Finding(
                Level.WARNING,
                "size",
                f"HTML is {size / 1024:.1f} KiB, close to Gmail's ~102 KB clipping line",
            )
        ]
    return []


def check_images(html: str) -> list[Finding]:
    return [
        Finding(Level.ERROR, "images", f"line {image.line}: image {image.src!r} has no alt text")
        for image in collect(html).images
        if not (image.alt or "").strip()
    ]


def check_links(html: str, site_url: str) -> list[Finding]:
    findings = []
    for link in collect(html).links:
        href = link.href.strip()
        where = f"line {link.line}: link {href[:80]!r}"
        if href.lower().startswith("javascript:"):
            findings.append(Finding(Level.ERROR, "links", f"{where} is a javascript: link"))
            continue
        allowed = ("https://", "mailto:", site_url + "/")
        if not href.startswith(allowed) and href != site_url:
            findings.append(
                Finding(Level.ERROR, "links", f"{where} is not absolute https or the site URL")
            )
        if not link.text:
            findings.append(Finding(Level.ERROR, "links", f"{where} has no visible text"))
    return findings


def check_subject(subject: str, preheader: str) -> list[Finding]:
    findings = []
    if not subject.strip():
        findings.append(Finding(Level.ERROR, "subject", "the subject line is empty"))
    if "\n" in subject or "\r" in subject:
        findings.append(Finding(Level.ERROR, "subject", "the subject line contains a line break"))
    if len(subject) > SUBJECT_MAX:
        findings.append(
            Finding(
                Level.ERROR,
                "subject",
                f"the subject line is {len(subject)} characters (at most {SUBJECT_MAX})",
            )
        )
    if not preheader.strip():
        findings.append(Finding(Level.ERROR, "preheader", "the preheader is empty"))
    return findings


def check_footer(html: str, text: str, recipient: Recipient, postal_address: str) -> list[Finding]:
    """`html` and `text` are as this recipient gets them (placeholders filled)."""
    findings = []
    unsubscribe = recipient.substitutions.get(placeholders.UNSUBSCRIBE, "")
    if not unsubscribe or not any(link.href == unsubscribe for link in collect(html).links):
        findings.append(Finding(Level.ERROR, "footer", "the HTML has no unsubscribe link"))
    if not unsubscribe or unsubscribe not in text:
        findings.append(Finding(Level.ERROR, "footer", "the text part has no unsubscribe link"))
    if not postal_address.strip():
        findings.append(
            Finding(Level.ERROR, "footer", "no postal address is set (NEWSLETTER_POSTAL_ADDRESS)")
        )
    elif postal_address not in html or postal_address not in text:
        findings.append(
            Finding(Level.ERROR, "footer", "the postal address is missing from the footer")
        )
    headers = recipient.headers
    if not headers.get("List-Unsubscribe", "").startswith("<"):
        findings.append(Finding(Level.ERROR, "headers", "no List-Unsubscribe header"))
    if headers.get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click":
        findings.append(
            Finding(Level.ERROR, "headers", "no List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        )
    return findings


def check_comparisons(comparisons: Sequence[ComparisonView]) -> list[Finding]:
    findings = []
    if not comparisons:
        findings.append(Finding(Level.ERROR, "comparisons", "the issue holds no comparison"))
    for c in comparisons:
        where = f"comparison '{c.slug}'"
        if not c.verdict.strip():
            findings.append(Finding(Level.ERROR, "comparisons", f"{where} has no verdict"))
        for tool in c.tools:
            if not tool.pricing_entry:
                findings.append(
                    Finding(Level.ERROR, "comparisons", f"{where}: {tool.name} has no pricing")
                )
            if not tool.takes:
                findings.append(
                    Finding(Level.ERROR, "comparisons", f"{where}: {tool.name} has no take")
                )
    return findings


def check_links_answer(html: str, timeout: float = 5.0) -> list[Finding]:
    """Optional (`--links`): every distinct http(s) link answers below 400."""
    findings = []
    seen: set[str] = set()
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for link in collect(html).links:
            if not link.href.startswith(("http://", "https://")) or link.href in seen:
                continue
            seen.add(link.href)
            try:
                answer = client.head(link.href)
                if answer.status_code in {405, 501}:
                    answer = client.get(link.href)
            except httpx.HTTPError as exc:
                findings.append(
                    Finding(Level.ERROR, "links", f"{link.href} did not answer ({exc})")
                )
                continue
            if answer.status_code >= 400:
                findings.append(
                    Finding(Level.ERROR, "links", f"{link.href} answered {answer.status_code}")
                )
    return findings


def run_checks(
    *,
    subject: str,
    preheader: str,
    html: str,
    text: str,
    recipient: Recipient,
    comparisons: Sequence[ComparisonView],
    site_url: str,
    postal_address: str,
    links: bool = False,
) -> list[Finding]:
    """Every check on one issue as `recipient` would get it."""
    filled_html = placeholders.fill(html, recipient.substitutions)
    filled_text = placeholders.fill(text, recipient.substitutions)
    findings = [
        *check_subject(subject, preheader),
        *check_size(filled_html),
        *check_images(filled_html),
        *check_links(filled_html, site_url),
        *check_footer(filled_html, filled_text, recipient, postal_address),
        *check_comparisons(comparisons),
    ]
    if links:
        findings += check_links_answer(filled_html)
    return findings
