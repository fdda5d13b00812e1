"""Every check on one issue, as one recipient would get it: what the preview and
`newsletter issue check` run."""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.delivery import Recipient, placeholders
from newsletter.publishing.checks.findings import Finding
from newsletter.publishing.checks.message import (
    check_comparisons,
    check_footer,
    check_images,
    check_links,
    check_placeholders,
    check_size,
    check_subject,
)
from newsletter.publishing.checks.remote import check_links_answer
from newsletter.publishing.render import ComparisonView


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
    """Every check on one issue as `recipient` would get it; `links` adds the slow,
    networked one."""
    filled_html = placeholders.fill(html, recipient.substitutions)
    filled_text = placeholders.fill(text, recipient.substitutions)
    findings = [
        *check_subject(subject, preheader),
        *check_size(filled_html),
        *check_images(filled_html),
        *check_links(filled_html, site_url),
        *check_footer(filled_html, filled_text, recipient, postal_address),
        *check_placeholders(filled_html, filled_text),
        *check_comparisons(comparisons),
    ]
    if links:
        view = recipient.substitutions.get(placeholders.VIEW)
        findings += check_links_answer(filled_html, published_later=(view,) if view else ())
    return findings
