"""A slice of the liveness corpus (tests/cameos/corpus.py): a few honest recordings and every
attack kind once, each refused by the check meant for it. The whole corpus and its table are
``bench/liveness_corpus.py`` (RELIABILITY.md)."""

from dataclasses import replace

import pytest

from cameos.liveness import analyse_recording
from tests.cameos import corpus

CASES = corpus.corpus(honest=40, per_attack=1)
# Two honest recordings of far faces (~160 px): one turn half the other, a mirrored portrait, and
# an MP4 of a tinted face. 15 fps (the analysis samples 10) keeps the slice cheap. Voices are
# flite's, which the digit decoder reads reliably (espeak's and awb's: see RELIABILITY.md).
HONEST = ["honest_01", "honest_08"]
SLICE = [replace(c, fps=15) for c in CASES if c.name in HONEST or c.kind != "honest"]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    made = {}
    return lambda case: corpus.materialise([case], folder, made)[case.name]


@pytest.mark.parametrize("case", SLICE, ids=lambda c: c.name)
def test_corpus_slice(recordings, case):
    result = analyse_recording(recordings(case), case.challenge)

    if case.kind == "honest":
        assert result.verified, (result.reasons, result.checks["turns"], result.checks["speech"])
        return
    assert not result.verified
    # Refused by the check meant for this attack, not only by a failure elsewhere.
    assert case.expected in result.checks["failed"], (result.checks["failed"], result.reasons)
    for reason in result.reasons:
        assert reason.endswith(".") and reason[0].isupper() and len(reason.split()) >= 8, reason
