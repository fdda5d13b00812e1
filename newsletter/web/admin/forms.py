"""Fields the desk's forms share. A state change is confirmed twice: the browser asks
(a required checkbox, `admin/macros.html`), and the route checks that the box was ticked,
so a forged or scripted post without it changes nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form

from newsletter.core.errors import InvalidInput

Confirm = Annotated[str, Form(max_length=3)]
"""The confirmation checkbox: 'yes' when ticked (default: ''), see `confirmed`."""

Reason = Annotated[str, Form(max_length=500)]


def confirmed(value: str) -> None:
    if value != "yes":
        raise InvalidInput("confirm: tick the box to confirm; nothing was changed")
