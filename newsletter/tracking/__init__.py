"""Provider events applied: each stored once, recipients' delivery states, `unknown` batches
settled, bounces and complaints turned into subscriber status changes, a send paused when its
bounces or complaints run high.

`ingest` is the one entry point (the webhook route calls it): everything a POST brings is
applied in one transaction, all of it or none of it.
"""

from __future__ import annotations

from newsletter.tracking.apply import Applied, apply_events, ingest

__all__ = ["Applied", "apply_events", "ingest"]
