"""Fixtures for the reliability suite: one small social world seen by five kinds of visitor.

`world` builds its people at once and everything else (drafts, posts, cameos, comments, tokens,
invites...) only when a test first touches it, so a test pays for what it looks at.
"""

import io
import zipfile
from functools import cached_property

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from accounts.actions import issue_invites
from accounts.models import ApiToken, User
from cameos.models import Cameo, CameoUse
from feed import actions as feed_actions
from feed.models import Post
from generation.models import Generation
from tests.conftest import (
    approve,
    block,
    generation_with,
    jpeg,
    make_cameo,
    mutuals,
    post_of,
    queued_generation,
)

ROLES = ("owner", "friend", "stranger", "blocked", "anonymous")


class World:
    """`owner` and the people around them.

    - friend: a mutual of the owner and approved on every cameo of theirs (the "permitted other").
    - stranger: no relation.
    - blocked: mutual and approved too, but the owner blocked them, which overrides everything.
    - anonymous: nobody signed in (`user("anonymous")` is None).

    Every user-visible secret of the owner carries the word in `SECRET`, so a page that leaks one
    can be caught by looking for it.
    """

    SECRET = "Zanzibar"
    # The word in the owner's prompts (the canary sweep puts its own there, and only there).
    PROMPT_SECRET = SECRET

    def __init__(self, make_user, make_draft, recording: bytes):
        self.make_user = make_user
        self.make_generation = make_draft
        self.recording = recording
        self.owner = make_user("owner")
        self.friend = make_user("friend")
        self.stranger = make_user("stranger")
        self.blocked = make_user("blocked")
        mutuals(self.owner, self.friend)
        mutuals(self.owner, self.blocked)
        block(self.owner, self.blocked)
        self._tokens: dict[str, str] = {}

    def recording_upload(self):
        """A fresh upload of a tiny WebM whose header passes the recording checks."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        return SimpleUploadedFile("take.webm", self.recording, "video/webm")

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)

    def client(self, role: str, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        if role != "anonymous":
            client.force_login(self.user(role))
        return client

    def token_of(self, role: str) -> str | None:
        """A raw API token of that role's user (None for anonymous)."""
        if role == "anonymous":
            return None
        if role not in self._tokens:
            self._tokens[role] = ApiToken.issue(self.user(role), "matrix")[1]
        return self._tokens[role]

    # --- drafts -----------------------------------------------------------------------------

    @cached_property
    def draft(self) -> Generation:
        """A finished, unposted draft with every media variant in storage."""
        generation = self.make_generation(self.owner, prompt=f"{self.PROMPT_SECRET} draft: a corgi surfing")
        generation.preview.save("preview.jpg", ContentFile(jpeg((72, 128))), save=False)
        generation.source_image.save("source.jpg", ContentFile(jpeg((72, 128))), save=False)
        generation.save()
        return generation

    @cached_property
    def queued(self) -> Generation:
        return queued_generation(self.owner, prompt=f"{self.PROMPT_SECRET} queued", seed=1)

    @cached_property
    def failed(self) -> Generation:
        return queued_generation(
            self.owner,
            prompt=f"{self.PROMPT_SECRET} failed",
            seed=1,
            status=Generation.Status.FAILED,
            finished=timezone.now(),
        )

    # --- posts ------------------------------------------------------------------------------

    def post(self, visibility: str) -> Post:
        """A post of each visibility, made directly (no export until its video is asked for)."""
        cache = self.__dict__.setdefault("_posts", {})
        if visibility not in cache:
            generation = self.make_generation(self.owner, prompt=f"{self.SECRET} {visibility} prompt")
            cache[visibility] = post_of(generation, visibility, caption=f"{self.SECRET} {visibility} caption")
        return cache[visibility]

    @cached_property
    def comment(self):
        """The owner's comment on their own public post."""
        return feed_actions.add_comment(self.owner, self.post("public"), f"{self.SECRET} comment")

    @cached_property
    def notification(self):
        """A comment by the friend on the owner's public post notifies the owner."""
        return feed_actions.add_comment(self.friend, self.post("public"), f"{self.SECRET} for you")

    # --- cameos -----------------------------------------------------------------------------

    def cameo(self, permission: str = Cameo.Permission.APPROVED) -> Cameo:
        """The owner's verified person cameo (one per world: a person has one)."""
        cached = self.__dict__.get("_cameo")
        if cached is None:
            cached = make_cameo(self.owner, permission=permission, preferences=f"{self.SECRET} hat")
            approve(cached, self.friend)
            approve(cached, self.blocked)
            self.__dict__["_cameo"] = cached
        elif cached.permission != permission:
            Cameo.objects.filter(pk=cached.pk).update(permission=permission)
            cached.refresh_from_db()
        return cached

    @cached_property
    def character(self) -> Cameo:
        return make_cameo(self.owner, kind=Cameo.Kind.CHARACTER, name=f"{self.SECRET} the corgi")

    @cached_property
    def use(self) -> CameoUse:
        """The friend's draft that uses the owner's cameo: the owner may see its poster."""
        generation = generation_with(self.friend, [self.cameo()], status=Generation.Status.SUCCEEDED)
        return CameoUse.objects.get(generation=generation)

    # --- account things ---------------------------------------------------------------------

    @cached_property
    def token(self) -> ApiToken:
        return ApiToken.issue(self.owner, f"{self.SECRET} laptop")[0]

    @cached_property
    def invite(self):
        return issue_invites(self.owner, 1)[0]


@pytest.fixture
def world(make_user, make_generation, recording):
    return World(make_user, make_generation, recording)


def body_text(response) -> str:
    """What a person could read in a response: the page, a JSON body, or every file in a zip."""
    if response.streaming:
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    if response.get("Content-Type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return content.decode("utf-8", "replace")


def write_recording(
    path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 6,
    fps: int = 15,
    audio: bool = True,
    container: str = "webm",
) -> bytes:
    """A real little VP8 + Opus WebM (or H.264 + AAC MP4) of `frames` grey frames: its header
    passes the upload checks, so what a test varies (dimensions, length) is what gets judged."""
    from fractions import Fraction

    import av
    import numpy as np

    video_codec, audio_codec = ("libvpx", "libopus") if container == "webm" else ("libx264", "aac")
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(video_codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream(audio_codec, rate=48_000, layout="mono") if audio else None
        picture = np.full((height, width, 3), 128, np.uint8)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if sound is not None:
            step = 960 if container == "webm" else 1024
            for i in range(0, round(frames / fps * 48_000), step):
                chunk = av.AudioFrame.from_ndarray(
                    np.zeros((1, step), np.float32), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts, chunk.time_base = 48_000, i, Fraction(1, 48_000)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    with open(path, "rb") as fh:
        return fh.read()


@pytest.fixture(scope="session")
def recording(tmp_path_factory) -> bytes:
    """A tiny WebM whose header passes cameos.uploads.probe_recording."""
    return write_recording(tmp_path_factory.mktemp("rec") / "ok.webm")
