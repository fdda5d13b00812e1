"""The admin API's OpenAPI description."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, text

from tests.newsletter.web.helpers import ADMIN, subscriber_of


def test_openapi_schema_describes_the_admin_api(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/api/subscribers",
        "/api/subscribers/{subscriber_id}",
        "/api/subscribers/import",
        "/api/stats",
    } <= set(paths)
    assert set(paths["/api/subscribers/{subscriber_id}"]) == {"get", "patch", "delete"}
    listing = paths["/api/subscribers"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert listing["$ref"].endswith("/SubscriberPage")
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_names_are_cleaned_where_they_come_in_and_where_they_go_out(
    http: httpx.Client, engine: Engine
) -> None:
    """The column's 200 characters apply to the clean name; a name stored by older code
    goes out clean too; an uploaded CSV with its BOM and ';' imports."""
    padded = "\x1b[31m" * 60 + "Ada\r\nLovelace" + " " * 50
    created = http.post(
        "/api/subscribers", headers=ADMIN, json={"email": "ada@example.com", "name": padded}
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Ada Lovelace"
    stored = subscriber_of(engine, "ada@example.com")
    assert stored is not None
    assert stored.name == "Ada Lovelace"
    too_long = http.post(
        "/api/subscribers", headers=ADMIN, json={"email": "n@example.com", "name": "N" * 201}
    )
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == "name is too long (201 characters, at most 200)"

    with engine.begin() as conn:  # as older code stored it
        conn.execute(
            text("UPDATE subscriber SET name = :n WHERE email = 'ada@example.com'"),
            {"n": "\x1b]0;owned\x07Ada\u202e"},
        )
    listed = http.get("/api/subscribers", headers=ADMIN).json()["items"]
    assert [s["name"] for s in listed] == ["Ada"]

    upload = http.post(
        "/api/subscribers/import",
        headers=ADMIN,
        files={
            "file": ("x.csv", "\ufeffEmail;Name\r\n'b@example.com;Bob\r\n".encode(), "text/csv")
        },
    )
    assert upload.status_code == 200, upload.text
    assert (upload.json()["imported"], upload.json()["bad_rows"]) == (1, [])
    assert subscriber_of(engine, "'b@example.com") is not None
