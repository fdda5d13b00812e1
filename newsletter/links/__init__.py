"""The per-recipient link scheme: public URLs, signed tokens and the personaliser."""
