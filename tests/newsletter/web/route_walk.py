"""Walking the app's own routes for the parameters of one kind, so a route added later is
covered by the tests that send hostile values to every parameter (numbers, text)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

Fields = Callable[[Dependant], Iterator[tuple[str, Any]]]


def route_parameters(
    app: FastAPI, fields: Fields, kind: Callable[[Any], bool], bodies: set[tuple[str, str]]
) -> Iterator[tuple[str, str, str, str]]:
    """(method, path, where, name) of every parameter `fields` finds whose annotation is of
    `kind`, route by route and method by method. A route that takes a body must have a
    valid one in `bodies` (its (method, path)), so the parameter is what the route sees."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        for method in sorted(route.methods or ()):
            for where, field in fields(route.dependant):
                if kind(field.field_info.annotation):
                    known = (method, context.path)
                    if route.body_field is not None:
                        assert known in bodies, f"add a body for {known}"
                    yield method, context.path, where, field.alias
