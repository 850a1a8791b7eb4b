"""Fixtures for the provenance library: a signing chain, synthetic clips, exported renditions.

Everything is session-scoped because clips and exports cost about a second each; tests must
treat the returned files as read-only and write variants to their own `tmp_path`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.c2pa_manifest import ManifestInfo, read_manifest
from provenance.certs import SignerConfig, make_signing_cert
from provenance.export import ExportResult, export_rendition

from .synthetic import write_clip

SITE = "Sora Site"
# Tracking ids near the top of the 64-bit range catch sign and overflow mistakes.
BASE_ID = 2**63 + 1_000


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_signing_cert(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def signer(certs) -> SignerConfig:
    return SignerConfig(key_path=certs.key, chain_path=certs.chain)


@pytest.fixture(scope="session")
def root_pem(certs) -> str:
    return certs.root.read_text()


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory):
    """make_clip(seed, seconds=4, width=960, height=540, audio=True) -> Path, cached per args."""
    directory = tmp_path_factory.mktemp("clips")
    cache: dict[tuple, Path] = {}

    def make(
        seed: int, seconds: float = 4.0, width: int = 960, height: int = 540, audio: bool = True
    ) -> Path:
        args = (seed, seconds, width, height, audio)
        if args not in cache:
            path = directory / f"clip-{seed}-{seconds}-{width}x{height}-{int(audio)}.mp4"
            cache[args] = write_clip(path, seed, seconds=seconds, width=width, height=height, audio=audio)
        return cache[args]

    return make


@pytest.fixture(scope="session")
def export(tmp_path_factory, signer, certs):
    """export(src, tracking_id, **manifest_fields) -> ExportResult, cached per (src, id)."""
    directory = tmp_path_factory.mktemp("exports")
    cache: dict[tuple, ExportResult] = {}

    def run(src: Path, tracking_id: int, **fields) -> ExportResult:
        key = (src, tracking_id, tuple(sorted(fields.items())))
        if key not in cache:
            info = ManifestInfo(
                title=fields.pop("title", src.stem), model=fields.pop("model", "ltx-2"), **fields
            )
            cache[key] = export_rendition(
                src,
                directory / f"{src.stem}-{tracking_id}-{len(cache)}.mp4",
                handle="alice",
                site_name=SITE,
                tracking_id=tracking_id,
                manifest=info,
                signer=signer,
            )
            # Every export the suite makes must validate against our root.
            state = read_manifest(cache[key].path, trust_anchors_pem=certs.root.read_text())[
                "validation_state"
            ]
            assert state == "Trusted", state
        return cache[key]

    return run


@pytest.fixture(scope="session")
def exported(make_clip, export) -> ExportResult:
    """One ordinary rendition (static camera, 4 s, 960×540, with sound)."""
    return export(
        make_clip(0),
        BASE_ID,
        public_url="https://sora.example/p/Zk3Qp9",
        consent_ids=("consent-7", "consent-9"),
    )
