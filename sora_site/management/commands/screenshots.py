"""Regenerate the README's screenshots: the main pages on a phone and a desktop, from demo data.

    python manage.py seed_demo --users 30 --posts 120 --seed 7   # once, on a scratch database
    python manage.py screenshots                                 # writes docs/screenshots/*.png

The site is served in-process (Django's WSGI app with the static-files handler, on a free port)
and Debian's Chromium takes the pictures through Playwright, signed in as the demo person with the
most posts. PNGs are quantised to a 64-colour palette so the handful of files stays small.
"""

import io
import socket
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.test import Client

from accounts.models import User
from feed.models import Post

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # the command prints what it writes, not every request
        pass


class ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request, client_address):
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_png(data: bytes) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


class Command(BaseCommand):
    help = "Regenerate docs/screenshots/ (phone and desktop) from the demo data in the database."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "docs" / "screenshots"))
        parser.add_argument("--handle", default="", help="Whose pages to show (default: most posts).")

    def handle(self, *args, **opts):
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.core.wsgi import get_wsgi_application

        person = self.pick_person(opts["handle"], User)
        post = Post.objects.filter(author=person, visibility="public").order_by("-like_count").first()
        if post is None:
            raise CommandError("No public posts: run `python manage.py seed_demo` first.")
        output = Path(opts["output"])
        output.mkdir(parents=True, exist_ok=True)
        port = free_port()
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
        server = make_server(
            "127.0.0.1", port, StaticFilesHandler(get_wsgi_application()), ThreadingServer, QuietHandler
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        client = Client()
        client.force_login(person)
        cookie = client.cookies["sessionid"].value
        shots = [
            ("feed", "/", PHONE),
            ("post", post.get_absolute_url(), PHONE),
            ("profile", person.get_absolute_url(), PHONE),
            ("create", "/create/", PHONE),
            ("feed-desktop", "/", DESKTOP),
            ("profile-desktop", person.get_absolute_url(), DESKTOP),
        ]
        try:
            self.take(base, cookie, shots, output)
        finally:
            server.shutdown()

    def pick_person(self, handle: str, User):
        rows = User.objects.filter(is_active=True)
        if handle:
            person = rows.filter(handle__iexact=handle).first()
        else:
            person = rows.annotate(n=Count("posts")).order_by("-n").first()
        if person is None:
            raise CommandError("No such person: run `python manage.py seed_demo` first.")
        return person

    def take(self, base: str, cookie: str, shots: list, output: Path) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path, viewport in shots:
                context = browser.new_context(viewport=viewport, device_scale_factor=1)
                context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
                page = context.new_page()
                page.goto(base + path, wait_until="networkidle")
                # Posters, not a moving frame: the pictures stay the same from run to run.
                page.evaluate("document.querySelectorAll('video').forEach(v => v.pause())")
                target = output / f"{name}.png"
                target.write_bytes(small_png(page.screenshot()))
                self.stdout.write(f"{target} ({target.stat().st_size // 1024} KB)")
                context.close()
            browser.close()
