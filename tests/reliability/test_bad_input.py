"""Bad input, one table: every case answers a 4xx (never a 500) that says what is wrong in words,
and stores nothing (no rows in the models a request could write, no file under MEDIA_ROOT).

Categories: cameo recordings (`cameos:upload`), character files, the `/verify` upload, avatars,
the Create form, comments, captions, reports, API bodies (form and JSON), and WebSocket messages.
Avatars are mostly covered by test_web_security.py; the two cases here are ones it doesn't try.
"""

import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from cameos.models import Challenge
from tests.conftest import queued_generation
from tests.reliability.conftest import World, write_recording

# The rows a bad request might leave behind.
WATCHED_MODELS = [
    "generation.Generation",
    "cameos.Cameo",
    "cameos.CameoMedia",
    "cameos.CameoUse",
    "feed.Post",
    "feed.Comment",
    "moderation.Report",
    "moderation.Case",
    "api.Extension",
    "provenance.Export",
]


@dataclass
class Ctx:
    world: World
    media: dict[str, bytes]


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[Ctx], tuple[int, str]]  # -> (status, what the person reads)
    status: int
    message: str
    prepare: Callable[[Ctx], object] | None = None
    transaction: bool = False  # WebSocket cases: the consumer reads the session in another thread


# --- bad media, made once per session -----------------------------------------------------


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("bad-media")
    good = write_recording(folder / "good.webm")
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(png, "PNG")
    tiff = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(tiff, "TIFF")
    return {
        "good": good,
        "truncated": good[:100],
        "text": b"Dear diary, this is not a video.\n" * 40,
        "png": png.getvalue(),
        "tiff": tiff.getvalue(),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>',
        "silent": write_recording(folder / "silent.webm", audio=False),
        # A 4608x2592 frame: past what the analysis will decode (MAX_PIXELS), in a 4 KB file.
        "huge_frame": write_recording(
            folder / "huge.mp4", width=4608, height=2592, frames=1, container="mp4"
        ),
        # Three frames an hour apart: a few KB that claim two hours of video.
        "two_hours": long_clip(folder / "long.webm"),
        "pdf": b"%PDF-1.4\n" + b"0" * 500,
    }


def long_clip(path: Path) -> bytes:
    import av
    import numpy as np

    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("libopus", rate=48_000, layout="mono")
        for i, seconds in enumerate((0, 3600, 7200)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = seconds * 1000, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts, chunk.time_base = 48_000, 0, Fraction(1, 48_000)
        out.mux(sound.encode(chunk))
        out.mux(sound.encode())
    return path.read_bytes()


# --- request makers -------------------------------------------------------------------------


def read(client: Client, response) -> tuple[int, str]:
    """The status and the words on the page; a redirect is followed to the page that shows its
    message (the site answers some form posts with POST, redirect, GET and a message)."""
    status = response.status_code
    if status in (301, 302):
        return status, html.unescape(client.get(response["Location"]).content.decode())
    if response.get("Content-Type", "").startswith("application/json"):
        return status, json.dumps(response.json())
    return status, html.unescape(response.content.decode())


def as_owner(ctx: Ctx) -> Client:
    return ctx.world.client("owner")


def post_form(route: str, data: Callable[[Ctx], dict], args: Callable[[Ctx], list] = lambda c: []):
    def send(ctx: Ctx) -> tuple[int, str]:
        client = as_owner(ctx)
        return read(client, client.post(reverse(route, args=args(ctx)), data(ctx)))

    return send


def post_raw(route: str, body: bytes, args: Callable[[Ctx], list] = lambda c: []):
    """A urlencoded body sent byte for byte (for bytes no browser would send)."""

    def send(ctx: Ctx) -> tuple[int, str]:
        client = as_owner(ctx)
        response = client.generic(
            "POST",
            reverse(route, args=args(ctx)),
            body,
            content_type="application/x-www-form-urlencoded",
        )
        return read(client, response)

    return send


def file(name: str, key: str | None = None, data: bytes | None = None):
    """An upload of one of the session's bad media (or of `data`), fresh for each request."""
    return lambda ctx: SimpleUploadedFile(name, data if data is not None else ctx.media[key])


def challenge(ctx: Ctx) -> Challenge:
    if "challenge" not in ctx.world.__dict__:
        ctx.world.challenge = Challenge.objects.create(owner=ctx.world.owner, digits="4719", turns=["left"])
    return ctx.world.challenge


def recording(upload: Callable[[Ctx], SimpleUploadedFile]):
    return post_form(
        "cameos:upload", lambda ctx: {"challenge": challenge(ctx).nonce, "recording": upload(ctx)}
    )


def create(**fields):
    base = {
        "prompt": "a red kite",
        "seconds": "1",
        "orientation": "portrait",
        "shots-TOTAL_FORMS": "0",
        "shots-INITIAL_FORMS": "0",
    }
    return post_form("generation:create", lambda ctx: {**base, **fields})


def storyboard(*shots: tuple[str, str], total: str | None = None):
    data = {
        "prompt": "",
        "seconds": "1",
        "orientation": "portrait",
        "use_storyboard": "on",
        "shots-TOTAL_FORMS": total if total is not None else str(len(shots)),
        "shots-INITIAL_FORMS": "0",
    }
    for i, (prompt, seconds) in enumerate(shots):
        data[f"shots-{i}-prompt"], data[f"shots-{i}-seconds"] = prompt, seconds
    return post_form("generation:create", lambda ctx: data)


def public_post(ctx: Ctx):
    return ctx.world.post("public")


def api(method: str, path: Callable[[Ctx], str], *, data=None, body: bytes | None = None, content_type=""):
    """A request to /v1/ with the owner's token: form fields (`data`) or a raw body."""

    def send(ctx: Ctx) -> tuple[int, str]:
        client = Client()
        headers = {"Authorization": f"Bearer {ctx.world.token_of('owner')}"}
        url = path(ctx)
        if body is not None:
            response = client.generic(method, url, body, content_type=content_type, headers=headers)
        elif method == "GET":
            response = client.get(url, data or {}, headers=headers)
        else:
            response = client.post(url, data(ctx) if callable(data) else data or {}, headers=headers)
        return read(client, response)

    return send


def remix_url(ctx: Ctx) -> str:
    return f"/v1/videos/video_{ctx.world.draft.code}/remix"


def websocket(message: Callable[[Ctx], str]):
    """Send one text frame as the owner; a reply of kind "error" counts as a 400."""

    def send(ctx: Ctx) -> tuple[int, str]:
        from channels.testing import WebsocketCommunicator

        from sora_site.asgi import application

        client = as_owner(ctx)
        headers = [
            (b"origin", b"http://localhost"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ]
        text = message(ctx)

        async def talk() -> dict:
            socket = WebsocketCommunicator(application, "/ws/events/", headers=headers)
            connected, _ = await socket.connect()
            assert connected
            await socket.send_to(text_data=text)
            reply = json.loads(await socket.receive_from())
            await socket.disconnect()
            return reply

        reply = async_to_sync(talk)()
        return (400 if reply.get("kind") == "error" else 200), json.dumps(reply)

    return send


def strangers_job(ctx: Ctx) -> str:
    return json.dumps({"type": "watch", "code": ctx.world.strangers_job.code})


def make_strangers_job(ctx: Ctx) -> None:

    ctx.world.strangers_job = queued_generation(ctx.world.stranger, prompt="x", seed=1)


LONG = "x" * 100_000
SURROGATE = "%ED%A0%80"  # U+D800 as a (forbidden) UTF-8 sequence

CASES = [
    # --- cameo recordings (cameos:upload) ---
    Case("recording: empty file", recording(file("take.webm", data=b"")), 400, "is empty"),
    Case("recording: truncated", recording(file("take.webm", "truncated")), 400, "could not read this file as a video"),
    Case("recording: text renamed .webm", recording(file("take.webm", "text")), 400, "could not read this file as a video"),
    Case("recording: picture renamed .webm", recording(file("take.webm", "png")), 400, "not a video recording"),
    Case("recording: no sound", recording(file("take.webm", "silent")), 400, "has no sound"),
    Case("recording: no file", post_form("cameos:upload", lambda ctx: {"challenge": challenge(ctx).nonce}), 400, "choose a recording"),
    Case("recording: unknown challenge", post_form("cameos:upload", lambda ctx: {"challenge": "nope", "recording": SimpleUploadedFile("t.webm", ctx.media["good"])}), 400, "challenge isn't valid"),
    Case("recording: huge frame (decompression bomb)", recording(file("take.mp4", "huge_frame")), 400, "picture is too big (4608×2592)"),
    Case("recording: claims two hours", recording(file("take.webm", "two_hours")), 400, "must be at most 30 seconds"),
    # --- character files (cameos:character) ---
    Case("character: a PDF", post_form("cameos:character", lambda ctx: {"name": "Rex", "attest": "on", "files": SimpleUploadedFile("rex.jpg", ctx.media["pdf"])}), 400, "not a picture or video"),
    Case("character: seven files", post_form("cameos:character", lambda ctx: {"name": "Rex", "attest": "on", "files": [SimpleUploadedFile(f"{i}.png", ctx.media["png"]) for i in range(7)]}), 400, "at most 6 files"),
    Case("character: huge name", post_form("cameos:character", lambda ctx: {"name": LONG, "attest": "on", "files": SimpleUploadedFile("rex.png", ctx.media["png"])}), 400, "at most 60 characters"),
    # --- /verify ---
    Case("verify: no file", post_form("provenance:verify", lambda ctx: {}), 400, "This field is required"),
    Case("verify: empty file", post_form("provenance:verify", lambda ctx: {"video": SimpleUploadedFile("v.mp4", b"")}), 400, "empty"),
    Case("verify: text renamed .mp4", post_form("provenance:verify", lambda ctx: {"video": SimpleUploadedFile("v.mp4", ctx.media["text"])}), 400, "video"),
    Case("verify: truncated", post_form("provenance:verify", lambda ctx: {"video": SimpleUploadedFile("v.webm", ctx.media["truncated"])}), 400, "video"),
    Case("verify: claims two hours", post_form("provenance:verify", lambda ctx: {"video": SimpleUploadedFile("v.webm", ctx.media["two_hours"])}), 400, "up to 180 seconds"),
    # --- avatars (the rest are in test_web_security.py) ---
    Case("avatar: TIFF renamed .png", post_form("accounts:edit_profile", lambda ctx: {"display_name": "A", "avatar": SimpleUploadedFile("a.png", ctx.media["tiff"])}), 400, "Use a JPEG, PNG, WebP or GIF image"),
    Case("avatar: SVG with a script", post_form("accounts:edit_profile", lambda ctx: {"display_name": "A", "avatar": SimpleUploadedFile("a.png", ctx.media["svg"])}), 400, "not an image"),
    Case("profile: huge bio", post_form("accounts:edit_profile", lambda ctx: {"display_name": "A", "bio": LONG}), 400, "at most 300 characters"),
    # --- the Create form ---
    Case("create: empty prompt", create(prompt="   "), 400, "Describe the video you want"),
    Case("create: huge prompt", create(prompt=LONG), 400, "at most 1000 characters"),
    Case("create: NUL in prompt", create(prompt="a cat\x00"), 400, "Null characters are not allowed"),
    Case("create: lone surrogate in prompt", post_raw("generation:create", f"prompt=a+cat+{SURROGATE}&seconds=1&orientation=portrait&shots-TOTAL_FORMS=0&shots-INITIAL_FORMS=0".encode()), 400, "isn't valid text"),
    Case("create: negative duration", create(seconds="-1"), 400, "Select a valid choice"),
    Case("create: huge duration", create(seconds="99999999999999999999"), 400, "Select a valid choice"),
    Case("create: unknown orientation", create(orientation="diagonal"), 400, "Select a valid choice"),
    Case("create: negative seed", create(seed="-5"), 400, "greater than or equal to 0"),
    Case("create: huge seed", create(seed=str(2**80)), 400, "less than or equal to"),
    Case("create: storyboard of one shot", storyboard(("a cat", "1")), 400, "at least 2 shots"),
    Case("create: storyboard with a bad count", storyboard(("a cat", "1"), total="lots"), 400, "A storyboard needs at least 2 shots"),
    Case("create: storyboard shot too long", storyboard(("a cat", "99"), ("a dog", "1")), 400, "Select a valid choice"),
    # --- comments, captions, reports ---
    Case("comment: empty", post_form("feed:comment", lambda ctx: {"body": "  "}, lambda ctx: [public_post(ctx).code]), 302, "Write something first"),
    Case("comment: huge", post_form("feed:comment", lambda ctx: {"body": LONG}, lambda ctx: [public_post(ctx).code]), 302, "at most 500 characters"),
    Case("comment: NUL", post_form("feed:comment", lambda ctx: {"body": "hi\x00"}, lambda ctx: [public_post(ctx).code]), 302, "Null characters are not allowed"),
    Case("comment: reply to a missing comment", post_form("feed:comment", lambda ctx: {"body": "hi", "parent": "nope"}, lambda ctx: [public_post(ctx).code]), 302, "That comment is gone"),
    Case("caption: huge", post_form("feed:publish", lambda ctx: {"caption": LONG, "visibility": "public"}, lambda ctx: [ctx.world.draft.code]), 302, "Check the caption"),
    Case("caption: unknown visibility", post_form("feed:publish", lambda ctx: {"caption": "hi", "visibility": "galaxy"}, lambda ctx: [ctx.world.draft.code]), 302, "Check the caption"),
    Case("report: unknown reason", post_form("moderation:report", lambda ctx: {"reason": "boredom"}, lambda ctx: ["user", ctx.world.stranger.handle]), 400, "Select a valid choice"),
    Case("report: huge note", post_form("moderation:report", lambda ctx: {"reason": "spam", "note": LONG}, lambda ctx: ["user", ctx.world.stranger.handle]), 400, "at most 1000 characters"),
    Case("report: unknown kind", post_form("moderation:report", lambda ctx: {"reason": "spam"}, lambda ctx: ["planet", "mars"]), 404, "Not Found"),
    Case("cameo settings: unknown permission", post_form("cameos:settings", lambda ctx: {"permission": "aliens"}, lambda ctx: [ctx.world.cameo().code]), 400, "Select a valid choice", prepare=lambda ctx: ctx.world.cameo()),
    Case("cameo settings: huge preferences", post_form("cameos:settings", lambda ctx: {"permission": "only_me", "preferences": LONG}, lambda ctx: [ctx.world.cameo().code]), 400, "at most", prepare=lambda ctx: ctx.world.cameo()),
    Case("api token: huge name", post_form("api:tokens", lambda ctx: {"name": LONG}), 400, "at most 60 characters"),
    # --- the API ---
    Case("api: missing prompt", api("POST", lambda ctx: "/v1/videos", data={"seconds": "1"}), 400, "Missing required parameter: 'prompt'"),
    Case("api: seconds -1", api("POST", lambda ctx: "/v1/videos", data={"prompt": "a cat", "seconds": "-1"}), 400, "Invalid 'seconds'"),
    Case("api: seconds 99999", api("POST", lambda ctx: "/v1/videos", data={"prompt": "a cat", "seconds": "99999"}), 400, "Invalid 'seconds'"),
    Case("api: unknown size", api("POST", lambda ctx: "/v1/videos", data={"prompt": "a cat", "size": "9x9"}), 400, "Invalid 'size'"),
    Case("api: unknown model", api("POST", lambda ctx: "/v1/videos", data={"prompt": "a cat", "model": "dall-e"}), 400, "Invalid 'model'"),
    Case("api: huge prompt", api("POST", lambda ctx: "/v1/videos", data={"prompt": LONG}), 400, "the most is 1000"),
    Case("api: NUL in prompt", api("POST", lambda ctx: "/v1/videos", data={"prompt": "a\x00cat"}), 400, "NUL characters"),
    Case("api: input_reference not an image", api("POST", lambda ctx: "/v1/videos", data=lambda ctx: {"prompt": "a cat", "input_reference": SimpleUploadedFile("r.png", ctx.media["pdf"])}), 400, "must be a JPEG, PNG or WebP image"),
    Case("api: input_reference a huge frame", api("POST", lambda ctx: "/v1/videos", data=lambda ctx: {"prompt": "a cat", "input_reference": SimpleUploadedFile("r.png", bomb_png())}), 400, "at most 4096x4096 pixels"),
    Case("api: list with limit -1", api("GET", lambda ctx: "/v1/videos", data={"limit": "-1"}), 400, "Invalid 'limit'"),
    Case("api: list with a huge limit", api("GET", lambda ctx: "/v1/videos", data={"limit": "1" * 40}), 400, "Invalid 'limit'"),
    Case("api: list in an unknown order", api("GET", lambda ctx: "/v1/videos", data={"order": "sideways"}), 400, "Invalid 'order'"),
    Case("api: invalid UTF-8 in a form field", api("POST", lambda ctx: "/v1/videos", body=b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncaf\xe9 \xff\r\n--b--\r\n', content_type="multipart/form-data; boundary=b"), 400, "isn't valid text"),
    Case("api: remix with invalid JSON", api("POST", remix_url, body=b'{"prompt": ', content_type="application/json"), 400, "Cannot parse request body"),
    Case("api: remix with invalid UTF-8", api("POST", remix_url, body=b'{"prompt": "caf\xe9 \xff"}', content_type="application/json"), 400, "Cannot parse request body"),
    Case("api: remix with a lone surrogate", api("POST", remix_url, body=b'{"prompt": "a cat \\ud800"}', content_type="application/json"), 400, "Invalid 'prompt': Input should be a valid string"),
    Case("api: remix with prompt a number", api("POST", remix_url, body=b'{"prompt": 5}', content_type="application/json"), 400, "Invalid 'prompt'"),
    Case("api: remix with a JSON list", api("POST", remix_url, body=b"[1, 2]", content_type="application/json"), 400, "Missing required parameter: 'prompt'"),
    Case("api: remix without prompt", api("POST", remix_url, body=b"{}", content_type="application/json"), 400, "Missing required parameter: 'prompt'"),
    # --- the WebSocket ---
    Case("websocket: not JSON", websocket(lambda ctx: "{not json"), 400, "Messages must be JSON objects.", transaction=True),
    Case("websocket: JSON but not an object", websocket(lambda ctx: "[1, 2]"), 400, "Messages must be JSON objects.", transaction=True),
    Case("websocket: unknown type", websocket(lambda ctx: '{"type": "launch"}'), 400, "Unknown message type.", transaction=True),
    Case("websocket: watch another user's job", websocket(strangers_job), 400, "No such video.", prepare=make_strangers_job, transaction=True),
    Case("websocket: watch with a huge code", websocket(lambda ctx: json.dumps({"type": "watch", "code": LONG})), 400, "No such video.", transaction=True),
]  # fmt: skip


def bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    return out.getvalue()


def snapshot() -> tuple[dict[str, int], set[str]]:
    counts = {name: apps.get_model(name).objects.count() for name in WATCHED_MODELS}
    root = Path(settings.MEDIA_ROOT)
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    return counts, files


def test_the_table_covers_at_least_thirty_cases():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


def prepare(ctx: Ctx, case: Case) -> None:
    """What the cases post against, built before the snapshot: the owner's token, a challenge, a
    finished draft and a public post (and the owner's cameo for the cameo cases)."""
    ctx.world.token_of("owner")
    challenge(ctx)
    ctx.world.draft  # noqa: B018
    ctx.world.post("public")
    if case.prepare:
        case.prepare(ctx)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.name, marks=pytest.mark.django_db(transaction=case.transaction))
        for case in CASES
    ],
)
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(world, media, case):
    ctx = Ctx(world, media)
    prepare(ctx, case)
    before = snapshot()

    status, text = case.send(ctx)

    assert status == case.status, text[:500]
    assert 400 <= status < 500 or status == 302  # a redirect only to a page that shows the message
    assert case.message in text, text[:2000]
    assert snapshot() == before, "a refused request stored something"
