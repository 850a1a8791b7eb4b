"""A slice of the liveness corpus (tests/cameos/corpus.py): a few honest recordings and every
attack kind once, each refused by the check meant for it. The whole corpus and its table are
``bench/liveness_corpus.py`` (RELIABILITY.md)."""

from dataclasses import replace

import pytest

from cameos.liveness import analyse_recording
from tests.cameos import corpus

CASES = corpus.corpus(honest=40, per_attack=1)
# Two honest recordings from the corpus's hard end: a far face (~160 px) with one turn half the
# other, and an MP4 at 24 fps with a quiet espeak voice. 24 fps keeps the slice cheap to make.
HONEST = ["honest_01", "honest_05"]
SLICE = [replace(c, fps=24) for c in CASES if c.name in HONEST or c.kind != "honest"]


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
