import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q

from cameos.ledger import consent_ids_for_generation
from cameos.models import Withdrawal
from generation.models import Generation
from generation.serving import local_path
from provenance import signing
from provenance.c2pa_manifest import ManifestInfo
from provenance.export import export_rendition
from provenance.index import index_export, indexed_lookup
from provenance.models import Export
from provenance.verify import verify_file
from sora_site import metrics


class ExportFailed(Exception):
    """The rendition couldn't be made; `str(exc)` is for the person. The draft is untouched."""


def consent_entry_ids(generation: Generation) -> list[str]:
    """Ledger entries of the cameos in this video, for the manifest (empty without cameos).

    A broken ledger import must fail the export, not sign a manifest that silently omits consent."""
    return [str(i) for i in consent_ids_for_generation(generation)]


def exported_file(generation: Generation):
    """The export rendition's stored file (a FieldFile), or None when there is no export."""
    export = Export.objects.filter(generation=generation).first()
    return export.file if export is not None else None


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
    try:
        export = make_export(generation, source, public_url)
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


def make_export(generation: Generation, source, public_url: str) -> Export:
    """Render, sign, store and index the export of `source` (see ensure_export)."""
    tracking_id = secrets.randbits(63)
    info = ManifestInfo(
        title=manifest_title(generation),
        model=Path(generation.model_id).name or generation.model_id,
        public_url=public_url or None,
        consent_ids=tuple(consent_entry_ids(generation)),
        created=generation.finished,
        voice=generation.voice,
    )
    signer = signing.signer_config()
    with tempfile.TemporaryDirectory() as tmp, local_path(source) as source_path:
        result = export_rendition(
            source_path,
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
    metrics.count("sora_exports_total")
    return export


@dataclass(frozen=True)
class PublicPost:
    url: str
    author: str  # handle


# What provenance learns from feed (above it in the layers), registered in FeedConfig.ready():
# the caption of a generation's post (the manifest's title, None without a post) and the post a
# viewer may open (the verify report's link, None when there is none they may see).
POST_CAPTIONS: list[Callable[[Generation], str | None]] = []
VISIBLE_POSTS: list[Callable[[Generation, object], PublicPost | None]] = []


def register_posts(
    caption: Callable[[Generation], str | None], visible: Callable[[Generation, object], PublicPost | None]
) -> None:
    if caption not in POST_CAPTIONS:
        POST_CAPTIONS.append(caption)
    if visible not in VISIBLE_POSTS:
        VISIBLE_POSTS.append(visible)


def manifest_title(generation: Generation) -> str:
    """The manifest's title: the post's caption, else a neutral one. Never the prompt: anyone who
    holds the file can read its manifest, and a prompt is its author's unless they show it."""
    caption = next(filter(None, (source(generation) for source in POST_CAPTIONS)), None)
    return (caption or f"A video by @{generation.owner.handle} on {settings.SITE_NAME}")[:120]


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
    metrics.count("sora_verify_lookups_total", identified=identified["method"] if identified else "none")
    if identified and identified["method"] == "tracking":
        export = (
            Export.objects.filter(tracking_id=int(identified["key"])).select_related("generation").first()
        )
    elif identified and identified["method"] == "fingerprint":
        export = Export.objects.filter(pk=int(identified["key"])).select_related("generation").first()
    report["site"] = describe_source(export, viewer)
    # The mark read from the pixels, else the id the signed manifest binds: either finds a
    # withdrawal whose export (and draft) are already gone.
    marked = report["tracking"]["tracking_id"] or (report["c2pa"].get("soft_binding") or {}).get(
        "tracking_id"
    )
    note_withdrawal(report["site"], export, int(marked) if marked is not None else None)
    return report


def note_withdrawal(site: dict, export: Export | None, tracking_id: int | None) -> None:
    """A copy downloaded before consent for a likeness in it ended can't be recalled: the report
    says it was withdrawn, when (the date of the consent ledger's entry) and by whom."""
    condition = Q(tracking_id=tracking_id) if tracking_id is not None else Q(pk__in=[])
    if export is not None:
        condition |= Q(generation_code=export.generation.code)
    withdrawal = Withdrawal.objects.filter(condition).order_by("created").first()
    if withdrawal is None:
        return
    when = withdrawal.created.date().isoformat()
    site.update(
        made_here=True,
        withdrawn={"on": when, "by": f"@{withdrawal.owner_handle}", "reason": withdrawal.reason},
        text=(
            f"Made on this site. Consent for a likeness in this video was withdrawn on {when} "
            f"(@{withdrawal.owner_handle}: {withdrawal.reason}); the site no longer shows it."
        ),
    )
    site.pop("url", None)


def describe_source(export: Export | None, viewer) -> dict:
    if export is None:
        return {"made_here": False, "text": "We found no sign that this video was made on this site."}
    post = None
    if viewer is not None:
        post = next(filter(None, (visible(export.generation, viewer) for visible in VISIBLE_POSTS)), None)
    if post is not None:
        return {
            "made_here": True,
            "public": True,
            "url": post.url,
            "author": post.author,
            "text": f"Made on this site: a post by @{post.author}.",
        }
    return {"made_here": True, "public": False, "text": "Made on this site, but not public."}
