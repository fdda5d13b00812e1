"""Importing a CSV by upload (admins): the form, the upload, and the progress page that
ends with the importer's report.

The upload is refused past `UPLOAD_MAX` (a clear 413 page: the command line takes files of
any size), and a file that is not UTF-8 is refused before anything is imported, naming the
line, as `newsletter subscribers import` does. An accepted file is imported in a background
thread (`import_jobs`), and the browser is sent to the job's page, which reloads itself
each second (a `<meta http-equiv="refresh">`: no script) until the report is there.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from newsletter.accounts.audit import Audited, record
from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed
from newsletter.core.text import is_unsafe
from newsletter.web.admin.auth import actor, may
from newsletter.web.admin.forms import Confirm, confirmed
from newsletter.web.admin.import_jobs import ImportJobs
from newsletter.web.admin.presenter import DeskPages, DeskPagesDep
from newsletter.web.deps import WriteSessionDep
from newsletter.web.params import NoControls
from subscribers.importer import ImportFailed, check_utf8

router = APIRouter(default_response_class=HTMLResponse)

IMPORT: Final = "/admin/subscribers/import"
UPLOAD_MAX: Final = 50 * 1024 * 1024
"""50 MB (of 1,048,576 bytes, as every size on the desk): about a million rows of address
and name; larger files go through the command line. `body_limit` refuses a larger post by
its Content-Length before it is read; the check here is the file's own size."""


def in_mb(size: int) -> str:
    """A size as the desk's pages say it: MB of 1,048,576 bytes (one decimal below 10);
    below one MB, KB of 1,024 bytes."""
    if size < 1024 * 1024:
        return f"{size / 1024:,.0f} KB"
    mb = size / (1024 * 1024)
    return f"{mb:,.1f} MB" if mb < 10 else f"{mb:,.0f} MB"


Importer = Annotated[Signed, Depends(may(Action.SUBSCRIBER_IMPORT))]


def import_jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.imports
    return jobs


JobsDep = Annotated[ImportJobs, Depends(import_jobs)]


def file_label(filename: str | None) -> str:
    """The uploaded file's name as reports show it: its last part, printable, bounded."""
    name = Path((filename or "").replace("\\", "/")).name
    shown = "".join(char for char in name if not is_unsafe(char)).strip()[:100]
    return shown or "upload.csv"


def _form(pages: DeskPages, error: str = "", status_code: int = 200) -> HTMLResponse:
    return pages.render(
        "subscribers_import.html", error=error, limit=in_mb(UPLOAD_MAX), status_code=status_code
    )


@router.get(IMPORT)
def import_form(who: Importer, pages: DeskPagesDep) -> HTMLResponse:
    return _form(pages)


@router.post(IMPORT)
def upload(
    session: WriteSessionDep,
    pages: DeskPagesDep,
    jobs: JobsDep,
    who: Importer,
    file: Annotated[UploadFile, File()],
    active: Annotated[str, Form(max_length=3), NoControls] = "",
    confirm: Confirm = "",
) -> Response:
    confirmed(confirm)
    label = file_label(file.filename)
    size = file.size if file.size is not None else 0
    if size > UPLOAD_MAX:
        body = (
            f"{label} is {in_mb(size)}; the desk takes files up to {in_mb(UPLOAD_MAX)}. "
            "Split it, or run `newsletter subscribers import` on the server. "
            "Nothing was imported."
        )
        return _form(pages, body, status_code=413)
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    path = Path(out.name)
    try:
        check_utf8(path, label)
    except ImportFailed as failed:
        path.unlink(missing_ok=True)
        return _form(pages, f"{failed} Nothing was imported.", status_code=422)
    as_active = active == "yes"
    detail = f"upload accepted: {path.stat().st_size:,} bytes, new addresses " + (
        "active (confirmed elsewhere)" if as_active else "pending"
    )
    record(session, actor(who), Audited.SUBSCRIBER_IMPORT, label, detail)
    job = jobs.start(path, label, confirmed=as_active, actor=actor(who))
    return RedirectResponse(f"{IMPORT}/{job.id}", status_code=303)


@router.get(IMPORT + "/{job}")
def progress(
    who: Importer,
    pages: DeskPagesDep,
    jobs: JobsDep,
    job: Annotated[str, NoControls],
) -> HTMLResponse:
    return pages.render("subscribers_import_job.html", job=jobs.get(job))
