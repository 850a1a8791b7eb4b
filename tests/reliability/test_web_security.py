"""Headers, CSRF and XSS on the pages the foundation and generation own."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.conftest import queued_generation

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.mark.django_db
def test_every_page_carries_a_csp_without_inline_scripts(client):
    response = client.get(reverse("account_login"))
    csp = response["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in response.content  # no inline scripts to need 'unsafe-inline'


@pytest.mark.django_db
def test_state_changing_requests_need_a_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    generation = queued_generation(user)
    for url in [
        reverse("generation:create"),
        reverse("generation:cancel", args=[generation.code]),
        reverse("generation:delete", args=[generation.code]),
        reverse("accounts:edit_profile"),
    ]:
        assert client.post(url, {}).status_code == 403, url
    generation.refresh_from_db()
    assert generation.status == "queued"


@pytest.mark.django_db
def test_user_written_text_renders_inert(client, make_user):
    author = make_user("xsser", display_name=XSS[:50], bio=XSS)
    generation = queued_generation(author, prompt=XSS)
    client.force_login(author)
    for url in [author.get_absolute_url(), generation.get_absolute_url(), reverse("generation:drafts")]:
        body = client.get(url).content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body, url
    assert "&lt;script&gt;" in client.get(generation.get_absolute_url()).content.decode()


def image_upload(fmt="PNG", size=(64, 64)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, "purple").save(out, fmt)
    out.seek(0)
    out.name = f"a.{fmt.lower()}"
    return out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_file, message",
    [
        (lambda: io.BytesIO(b""), "empty"),
        (lambda: io.BytesIO(image_upload().getvalue()[:40]), "not an image"),
        (lambda: io.BytesIO(b"%PDF-1.4 not an image at all" * 10), "not an image"),
        (lambda: image_upload(size=(10, 10)), "dimensions"),
        (lambda: image_upload("BMP"), "JPEG, PNG"),
        (lambda: io.BytesIO(b"\x89PNG" + b"0" * (6 * 1024 * 1024)), "too large"),
    ],
)
def test_bad_avatar_uploads_get_a_clear_error_and_store_nothing(client, user, make_file, message):
    client.force_login(user)
    upload = make_file()
    upload.name = getattr(upload, "name", "avatar.png")
    response = client.post(reverse("accounts:edit_profile"), {"display_name": "A", "avatar": upload})
    assert response.status_code == 400
    assert message in response.content.decode().lower() or message in response.content.decode()
    user.refresh_from_db()
    assert not user.avatar


@pytest.mark.django_db
def test_a_decompression_bomb_avatar_is_refused(client, user):
    # A tiny file that claims 20000×20000 pixels.
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    bomb.seek(0)
    bomb.name = "bomb.png"
    client.force_login(user)
    response = client.post(reverse("accounts:edit_profile"), {"display_name": "A", "avatar": bomb})
    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.avatar


@pytest.mark.django_db
def test_a_good_avatar_is_resized_square_jpeg(client, user):
    client.force_login(user)
    response = client.post(
        reverse("accounts:edit_profile"), {"display_name": "A", "avatar": image_upload(size=(900, 600))}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    with Image.open(user.avatar.path) as stored:
        assert stored.format == "JPEG" and stored.size == (400, 400)
