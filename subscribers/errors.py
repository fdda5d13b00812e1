"""Errors a caller can show as they are: one line that names the place and the reason."""

from __future__ import annotations


class SubscriberError(Exception):
    pass
