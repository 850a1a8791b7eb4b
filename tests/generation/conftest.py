"""Fixtures for the engine and media tests: one real tiny model per test session, no mocks."""

import os

import numpy as np
import pytest

from generation.engine import Engine, build_tiny_model, get_capabilities


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A freshly built tiny LTX-2 model directory, built offline once per session (~3 s)."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {name: os.environ.get(name) for name in names}
    # Prove the build needs no network: any hub access fails at once instead of timing out.
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        return build_tiny_model(tmp_path_factory.mktemp("tiny-ltx2"), seed=0)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    """A loaded engine on the tiny model (CPU unless a GPU is present)."""
    engine = Engine(str(tiny_model_dir), get_capabilities("tiny"))
    engine.load()
    return engine


@pytest.fixture
def moving_frames():
    """uint8 (T, H, W, 3) of a gradient that moves right, brightening over time: compresses well."""

    def make(count=24, height=96, width=160):
        x = np.arange(width, dtype=np.float32)[None, :]
        y = np.arange(height, dtype=np.float32)[:, None]
        frames = np.empty((count, height, width, 3), dtype=np.uint8)
        for t in range(count):
            frames[t, ..., 0] = ((x + 4 * t) % width) / width * 255
            frames[t, ..., 1] = y / height * 255
            frames[t, ..., 2] = t / max(1, count - 1) * 255
        return frames

    return make


@pytest.fixture
def tone():
    """float32 (channels, samples) sine tone at 440 Hz, amplitude 0.5."""

    def make(seconds=1.0, sample_rate=24000, channels=2):
        t = np.arange(round(seconds * sample_rate), dtype=np.float32) / sample_rate
        return np.repeat((0.5 * np.sin(2 * np.pi * 440 * t))[None, :], channels, axis=0).astype(np.float32)

    return make
