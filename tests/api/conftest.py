"""Fixtures for the API tests: tokens, and `openai` clients whose transport is the Django test
client (fast, inside the test's transaction) or a live daphne."""

import httpx2
import pytest
from django.test import Client
from openai import OpenAI

from accounts.models import ApiToken


class DjangoTestTransport(httpx2.BaseTransport):
    """An httpx2 transport that hands each request to `django.test.Client`.

    The whole stack runs (middleware, URL routing, ninja) in this thread, on the test's database
    connection, so tests see the API's writes and roll them back. Streaming bodies are read whole.
    """

    def __init__(self):
        self.client = Client()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in {"host", "content-length", "content-type"}
        }
        response = self.client.generic(
            request.method,
            request.url.raw_path.decode(),
            data=body,
            content_type=request.headers.get("content-type", ""),
            headers=headers,
        )
        content = b"".join(response.streaming_content) if response.streaming else response.content
        pairs = [(name, value) for name, value in response.items() if name.lower() != "content-length"]
        return httpx2.Response(response.status_code, headers=pairs, content=content)


def openai_client(raw_token: str, base_url: str = "http://testserver/v1", transport=None) -> OpenAI:
    """The real `openai` client; no retries, so a 429 or 503 surfaces at once."""
    http_client = httpx2.Client(transport=transport) if transport is not None else None
    return OpenAI(base_url=base_url, api_key=raw_token, max_retries=0, http_client=http_client, timeout=60)


@pytest.fixture
def make_token(db):
    """Factory: make_token(owner, name="test") -> the raw token."""

    def make(owner, name: str = "test") -> str:
        return ApiToken.issue(owner, name)[1]

    return make


@pytest.fixture
def make_api(make_token):
    """Factory: make_api(user) -> an OpenAI client acting as `user` through the test client."""

    def make(user) -> OpenAI:
        return openai_client(make_token(user), transport=DjangoTestTransport())

    return make


@pytest.fixture
def api(make_api, user):
    return make_api(user)


class Receiver:
    """A local HTTP server standing in for a client's webhook endpoint (remote receivers are
    outside our control). Records each POST (body bytes and headers) and answers with the next
    status of `answers` (then 200)."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sora"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
