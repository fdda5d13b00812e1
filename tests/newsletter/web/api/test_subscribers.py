"""The admin API's subscriber resource."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.newsletter.web.helpers import (
    ADMIN,
    subscriber_of,
)


def test_admin_api_manages_the_list(http: httpx.Client, engine: Engine) -> None:
    created = http.post(
        "/api/subscribers",
        headers=ADMIN,
        json={"email": "Ops@Example.com", "name": "Ops", "confirmed": True},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["email"] == "ops@example.com"
    assert created.json()["status"] == "active"
    duplicate = http.post("/api/subscribers", headers=ADMIN, json={"email": "ops@example.com"})
    assert duplicate.status_code == 422
    for i in range(3):
        http.post("/api/subscribers", headers=ADMIN, json={"email": f"p{i}@example.org"})
    page = http.get("/api/subscribers", headers=ADMIN, params={"status": "pending", "limit": 2})
    assert page.status_code == 200
    assert page.json()["total"] == 3
    assert [s["email"] for s in page.json()["items"]] == ["p0@example.org", "p1@example.org"]
    rest = http.get(
        "/api/subscribers",
        headers=ADMIN,
        params={"status": "pending", "limit": 2, "after_id": page.json()["next_after_id"]},
    )
    assert [s["email"] for s in rest.json()["items"]] == ["p2@example.org"]
    assert rest.json()["next_after_id"] is None
    found = http.get("/api/subscribers", headers=ADMIN, params={"search": "OPS"})
    assert [s["id"] for s in found.json()["items"]] == [sid]

    updated = http.patch(
        f"/api/subscribers/{sid}",
        headers=ADMIN,
        json={"status": "unsubscribed", "reason": "asked by phone"},
    )
    assert updated.status_code == 200
    assert updated.json()["status"] == "unsubscribed"
    assert (
        http.get(f"/api/subscribers/{sid}", headers=ADMIN).json()["status_reason"]
        == "asked by phone"
    )

    upload = http.post(
        "/api/subscribers/import",
        headers=ADMIN,
        files={
            "file": (
                "list.csv",
                b"email,name\nnew@example.net,New\nbroken,Bad\nnew@example.net,Again\n",
                "text/csv",
            )
        },
    )
    assert upload.status_code == 200, upload.text
    report = upload.json()
    assert report["imported"] == 1
    assert [(b["line"], b["email"]) for b in report["bad_rows"]] == [
        (3, "broken"),
        (4, "new@example.net"),
    ]

    assert http.delete(f"/api/subscribers/{sid}", headers=ADMIN).status_code == 204
    assert http.get(f"/api/subscribers/{sid}", headers=ADMIN).status_code == 404
    assert subscriber_of(engine, "ops@example.com") is None
    readd = http.post("/api/subscribers", headers=ADMIN, json={"email": "ops@example.com"})
    assert readd.status_code == 422
    assert "forgotten" in readd.json()["detail"]

    stats = http.get("/api/stats", headers=ADMIN).json()
    assert stats["by_status"]["pending"] == 4
    assert stats["total"] == 4
