"""Hidden means hidden: a canary sweep.

A unique random string sits in the prompt of a posted video whose prompt is hidden, and another in
an unposted draft. Then every named route of the authorization matrix (its table, so a route
without a row fails there), as anonymous, stranger, follower and mutual, every
media variant's bytes, the export's C2PA manifest read back with c2pa-python, `/verify` and
`verify_video` on the export, the API with other people's tokens and the WebSocket messages other
signed-in people receive: the canary appears 0 times. The author and a moderator do see it.

One world per test, built once and swept whole, so the sweep costs one export, not one per cell.
"""

import io
import json
import secrets
import tempfile

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from feed import actions as feed_actions
from feed.models import Follow, Post
from provenance.actions import verify_video
from tests.reliability.conftest import World, body_text
from tests.reliability.test_authorization import MATRIX, OK, connect, drain, named_routes, send

pytestmark = pytest.mark.django_db

# Everyone but the author: nobody signed in, a stranger, a follower and a mutual ("friend").
OTHERS = ("anonymous", "stranger", "follower", "friend")


class CanaryWorld(World):
    """The authorization matrix's world, but every prompt of the owner carries `CANARY` and hides
    it: posts hide their prompt (captions say nothing of it) and drafts are unposted."""

    CANARY = "cnry" + secrets.token_hex(8)
    PROMPT_SECRET = CANARY  # drafts, queued and failed jobs: World's, with the canary as prompt

    def __init__(self, *args):
        super().__init__(*args)
        self.follower = self.make_user("follower")
        Follow.objects.create(follower=self.follower, followee=self.owner)

    def post(self, visibility: str) -> Post:
        cache = self.__dict__.setdefault("_posts", {})
        if visibility not in cache:
            generation = self.make_generation(self.owner, prompt=f"{self.CANARY} {visibility} prompt")
            cache[visibility] = feed_actions.publish_post(
                generation, caption=f"a day out ({visibility})", hide_prompt=True, visibility=visibility
            )
        return cache[visibility]


@pytest.fixture
def canary_world(make_user, make_generation, recording):
    return CanaryWorld(make_user, make_generation, recording)


def swept_cells():
    """Every matrix request that changes nothing (GETs, and requests refused for that visitor)."""
    for row in MATRIX:
        for role in OTHERS:
            matrix_role = "friend" if role == "follower" else role
            expected = row.expected[matrix_role]
            if row.method == "get" or row.effect is None or expected != OK:
                yield row, role


def manifest_text(data: bytes) -> str:
    import c2pa

    with c2pa.Reader("video/mp4", io.BytesIO(data)) as reader:
        return reader.json()


def test_a_hidden_prompt_reaches_no_one_but_its_author_and_moderators(canary_world, staff_user):
    w = canary_world
    canary = w.CANARY
    swept, asked = set(), set()
    for row, role in swept_cells():
        if row.setup:
            row.setup(w)
        swept.add(row.route)
        if row.method == "get":
            # Rows that differ only in the world's state (a cameo's level) ask the same page.
            url = reverse(row.route, args=row.args(w))
            if (url, role) in asked:
                continue
            asked.add((url, role))
        response = send(w, row, role)
        if response.status_code != 302:
            assert canary not in body_text(response), f"{row.method.upper()} {row.id} as {role}"
    assert named_routes() - swept == set(), "routes the sweep never asked"

    # Every media variant of every post, in bytes.
    for visibility in Post.Visibility.values:
        post = w.post(visibility)
        for variant in ("video", "poster", "sprite"):
            response = w.client("owner").get(reverse("feed:media", args=[post.code, variant]))
            assert response.status_code == 200
            assert canary.encode() not in b"".join(response.streaming_content)

    # The export's signed manifest, read back: the caption is its title and nothing holds the prompt.
    post = w.post("public")
    export = b"".join(Client().get(reverse("feed:media", args=[post.code, "video"])).streaming_content)
    manifest = manifest_text(export)
    assert canary not in manifest
    assert json.loads(manifest)["manifests"] and "a day out (public)" in manifest
    # /verify (page and JSON) and verify_video on that file.
    page = Client().post(reverse("provenance:verify"), {"video": SimpleUploadedFile("v.mp4", export)})
    assert page.status_code == 200 and canary not in page.content.decode()
    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        tmp.write(export)
        tmp.flush()
        assert canary not in json.dumps(verify_video(tmp.name, viewer=None))

    # The API with every other person's token.
    for role in ("stranger", "follower", "friend"):
        headers = {"Authorization": f"Bearer {w.token_of(role)}"}
        for url in (
            "/v1/videos",
            f"/v1/videos/video_{w.draft.code}",
            f"/v1/videos/video_{post.generation.code}",
        ):
            assert canary not in Client().get(url, headers=headers).content.decode()

    # The author and a moderator do see it.
    for generation in (post.generation, w.draft):
        page = w.client("owner").get(reverse("generation:detail", args=[generation.code]))
        assert canary in page.content.decode()
    moderator = Client()
    moderator.force_login(staff_user)
    change = reverse("admin:generation_generation_change", args=[w.draft.pk])
    assert canary in moderator.get(change).content.decode()


@pytest.mark.django_db(transaction=True)
async def test_websocket_messages_to_others_never_carry_a_hidden_prompt(make_user, make_generation):
    """While the author's video runs, is posted with its prompt hidden, and is liked, commented on
    and remixed, the other signed-in people's sockets receive no message holding the prompt."""
    canary = "cnry" + secrets.token_hex(8)
    owner, follower, mutual, stranger = [
        await sync_to_async(make_user)(n) for n in ("owner", "follower", "mutual", "stranger")
    ]
    for a, b in ((follower, owner), (mutual, owner), (owner, mutual)):
        await sync_to_async(Follow.objects.create)(follower=a, followee=b)
    sockets = {}
    for user in (owner, follower, mutual, stranger):
        sockets[user.handle] = await connect(user)
        assert (await sockets[user.handle].connect())[0]

    def act():
        from generation.events import publish

        generation = make_generation(owner, prompt=f"{canary} a corgi surfing")
        publish(owner.pk, generation.event())
        post = feed_actions.publish_post(generation, caption="surf's up", hide_prompt=True)
        feed_actions.toggle_like(mutual, post, like=True)
        feed_actions.add_comment(mutual, post, "nice one")
        remix = make_generation(follower, prompt="again", source=generation)
        feed_actions.publish_post(remix, caption="mine")

    await sync_to_async(act)()
    received = {handle: await drain(socket, timeout=0.5) for handle, socket in sockets.items()}
    for socket in sockets.values():
        await socket.disconnect()
    assert received["owner"], "the author's own socket heard nothing: the test can't see events"
    for handle in ("follower", "mutual", "stranger"):
        assert canary not in json.dumps(received[handle]), handle
