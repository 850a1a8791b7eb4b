"""Progress over real WebSockets (Channels' communicator on the ASGI app, Redis channel layer)."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from generation.jobs import run_generation
from sora_site.asgi import application
from tests.conftest import queued_generation

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    return communicator


async def drain(communicator, timeout=0.5) -> list[dict]:
    # receive_nothing() rather than a timed-out receive: a receive timeout cancels the consumer.
    events = []
    while not await communicator.receive_nothing(timeout=timeout):
        events.append(json.loads(await communicator.receive_from()))
    return events


async def test_progress_reaches_the_owner_and_never_another_user(tiny_model, user, other_user):
    generation = await sync_to_async(queued_generation)(user, seconds=1)
    owner_socket = await connect(user)
    assert (await owner_socket.connect())[0]
    stranger_socket = await connect(other_user)
    assert (await stranger_socket.connect())[0]

    assert await sync_to_async(run_generation)(generation.pk) == "succeeded"

    events = await drain(owner_socket)
    mine = [e for e in events if e.get("code") == generation.code]
    stages = [e["stage"] for e in mine]
    assert "generating" in stages and mine[-1]["status"] == "succeeded"
    steps = [e["step"] for e in mine if e["stage"] == "generating"]
    assert steps == sorted(steps) and max(steps) == mine[-1]["total"]
    assert any(e.get("preview") for e in mine), "a live preview arrives while generating"
    assert await drain(stranger_socket, timeout=0.3) == []
    await owner_socket.disconnect()
    await stranger_socket.disconnect()


async def test_anonymous_sockets_are_refused(db):
    communicator = await connect()
    connected, code = await communicator.connect()
    assert not connected


async def test_bad_messages_get_an_error_not_a_crash(user, other_user):
    theirs = await sync_to_async(queued_generation)(other_user)
    mine = await sync_to_async(queued_generation)(user)
    communicator = await connect(user)
    await communicator.connect()

    for bad in [
        "not json",
        "[1, 2]",
        json.dumps({"type": "launch"}),
        json.dumps({"type": "watch", "code": 5}),
    ]:
        await communicator.send_to(text_data=bad)
        reply = json.loads(await communicator.receive_from())
        assert reply["kind"] == "error"

    await communicator.send_to(text_data=json.dumps({"type": "watch", "code": theirs.code}))
    assert json.loads(await communicator.receive_from()) == {"kind": "error", "error": "No such video."}

    await communicator.send_to(text_data=json.dumps({"type": "watch", "code": mine.code}))
    state = json.loads(await communicator.receive_from())
    assert state["code"] == mine.code and state["status"] == "queued"
    assert state["stage_text"].startswith("Queued: position")
    await communicator.disconnect()
