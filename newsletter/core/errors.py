"""The one error root, and its few kinds.

Every error a user can cause and fix derives from `NewsletterError` and, where it has one,
from exactly one kind below. Callers decide by kind, never by message text: the web app
maps kinds to HTTP status codes in one exception handler, the CLI to one line on stderr and
an exit status. Anything that is not a `NewsletterError` is a bug.
"""

from __future__ import annotations


class NewsletterError(Exception):
    """Something a user can fix; its message is one line naming the place and the reason."""


class NotFound(NewsletterError):
    """What was asked for does not exist (an issue number, a subscriber, a slug)."""


class Conflict(NewsletterError):
    """The request is sound but the current state forbids it (an issue already sending, an
    address already on the list)."""


class InvalidInput(NewsletterError):
    """The input itself is wrong (a malformed week, address, file or setting)."""


class Refused(NewsletterError):
    """A rule says no whatever the state: a forged or expired link, an address that asked
    never to be emailed again, a send an editor held."""
