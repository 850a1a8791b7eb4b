"""Project-wide fixtures: factories as fixtures, no JSON fixture files."""

import itertools
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.actions import issue_invites
from accounts.models import User
from feed import actions as feed_actions
from feed.management.commands.seed_demo import make_demo_clip
from feed.models import Post
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


@pytest.fixture(scope="session")
def clip_files():
    """(mp4, poster jpeg, sprite jpeg) bytes of one tiny real clip (96x160), made once per session."""
    return make_demo_clip(1)


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


@pytest.fixture
def make_generation(db, clip_files):
    """Factory: make_generation(owner, *, status="succeeded", prompt=DRAFT_PROMPT, seconds=2,
    seed=7, orientation="portrait", shade=None, **fields) -> Generation.

    A succeeded one passed the output check and has its own copies of real files in storage:
    with shade=None the session's tiny 96x160 clip (cheap; the columns say 96x160 and `seconds`);
    with a shade, a flat clip of that shade exactly as long and shaped as the row (for tests that
    read the video itself: stitching, remix frames). Finished rows have `finished` set."""

    def make(
        owner,
        *,
        status: str = Generation.Status.SUCCEEDED,
        prompt: str = DRAFT_PROMPT,
        seconds: int = 2,
        seed: int = 7,
        orientation: str = "portrait",
        shade: int | None = None,
        **fields,
    ) -> Generation:
        if status == Generation.Status.SUCCEEDED:
            fields.setdefault("check_status", Generation.Check.PASSED)
        if status in FINISHED:
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
        if status != Generation.Status.SUCCEEDED:
            return generation
        if shade is None:
            mp4, poster, sprite = clip_files
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

    return make


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
