"""Why a send (or a test send) cannot start or go on, by kind.

Every message says what to do; callers decide by class, never by the words: the web app
and the CLI map the kind (`newsletter.core.errors`) to a status code or an exit status.
"""

from __future__ import annotations

from newsletter.core.errors import Conflict, InvalidInput, NewsletterError, Refused


class SendError(NewsletterError):
    """A send that cannot start or go on; raised as one of the kinds below."""


class SendRefused(SendError, Refused):
    """A rule says no: an editor held or cancelled the issue, the address asked never to
    be emailed again, the provider refused the message or the test send."""


class SendConflict(SendError, Conflict):
    """The issue's state forbids it now: it has no rendered snapshot yet, or its status
    is not one a send starts from."""


class SendInputError(SendError, InvalidInput):
    """The input is wrong: a setting out of range, a malformed address."""
