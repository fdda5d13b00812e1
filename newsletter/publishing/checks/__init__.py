"""Checks that catch what would hurt deliverability or readers, before an issue goes out.

Run by the preview and by `newsletter issue check`. Each finding is an error (the issue
should not be sent) or a warning (worth a look). `findings` holds the report types,
`html` reads an email's links and images once, `message` the offline checks, `remote`
the networked link check, and `suite` runs them all on one issue.
"""

from newsletter.publishing.checks.findings import Finding, Level
from newsletter.publishing.checks.message import (
    check_comparisons,
    check_footer,
    check_headers,
    check_images,
    check_links,
    check_placeholders,
    check_size,
    check_subject,
)
from newsletter.publishing.checks.remote import check_links_answer
from newsletter.publishing.checks.suite import run_checks

__all__ = [
    "Finding",
    "Level",
    "check_comparisons",
    "check_footer",
    "check_headers",
    "check_images",
    "check_links",
    "check_links_answer",
    "check_placeholders",
    "check_size",
    "check_subject",
    "run_checks",
]
