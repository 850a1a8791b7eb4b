import pytest

from accounts.actions import issue_invites
from accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_invitee_signs_up_lands_on_feed_logs_out_and_in(live_site, page):
    code = issue_invites(None, 1)[0].code

    page.goto(f"{live_site}/invite/{code}")
    assert page.input_value("#id_invite_code") == code
    page.fill("#id_email", "dana@example.com")
    page.fill("#id_username", "dana")
    page.fill("#id_display_name", "Dana")
    page.fill("#id_birth_date", "1994-03-02")
    page.fill("#id_password1", "correct-horse-battery-9")
    page.fill("#id_password2", "correct-horse-battery-9")
    page.click("form button[type=submit]")

    page.wait_for_url(f"{live_site}/")
    assert page.locator("nav.tabbar").is_visible()
    assert User.objects.get(handle="dana").invited_by_code.code == code

    # Log out from the account menu, there on every page.
    page.goto(f"{live_site}/settings/profile/")
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_site}/")
    assert page.locator("text=Log in").first.is_visible()

    page.goto(f"{live_site}/accounts/login/")
    page.fill("input[name=login]", "dana")
    page.fill("input[name=password]", "correct-horse-battery-9")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_site}/")
    assert page.locator("nav.tabbar").is_visible()
