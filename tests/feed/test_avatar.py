"""A picture uploaded on Edit profile shows on the profile: the page's <img> loads."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image


@pytest.mark.django_db
def test_an_uploaded_avatar_loads_on_the_profile_for_anyone(client, user):
    picture = io.BytesIO()
    Image.new("RGB", (300, 300), "orange").save(picture, "PNG")
    client.force_login(user)
    saved = client.post(
        reverse("accounts:edit_profile"),
        {
            "display_name": "Alice",
            "bio": "",
            "avatar": SimpleUploadedFile("me.png", picture.getvalue(), "image/png"),
        },
    )
    assert saved.status_code == 302
    client.logout()

    page = client.get(reverse("feed:profile", args=[user.handle])).content.decode()
    src = re.search(r'<img class="avatar[^"]*" src="([^"]+)"', page).group(1)
    picture = client.get(src.replace("&amp;", "&"))

    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(picture.streaming_content))).size[0] > 0


@pytest.mark.django_db
def test_no_avatar_is_a_404(client, user):
    assert client.get(reverse("feed:avatar", args=[user.handle])).status_code == 404
