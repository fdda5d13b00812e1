"""What a link of an issue's email proves, whichever generation of email it came in.

An email sent now carries one recipient token (subscriber, issue) in every link: the
unsubscribe link is `/unsubscribe/<token>` and a vote link `/vote/<token>/<comparison>/<tool>`,
the choice in the path. An email sent before carries a token per link, the choice inside it;
those links still work, for as long as they ever did (they never expire).

The pages' logic (`sending.optout`, `sending.voting`) reads old-form tokens. So a new link
is turned into the old-form token of exactly what it asks for, signed here, after its own
token is verified: the vote page then checks, as it always has, that the comparison and tool
belong to the token's issue, and the sample subscriber (id 0) stays the sample. The old
forms are the one place those checks live, and a new link can do nothing an old one could
not.
"""

from __future__ import annotations

import re
from typing import Final

from newsletter.links.tokens import Purpose, Signer, TokenError

_ID: Final = re.compile(r"[1-9][0-9]{0,17}")
"""A database id in a link's path, in its one spelling (no sign, no leading zero)."""


def _id(text: str) -> int:
    if not _ID.fullmatch(text):
        raise TokenError("malformed link")
    return int(text)


def unsubscribe_token_for(signer: Signer, token: str) -> str:
    """The old-form unsubscribe token `token` stands for on the unsubscribe and resubscribe
    pages: a recipient token becomes its subscriber's and issue's; an old-form one is
    itself. TokenError for anything else (a vote or confirm token, a forged one)."""
    try:
        subscriber_id, issue_id = signer.verify(Purpose.RECIPIENT, token)
    except TokenError:
        signer.verify(Purpose.UNSUBSCRIBE, token)  # an email's link from before: as it was
        return token
    return signer.unsubscribe_token(subscriber_id, issue_id)


def vote_token_for(signer: Signer, token: str, comparison: str, tool: str) -> str:
    """The old-form vote token of a new vote link: the recipient token's subscriber and
    issue, the path's comparison and tool. TokenError for a bad token or path; whether the
    comparison and tool belong to the issue is the vote page's own check."""
    subscriber_id, issue_id = signer.verify(Purpose.RECIPIENT, token)
    return signer.vote_token(subscriber_id, issue_id, _id(comparison), _id(tool))
