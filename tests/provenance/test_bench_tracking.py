"""bench/bench_tracking.py at a reduced size, so the benchmark can't rot: the same code that
produces BENCHMARKS.md's tracking figures runs here on two short clips."""

from bench.bench_tracking import ATTACKS, run


def test_reduced_tracking_bench_finds_every_copy_and_nothing_foreign():
    attacks = {name: ATTACKS[name] for name in ("crf28+480p+crop5", "flip")}
    report = run(
        width=320, height=192, clips=2, seconds=2.0, foreign=2, foreign_seconds=1.0,
        attacks=attacks, speed_repeat=1, speed_seconds=1.0,
    )  # fmt: skip
    assert [row.name for row in report.rows] == list(attacks)
    for row in report.rows:
        assert row.copies == 2
        assert row.found == 2, row
        assert row.wrong == 0
        assert all(0.0 <= ber < 0.5 for ber in row.bers)
    assert report.false_matches == 0
    assert report.psnr >= 38.0
    assert set(report.speed) == {"still", "panning"}
    assert all(
        s["plain_cpu"] > 0 and s["matched_cpu"] > 0 and s["export_wall"] > 0 for s in report.speed.values()
    )
