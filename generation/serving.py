"""Stored media: served through views that have already checked permission, and opened as local
files by jobs.

Video players seek with HTTP Range requests, which Django's FileResponse doesn't answer, so
single byte ranges are handled here.
"""

import mimetypes
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse


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
    size = field.size
    fh = field.open("rb")
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
        response = StreamingHttpResponse(
            _iter_range(fh, start, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(fh, content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response
