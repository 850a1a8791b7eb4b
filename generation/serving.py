"""Stored media: served through views that have already checked permission, and opened as local
files by jobs.

Video players seek with HTTP Range requests, which Django's FileResponse doesn't answer, so
single byte ranges are handled here. On object storage (MEDIA_STORAGE=s3) the same ranges are
read from the bucket as they are sent, or, with MEDIA_SIGNED_URLS, the browser is redirected to a
short-lived signed URL; either way only after the calling view has checked permission.
"""

import mimetypes
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse


@contextmanager
def local_path(field) -> Iterator[str]:
    """A storage file as a local path for libraries that need one (PyAV, dlib): the file itself on
    the filesystem storage, else a temporary copy removed on exit (remote storage in production)."""
    try:
        path = field.path
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=Path(field.name).suffix) as tmp:
        with field.open("rb") as fh:
            shutil.copyfileobj(fh, tmp)
        tmp.flush()
        yield tmp.name


RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _remote_object(fh):
    """The S3 object behind an opened storage file (django-storages' S3File), else None: its ranges
    are fetched from the bucket as they are sent, instead of downloading the whole file first."""
    return getattr(getattr(fh, "file", None), "obj", None)


def _iter_remote(obj, start: int, end: int):
    body = obj.get(Range=f"bytes={start}-{end}")["Body"]
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def _signed_redirect(field, download_name: str | None) -> HttpResponse:
    """A short-lived signed URL of a private object (MEDIA_SIGNED_URLS), after the caller's check."""
    parameters = (
        {"ResponseContentDisposition": f'attachment; filename="{download_name}"'} if download_name else None
    )
    response = HttpResponseRedirect(field.storage.url(field.name, parameters=parameters))
    response["Cache-Control"] = "private, no-store"
    return response


def _iter_range(fh, start: int, length: int):
    fh.seek(start)
    remaining = length
    try:
        while remaining > 0:
            data = fh.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        fh.close()


def serve_file(
    request: HttpRequest, field, *, download_name: str | None = None, private: bool = True
) -> HttpResponse:
    content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    if settings.MEDIA_SIGNED_URLS and hasattr(field.storage, "bucket"):
        return _signed_redirect(field, download_name)
    size = field.size
    fh = field.open("rb")
    remote = _remote_object(fh)
    if remote is not None:
        fh.close()  # nothing was downloaded: the ranges below are read from the bucket itself
    cache = "private, max-age=300" if private else "public, max-age=3600"
    match = RANGE_RE.match(request.headers.get("Range", ""))
    if match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:
            start = max(0, size - int(last))
            end = size - 1
        if start > end or start >= size:
            fh.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        chunks = (
            _iter_remote(remote, start, end)
            if remote is not None
            else _iter_range(fh, start, end - start + 1)
        )
        response = StreamingHttpResponse(chunks, status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    elif remote is not None and size:
        response = StreamingHttpResponse(_iter_remote(remote, 0, size - 1), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        response = FileResponse(fh, content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response
