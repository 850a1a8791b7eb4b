"""Settings: every documented variable is read from the environment, typos stop the site, secrets
can come from files."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV_READERS = {"env", "env_bool", "env_int", "env_float", "env_set"}


def documented_variables() -> set[str]:
    """Names in the first column of the README's configuration table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_column))
    return names


def variables_read_by_settings() -> set[str]:
    tree = ast.parse((ROOT / "sora_site" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ENV_READERS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.isupper():
                names.add(first.value)
    return names


def test_readme_table_matches_settings():
    documented, read = documented_variables(), variables_read_by_settings()
    assert len(documented) > 60
    assert documented - read == set(), "documented in README but not read from the environment"
    assert read - documented == set(), "read from the environment but missing from the README table"


def settings_in_subprocess(code: str, **environ) -> subprocess.CompletedProcess:
    """Import the real settings module in a fresh interpreter with this environment."""
    # Variables the cases set themselves must not leak in from the test run's own environment.
    ignored = {"DJANGO_SETTINGS_MODULE", "SITE_URL", "HOST", "PORT", "OPEN_SIGNUP", "SECRET_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-c", f"import sora_site.settings as s\n{code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_documented_settings_take_effect_from_the_environment():
    result = settings_in_subprocess(
        "print(s.FEED_FOLLOW_BOOST, s.OUTPUT_NUDITY_BLOCK, s.OUTPUT_CHECK_SAMPLE_FPS, s.FEED_PAGE_SIZE)",
        FEED_FOLLOW_BOOST="4.5",
        OUTPUT_NUDITY_BLOCK="0.8",
        OUTPUT_CHECK_SAMPLE_FPS="3",
        FEED_PAGE_SIZE="7",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4.5", "0.8", "3.0", "7"]


@pytest.mark.parametrize("value", ["flase", "ture", "maybe", "2"])
def test_a_misspelt_boolean_stops_the_site(value):
    result = settings_in_subprocess("print(s.OPEN_SIGNUP)", OPEN_SIGNUP=value)
    assert result.returncode != 0
    assert "OPEN_SIGNUP" in result.stderr and "not a yes/no value" in result.stderr


@pytest.mark.parametrize(("value", "expected"), [("yes", "True"), ("Off", "False"), ("0", "False")])
def test_usual_boolean_spellings_are_understood(value, expected):
    result = settings_in_subprocess("print(s.OPEN_SIGNUP)", OPEN_SIGNUP=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_number_that_is_not_one_names_the_variable():
    result = settings_in_subprocess("print(s.FEED_PAGE_SIZE)", FEED_PAGE_SIZE="ten")
    assert result.returncode != 0
    assert "FEED_PAGE_SIZE must be a whole number" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("k" * 60 + "\n")
    result = settings_in_subprocess(
        "print(s.SECRET_KEY, s.DEBUG)", SECRET_KEY_FILE=str(secret), DEBUG="false", ALLOWED_HOSTS="x"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["k" * 60, "False"]


def test_an_unreadable_secret_file_stops_the_site(tmp_path):
    result = settings_in_subprocess("print(s.SECRET_KEY)", SECRET_KEY_FILE=str(tmp_path / "missing"))
    assert result.returncode != 0
    assert "SECRET_KEY_FILE" in result.stderr


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PORT": "8100"}, "http://127.0.0.1:8100"),
        ({"HOST": "0.0.0.0", "PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"HOST": "sora.example", "PORT": "80", "SITE_URL": "https://sora.example/"}, "https://sora.example"),
    ],
)
def test_links_use_the_address_the_site_is_served_at(environ, expected):
    environ = {"HOST": "127.0.0.1", "PORT": "8000", **environ}
    result = settings_in_subprocess("print(s.SITE_URL)", **environ)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
