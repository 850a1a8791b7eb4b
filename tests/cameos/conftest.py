"""Fixtures for the liveness tests: real recordings, made once per test session."""

import pytest

from tests import media_factory


@pytest.fixture(scope="session")
def liveness_clip(tmp_path_factory):
    """Factory: liveness_clip(name, digits="4719", turns=("left", "right"), **options) -> Path.

    Makes a real recording with ``media_factory.make_liveness_recording`` (~1-3 s each) and
    reuses it for the rest of the session under the same name.
    """
    folder = tmp_path_factory.mktemp("liveness")
    made = {}

    def make(name: str, digits: str = "4719", turns=("left", "right"), **options):
        if name not in made:
            suffix = options.get("container", "webm")
            made[name] = media_factory.make_liveness_recording(
                folder / f"{name}.{suffix}", digits, turns, **options
            )
        return made[name]

    return make
