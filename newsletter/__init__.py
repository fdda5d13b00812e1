"""Weekly AI Tool Verdicts: the publishing core (content, rendering, delivery)."""
