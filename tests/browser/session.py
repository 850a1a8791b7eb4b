"""Signing in through the real login page, for browser tests."""


def log_in(page, live_site: str, handle: str, password: str = "pw-secret-123") -> None:
    page.goto(f"{live_site}/accounts/login/")
    page.fill("input[name=login]", handle)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_site}/")
