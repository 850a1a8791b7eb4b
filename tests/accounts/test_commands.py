import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Invite, User


@pytest.mark.django_db
def test_issue_invites_prints_one_code_per_line():
    out = io.StringIO()
    call_command("issue_invites", "--count", "5", stdout=out)
    codes = out.getvalue().split()
    assert len(codes) == 5 and len(set(codes)) == 5
    assert Invite.objects.filter(code__in=codes, created_by=None).count() == 5


@pytest.mark.django_db
def test_issue_invites_for_a_user(make_user):
    owner = make_user("owner")
    out = io.StringIO()
    call_command("issue_invites", "--count", "2", "--for", "@OWNER", stdout=out)
    assert Invite.objects.filter(created_by=owner).count() == 2


@pytest.mark.django_db
def test_issue_invites_for_unknown_user_fails():
    with pytest.raises(CommandError):
        call_command("issue_invites", "--count", "1", "--for", "ghost")
    assert Invite.objects.count() == 0


@pytest.mark.django_db
def test_bootstrap_site_creates_staff_once():
    out = io.StringIO()
    call_command("bootstrap_site", stdout=out)
    text = out.getvalue()
    staff = User.objects.get(is_staff=True)
    password = next(line.split(":", 1)[1].strip() for line in text.splitlines() if "password:" in line)
    assert staff.check_password(password)
    assert text.count("/invite/") == 4
    call_command("bootstrap_site", stdout=io.StringIO())
    assert User.objects.filter(is_staff=True).count() == 1


def test_production_settings_refuse_a_missing_secret_key(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "false", "DJANGO_SETTINGS_MODULE": "sora_site.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "a" * 20 + "-production-secret-key-for-the-check-0123456789",
        "ALLOWED_HOSTS": "video.example.com",
        "DJANGO_SETTINGS_MODULE": "sora_site.settings",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
