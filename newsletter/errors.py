"""The base of every error a user can cause and fix: the CLI and the web show its message as
one line; anything else is a bug."""

from __future__ import annotations


class NewsletterError(Exception):
    pass
