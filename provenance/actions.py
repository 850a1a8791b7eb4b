import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from generation.models import Generation
from provenance import signing
from provenance.c2pa_manifest import ManifestInfo
from provenance.export import export_rendition
from provenance.index import index_export, indexed_lookup
from provenance.models import Export
from provenance.verify import verify_file


class ExportFailed(Exception):
    """The rendition couldn't be made; `str(exc)` is for the person. The draft is untouched."""


def consent_entry_ids(generation: Generation) -> list[str]:
    """Ledger entries of the cameos in this video, for the manifest (empty without cameos)."""
    try:
        from cameos.ledger import consent_ids_for_generation
    except ImportError:
        return []
    return [str(i) for i in consent_ids_for_generation(generation)]


def ensure_export(generation: Generation, *, public_url: str = "", source=None) -> Export:
    """The generation's export rendition, made now if it doesn't exist yet.

    `source` is the file to export when it isn't the draft's own video (an API extension exports
    its stitched whole). Only videos cleared by the output check are ever exported.

    Costs one decode + encode + sign of the video (about a third of real time for 720p on two
    cores). Raises ExportFailed, leaving the draft and any earlier export as they were.
    """
    existing = Export.objects.filter(generation=generation).first()
    if existing is not None and existing.file:
        return existing
    source = source or generation.video
    if not source:
        raise ExportFailed("This video has no file to export.")
    if not generation.is_shareable:
        raise ExportFailed("This video can't leave the site: it hasn't passed the content check.")
    tracking_id = secrets.randbits(63)
    info = ManifestInfo(
        title=(generation.prompt or "Video")[:120],
        model=Path(generation.model_id).name or generation.model_id,
        public_url=public_url or None,
        consent_ids=tuple(consent_entry_ids(generation)),
        created=generation.finished,
        voice=generation.voice,
    )
    try:
        signer = signing.signer_config()
        with tempfile.TemporaryDirectory() as tmp:
            result = export_rendition(
                source.path,
                Path(tmp) / "export.mp4",
                handle=generation.owner.handle,
                site_name=settings.SITE_NAME,
                tracking_id=tracking_id,
                manifest=info,
                signer=signer,
                tracking_key=signing.tracking_key(),
            )
            with transaction.atomic():
                export = Export(
                    generation=generation,
                    tracking_id=tracking_id,
                    fingerprint=result.fingerprint.to_bytes(),
                    manifest_label=result.manifest_label or "",
                    public_url=public_url,
                    size=result.size,
                    duration=result.duration,
                )
                with open(result.path, "rb") as fh:
                    export.file.save("video.mp4", File(fh), save=False)
                export.save()
                index_export(export, result.fingerprint)
    except signing.SigningNotConfigured as exc:
        raise ExportFailed("Sharing is unavailable: the site has no signing certificate yet.") from exc
    except IntegrityError:
        # Made concurrently by another request: use theirs.
        return Export.objects.get(generation=generation)
    except OSError as exc:
        raise ExportFailed(
            "We couldn't save the shareable copy of this video (storage problem). Try again later."
        ) from exc
    return export


def fingerprint_lookup():
    """Fingerprint lookup through the index of export frame hashes (provenance.index)."""
    return indexed_lookup()


def verify_video(path: str, *, viewer=None) -> dict:
    """The verify report for an uploaded file, with what it points to on this site.

    A tracking id or fingerprint match names a post only when that post is visible to `viewer`
    (anonymous on the public page); otherwise the report says "made on this site, not public".
    """
    report = verify_file(
        path,
        trust_anchors_pem=signing.trust_anchors(),
        fingerprint_lookup=fingerprint_lookup(),
        tracking_key=signing.tracking_key(),
        max_bytes=settings.VERIFY_MAX_BYTES,
        max_seconds=settings.VERIFY_MAX_SECONDS,
        tracking_ids=lambda pks: dict(Export.objects.filter(pk__in=pks).values_list("pk", "tracking_id")),
    )
    export = None
    identified = report.get("identified")
    if identified and identified["method"] == "tracking":
        export = (
            Export.objects.filter(tracking_id=int(identified["key"])).select_related("generation").first()
        )
    elif identified and identified["method"] == "fingerprint":
        export = Export.objects.filter(pk=int(identified["key"])).select_related("generation").first()
    report["site"] = describe_source(export, viewer)
    return report


def describe_source(export: Export | None, viewer) -> dict:
    if export is None:
        return {"made_here": False, "text": "We found no sign that this video was made on this site."}
    from feed.models import Post

    post = (
        Post.objects.visible_to(viewer).filter(generation=export.generation).first()
        if viewer is not None
        else None
    )
    if post is not None:
        return {
            "made_here": True,
            "public": True,
            "url": post.get_absolute_url(),
            "author": post.author.handle,
            "text": f"Made on this site: a post by @{post.author.handle}.",
        }
    return {"made_here": True, "public": False, "text": "Made on this site, but not public."}
