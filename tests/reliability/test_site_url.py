"""Links use the address the site is served at: without SITE_URL, HOST and PORT decide it (the
invite links `make run` prints, the post URL signed into C2PA manifests, emails)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from sora_site.settings import served_url


def site_url_with(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "HOST", "PORT")}
    clean.update(env, DJANGO_SETTINGS_MODULE="sora_site.settings")
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_without_site_url_links_name_the_served_port():
    assert site_url_with(PORT="8100") == "http://127.0.0.1:8100"


def test_site_url_wins_when_set():
    assert site_url_with(PORT="8100", SITE_URL="https://video.example/") == "https://video.example"


@pytest.mark.parametrize(
    "host, port, url",
    [
        ("127.0.0.1", "8100", "http://127.0.0.1:8100"),
        ("0.0.0.0", "8000", "http://127.0.0.1:8000"),
        ("video.lan", "80", "http://video.lan:80"),
        ("::", "8100", "http://[::1]:8100"),
        ("::1", "8100", "http://[::1]:8100"),
    ],
)
def test_served_url(host, port, url):
    assert served_url(host, port) == url
