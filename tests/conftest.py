"""Project-wide fixtures and the one set of factories: every model the tests make is made here
(fixtures where a test asks for one, plain functions where a helper module builds worlds), no
JSON fixture files."""

import functools
import io
import itertools
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.actions import issue_invites
from accounts.models import Block, User
from cameos.actions.consent import record_cameo_uses
from cameos.actions.media import save_media
from cameos.ledger import append_entry
from cameos.models import Approval, Cameo, CameoMedia, Challenge, LedgerEntry
from feed import actions as feed_actions
from feed.management.commands.seed_demo import make_demo_clip
from feed.models import Follow, Post
from generation import media
from generation.models import Generation

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _on_commit_as_in_production(monkeypatch):
    """pytest-django wraps a non-transactional test in atomic blocks that never commit, so an
    `on_commit` callback registered outside the code's own transaction (a job's event, a file
    deletion) would never run, where production (autocommit) runs it at once. Run it at once when
    the only open atomic blocks are the test's own; inside the code's transactions it still waits
    (django_capture_on_commit_callbacks runs those)."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    original = BaseDatabaseWrapper.on_commit

    def on_commit(self, func, robust=False):
        if self.in_atomic_block and all(getattr(a, "_from_testcase", False) for a in self.atomic_blocks):
            return func()
        return original(self, func, robust)

    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", on_commit)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached rules live in the cache, and users reuse primary keys from
    test to test: every test starts and ends with an empty cache."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def make_user(db):
    """Factory: make_user(handle=None, birth_date=None, **fields) -> User with password 'pw-secret-123'."""

    def make(handle: str | None = None, *, birth_date: date | None = date(1990, 1, 1), **fields) -> User:
        n = next(_counter)
        handle = handle or f"user{n}"
        fields.setdefault("email", f"{handle.lower()}@example.com")
        user = User.objects.create_user(
            handle=handle, password="pw-secret-123", birth_date=birth_date, **fields
        )
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("bob")


@pytest.fixture
def staff_user(make_user):
    return make_user("staffer", is_staff=True, is_superuser=True)


@pytest.fixture
def invite(db):
    return issue_invites(None, 1)[0]


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def teen(make_user):
    today = date.today()
    return make_user("teena", birth_date=date(today.year - 15, 1, 1))


# --- drafts and posts ---------------------------------------------------------------------

DRAFT_PROMPT = "a corgi surfing at sunset"
FINISHED = (Generation.Status.SUCCEEDED, Generation.Status.FAILED, Generation.Status.CANCELLED)


@functools.cache
def demo_clip() -> tuple[bytes, bytes, bytes]:
    """(mp4, poster jpeg, sprite jpeg) bytes of one tiny real clip (96x160), made once per session."""
    return make_demo_clip(1)


@pytest.fixture(scope="session")
def clip_files():
    return demo_clip()


def frames_for(seconds: int, orientation: str, shade: int) -> np.ndarray:
    """A flat `shade` picture (green ramps over time) at the API's preview size, 24 fps."""
    width, height = (192, 320) if orientation == "portrait" else (320, 192)
    frames = np.full((24 * seconds + 1, height, width, 3), shade, dtype=np.uint8)
    frames[:, :, :, 1] = np.linspace(0, 255, len(frames), dtype=np.uint8)[:, None, None]
    return frames


_shaded_clips: dict[tuple, tuple[bytes, bytes, bytes, tuple[int, int]]] = {}


def shaded_clip(seconds: int, orientation: str, shade: int) -> tuple[bytes, bytes, bytes, tuple[int, int]]:
    """(mp4, poster, sprite, (height, width)) of a clip as long and shaped as the row says, with a
    tone, written by the worker's media code; cached per (seconds, orientation, shade)."""
    key = (seconds, orientation, shade)
    if key not in _shaded_clips:
        frames = frames_for(seconds, orientation, shade)
        tone = np.sin(np.arange(len(frames) * 1000) / 8).astype(np.float32)[None, :] * 0.3
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "video.mp4"
            media.write_mp4(path, frames, 24, tone, 24000)
            mp4 = path.read_bytes()
        _shaded_clips[key] = (
            mp4,
            media.poster_jpeg(frames),
            media.sprite_sheet_jpeg(frames),
            frames.shape[1:3],
        )
    return _shaded_clips[key]


def create_generation(
    owner,
    *,
    status: str,
    prompt: str,
    seconds: int,
    seed: int,
    orientation: str = "portrait",
    as_finished: bool = True,
    shade: int | None = None,
    **fields,
) -> Generation:
    """The one place the tests write a Generation row; the factories below only pick defaults.

    With as_finished (the default), a finished row has `finished` set and a succeeded one passed
    the output check and has its own copies of real files in storage: with shade=None the
    session's tiny 96x160 clip (cheap; the columns say 96x160 and `seconds`); with a shade, a flat
    clip of that shade exactly as long and shaped as the row (for tests that read the video
    itself: stitching, remix frames). Without it, the bare row as given (the test adds the rest)."""
    if as_finished and status == Generation.Status.SUCCEEDED:
        fields.setdefault("check_status", Generation.Check.PASSED)
    if as_finished and status in FINISHED:
        fields.setdefault("finished", timezone.now())
    generation = Generation.objects.create(
        owner=owner,
        status=status,
        prompt=prompt,
        seconds=seconds,
        seed=seed,
        orientation=orientation,
        **fields,
    )
    if not as_finished or status != Generation.Status.SUCCEEDED:
        return generation
    if shade is None:
        mp4, poster, sprite = demo_clip()
        size = (160, 96)
        generation.duration = generation.duration or float(seconds)
    else:
        mp4, poster, sprite, size = shaded_clip(seconds, orientation, shade)
    generation.video.save("video.mp4", ContentFile(mp4), save=False)
    generation.poster.save("poster.jpg", ContentFile(poster), save=False)
    generation.sprite.save("sprite.jpg", ContentFile(sprite), save=False)
    generation.height, generation.width = size
    generation.save()
    return generation


@pytest.fixture
def make_generation(db):
    """Factory: make_generation(owner, *, status="succeeded", prompt=DRAFT_PROMPT, seconds=2,
    seed=7, orientation="portrait", shade=None, **fields) -> Generation (see create_generation)."""

    def make(
        owner,
        *,
        status: str = Generation.Status.SUCCEEDED,
        prompt: str = DRAFT_PROMPT,
        seconds: int = 2,
        seed: int = 7,
        **fields,
    ) -> Generation:
        return create_generation(owner, status=status, prompt=prompt, seconds=seconds, seed=seed, **fields)

    return make


def queued_generation(owner, **fields) -> Generation:
    """A queued row as start_generation would write it, without touching Redis. A `status` given
    is written as is, without the files or columns a finished job leaves."""
    fields.setdefault("status", Generation.Status.QUEUED)
    fields.setdefault("prompt", "a red kite over green hills, wind noise")
    fields.setdefault("seconds", 1)
    fields.setdefault("seed", 1234)
    return create_generation(owner, as_finished=False, **fields)


def generation_with(
    owner, cameos, *, status=Generation.Status.QUEUED, prompt="waving at the camera", **fields
) -> Generation:
    """A generation row whose cameo uses are recorded as start_generation records them, without
    the submit-time check (so the later checks can be tested on their own)."""
    fields.setdefault("seconds", 1)
    fields.setdefault("seed", 3)
    with transaction.atomic():
        generation = create_generation(owner, status=status, prompt=prompt, **fields)
        record_cameo_uses(Generation.objects.select_related("owner").get(pk=generation.pk), list(cameos))
    return generation


@pytest.fixture
def make_post(make_generation):
    """Factory: make_post(author, *, caption="", visibility="public", hide_prompt=False,
    remix_of=None, prompt=DRAFT_PROMPT, **columns) -> Post, published through
    feed.actions.publish_post from a fresh succeeded draft.

    Extra columns (mature, hidden, created, like_count...) are written after publishing, as a
    moderator or a clock would."""

    def make(
        author,
        *,
        caption: str = "",
        visibility: str = Post.Visibility.PUBLIC,
        hide_prompt: bool = False,
        remix_of: Post | None = None,
        prompt: str = DRAFT_PROMPT,
        **columns,
    ) -> Post:
        source = remix_of.generation if remix_of is not None else None
        generation = make_generation(author, source=source, prompt=prompt)
        post = feed_actions.publish_post(
            generation, caption=caption, hide_prompt=hide_prompt, visibility=visibility
        )
        if columns:
            Post.objects.filter(pk=post.pk).update(**columns)
            post.refresh_from_db()
        return post

    return make


def post_of(generation, visibility=Post.Visibility.PUBLIC, **fields) -> Post:
    """A bare Post row of `generation` (make_post publishes one as a user would)."""
    return Post.objects.create(
        author=generation.owner, generation=generation, visibility=visibility, **fields
    )


# --- people and cameos --------------------------------------------------------------------


def follow(follower, followee) -> None:
    Follow.objects.get_or_create(follower=follower, followee=followee)


def mutuals(a, b) -> None:
    follow(a, b)
    follow(b, a)


def block(blocker, blocked) -> None:
    Block.objects.get_or_create(blocker=blocker, blocked=blocked)


def approve(cameo, user) -> None:
    Approval.objects.get_or_create(cameo=cameo, user=user)


def jpeg(size=(96, 128), colour=(200, 120, 60)) -> bytes:
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).ellipse((10, 10, size[0] - 10, size[1] - 10), fill=(240, 200, 170))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def make_cameo(
    owner, *, permission=Cameo.Permission.ONLY_ME, kind=Cameo.Kind.PERSON, name="", **fields
) -> Cameo:
    """A verified cameo as the analysis job leaves it: a reference image, a recording, and the
    ledger's first entry."""
    if kind == Cameo.Kind.CHARACTER:
        name = name or "Biscuit"
        fields.setdefault("attested", timezone.now())
    person = kind == Cameo.Kind.PERSON
    fields.setdefault("face_embedding", [0.1] * 128 if person else None)
    fields.setdefault("voice_embedding", [0.05] * 256 if person else None)
    cameo = Cameo.objects.create(
        owner=owner,
        kind=kind,
        name=name,
        permission=permission,
        status=Cameo.Status.ACTIVE,
        verified=timezone.now(),
        **fields,
    )
    save_media(cameo, CameoMedia.Role.REFERENCE, 0, "face.jpg", ContentFile(jpeg()))
    save_media(
        cameo, CameoMedia.Role.RECORDING, 0, "recording.webm", ContentFile(b"\x1a\x45\xdf\xa3 not decoded")
    )
    append_entry(cameo, LedgerEntry.Kind.CREATED, actor=owner, permission=permission)
    return cameo


def make_challenge(owner, digits="4719", turns=("left", "right"), *, age_seconds=60, **fields) -> Challenge:
    """A challenge issued `age_seconds` ago (long enough ago for a test clip to be fresh)."""
    created = timezone.now() - timedelta(seconds=age_seconds)
    fields.setdefault("expires", created + timedelta(seconds=300))
    return Challenge.objects.create(owner=owner, digits=digits, turns=list(turns), created=created, **fields)


# --- real processes -----------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _clean_test_media():
    yield
    import shutil

    from django.conf import settings

    if "test-media" in str(settings.MEDIA_ROOT):
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _c2pa_signing(tmp_path_factory):
    """A local C2PA certificate chain for the whole run (exports are signed with it)."""
    from django.conf import settings

    from provenance.certs import make_signing_cert

    paths = make_signing_cert(tmp_path_factory.mktemp("c2pa"))
    settings.C2PA_SIGNING_KEY = str(paths.key)
    settings.C2PA_CERT_CHAIN = str(paths.chain)
    settings.C2PA_TRUST_ANCHORS = str(paths.root)
    return paths


@pytest.fixture(scope="session")
def live_site(django_db_setup, tmp_path_factory):
    """A real daphne serving HTTP and WebSockets on the test database. Yields its base URL.

    Tests that use it must use `transactional_db` so their rows are committed and visible.
    """
    from tests.live import start_daphne

    proc, url = start_daphne(tmp_path_factory.mktemp("daphne"))
    yield url
    proc.stop()


@pytest.fixture(scope="module")
def chromium():
    """Chromium for one test module. Module-scoped because Playwright's sync API keeps an event
    loop running in this thread while it's open, which async tests in later modules can't share."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls
    # are still plain synchronous code, so Django's async-safety guard doesn't apply to them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 420, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def tiny_model():
    """The tiny random-weight LTX-2, built offline once and shared by every run of this checkout.

    It's rebuilt whenever the builder's source changes, and built into a temporary folder then
    renamed, so concurrent test runs never load a half-written model. Sets SORA_VIDEO_MODEL.
    """
    import hashlib
    import shutil
    import tempfile
    from pathlib import Path

    from django.conf import settings

    import generation.engine.tiny as tiny

    digest = hashlib.sha256(Path(tiny.__file__).read_bytes()).hexdigest()[:10]
    target = Path(settings.VAR_DIR) / "models" / f"tiny-ltx2-test-{digest}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="tiny-building-", dir=target.parent))
        tiny.build_tiny_model(staging / "model")
        try:
            (staging / "model").rename(target)
        except OSError:
            pass  # another run finished first; theirs is identical
        shutil.rmtree(staging, ignore_errors=True)
    settings.SORA_VIDEO_MODEL = str(target)
    return target


@pytest.fixture
def rq_queue():
    """The real generation queue on the test Redis, emptied before and after the test."""
    from generation.queue import gpu_queue

    queue = gpu_queue()
    queue.empty()
    yield queue
    queue.empty()


@pytest.fixture
def worker(tiny_model, tmp_path):
    """A real `rqworker` process on the generation queue and the test database."""
    from tests.live import start_worker

    proc = start_worker(tmp_path)
    yield proc
    proc.stop()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
