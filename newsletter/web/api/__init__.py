"""The operators' HTTP API under /api/, one module per resource. Every route needs
`Authorization: Bearer <NEWSLETTER_ADMIN_TOKEN>` (`deps.require_admin`)."""

from __future__ import annotations

from fastapi import APIRouter

from newsletter.web.api import reports, stats, subscribers
from newsletter.web.deps import AdminDep

router = APIRouter(prefix="/api", tags=["admin"], dependencies=[AdminDep])
router.include_router(subscribers.router)
router.include_router(stats.router)
router.include_router(reports.router)
