"""The admin API's OpenAPI description."""

from __future__ import annotations

import httpx


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
