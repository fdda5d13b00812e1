"""Errors a caller can show as they are: one line that names the place and the reason.

Each is a `NewsletterError` of one kind, so the web app and the CLI present them like every
other error of the service.
"""

from __future__ import annotations

from newsletter.core.errors import Conflict, InvalidInput, NewsletterError, NotFound, Refused


class SubscriberError(NewsletterError):
    """Any error about the list."""


class SubscriberNotFound(SubscriberError, NotFound):
    pass


class AlreadyOnList(SubscriberError, Conflict):
    pass


class InvalidSubscriberInput(SubscriberError, InvalidInput):
    pass


class SubscriberRefused(SubscriberError, Refused):
    pass
