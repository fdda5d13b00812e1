"""The offline checks of one issue email: size, images, links, subject, footer, leftover
placeholders, the comparisons.

Each takes the parts it needs as plain values, so it can be tried on crafted input; the
HTML and text are as one recipient gets them (placeholders filled). Sizes use KiB, kept
under Gmail's clipping line with room to spare.
"""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.delivery import Recipient, placeholders
from newsletter.delivery.headers import LIST_UNSUBSCRIBE, LIST_UNSUBSCRIBE_POST, ONE_CLICK
from newsletter.links.urls import SiteUrls
from newsletter.publishing.checks.findings import Finding, Level
from newsletter.publishing.checks.html import collect
from newsletter.publishing.inbox import GMAIL_CLIP_KB, SUBJECT_MAX
from newsletter.publishing.render import ComparisonView

SIZE_ERROR = 100 * 1024
SIZE_WARNING = 80 * 1024


def check_size(html: str) -> list[Finding]:
    size = len(html.encode())
    if size > SIZE_ERROR:
        return [
            Finding(
                Level.ERROR,
                "size",
                f"HTML is {size / 1024:.1f} KiB; Gmail clips past ~{GMAIL_CLIP_KB} KB and hides "
                f"the footer (keep it under {SIZE_ERROR // 1024} KiB)",
            )
        ]
    if size > SIZE_WARNING:
        return [
            Finding(
                Level.WARNING,
                "size",
                f"HTML is {size / 1024:.1f} KiB, close to Gmail's ~{GMAIL_CLIP_KB} KB "
                "clipping line",
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
    """Every link is absolute https, a mailto:, or on the site (which may be plain http in
    development); never javascript:, never without visible text."""
    site = SiteUrls(site_url)
    allowed = ("https://", "mailto:", site.home())
    findings = []
    for link in collect(html).links:
        href = link.href.strip()
        where = f"line {link.line}: link {href[:80]!r}"
        if href.lower().startswith("javascript:"):
            findings.append(Finding(Level.ERROR, "links", f"{where} is a javascript: link"))
            continue
        if not href.startswith(allowed) and href != site.base:
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
    return findings + check_headers(recipient.headers)


def check_headers(headers: dict[str, str]) -> list[Finding]:
    """RFC 8058 one-click unsubscribe, which Gmail and Yahoo require of bulk senders."""
    findings = []
    if not headers.get(LIST_UNSUBSCRIBE, "").startswith("<"):
        findings.append(Finding(Level.ERROR, "headers", f"no {LIST_UNSUBSCRIBE} header"))
    if headers.get(LIST_UNSUBSCRIBE_POST) != ONE_CLICK:
        findings.append(Finding(Level.ERROR, "headers", f"no {LIST_UNSUBSCRIBE_POST}: {ONE_CLICK}"))
    return findings


def check_placeholders(html: str, text: str) -> list[Finding]:
    """Nothing marker-shaped is left once a recipient's links are filled in: a template
    that names a marker delivery does not know would show it to every reader."""
    findings = []
    for part, body in (("HTML", html), ("text part", text)):
        left = placeholders.unfilled(body)
        if left:
            findings.append(
                Finding(
                    Level.ERROR,
                    "placeholders",
                    f"the {part} still holds {', '.join(left)} after filling "
                    "(delivery fills no such marker)",
                )
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
