"""Benchmark: fingerprint lookup through the multi-index-hashing index among a million exports.

    DATABASE_URL=sqlite:////tmp/h17_index.sqlite3 .venv/bin/python bench/bench_fingerprint_index.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h17 .venv/bin/python bench/bench_fingerprint_index.py

    [--exports 1000000] [--seconds 4] [--queries 30]

Migrates the database at DATABASE_URL, then fills `provenance_fingerprinthash` with synthetic
rows: `--exports` clips of `--seconds`, two hashes a second (what `provenance.index` stores), each
hash a few bits away from the previous one like consecutive frames. Foreign keys are switched off
for this session only, so the synthetic rows need no Export/Generation rows behind them, except
for the exports a lookup ends up scoring: those get real Export rows with a fingerprint made of
the same hashes. `--queries` of the planted clips are then looked up as copies would be (first
second trimmed, every hash 3-9 bits off, unrelated mirrored hashes): the candidate stage (index
probe + exact Hamming check) and the whole `indexed_lookup` (plus loading and scoring the
candidates' fingerprints) are timed, and the top answer checked. Rows are loaded once; later
runs with the same sizes reuse them.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sora_site.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from provenance import index  # noqa: E402
from provenance.fingerprint import Fingerprint  # noqa: E402
from provenance.models import Export, FingerprintHash  # noqa: E402

TABLE = FingerprintHash._meta.db_table
COLUMNS = ("export_id", "value", "band0", "band1", "band2", "band3")


def few_bits(rng: np.random.Generator, shape, density_log2: int = 3) -> np.ndarray:
    """uint64 masks with each bit set with probability 2^-density_log2 (~8 of 64 bits for 3)."""
    mask = rng.integers(0, 2**64, shape, dtype=np.uint64, endpoint=False)
    for _ in range(density_log2 - 1):
        mask &= rng.integers(0, 2**64, shape, dtype=np.uint64, endpoint=False)
    return mask


def clip_hashes(rng: np.random.Generator, count: int, per_clip: int) -> np.ndarray:
    """(count, per_clip) uint64: a random start, then a few bits change per step."""
    steps = few_bits(rng, (count, per_clip), 4)  # ~4 bits per step
    steps[:, 0] = rng.integers(0, 2**64, count, dtype=np.uint64, endpoint=False)
    return np.bitwise_xor.accumulate(steps, axis=1)


def index_names() -> list[str]:
    """Names of the table's single-column indexes (not the primary key)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [name for name, info in constraints.items() if info["index"] and not info["primary_key"]]


def ensure_indexes() -> None:
    """The model's indexes and nothing else (after a load, an interrupted load, or tables made
    by an earlier version of the migration), then fresh statistics and visibility map."""
    wanted = {index.name: index for index in FingerprintHash._meta.indexes}
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
        for name, info in constraints.items():
            if (
                info["index"]
                and not info["primary_key"]
                and name not in wanted
                and info["columns"] != ["export_id"]
            ):
                cursor.execute(f'DROP INDEX "{name}"')
        if not any(info["index"] and info["columns"] == ["export_id"] for info in constraints.values()):
            cursor.execute(f"CREATE INDEX bench_{TABLE}_export_id ON {TABLE} (export_id)")
        for name, index in wanted.items():
            if name not in constraints:
                # Plain SQL: SQLite's schema editor re-checks every foreign key on exit.
                columns = ", ".join(FingerprintHash._meta.get_field(f).column for f in index.fields)
                cursor.execute(f'CREATE INDEX "{name}" ON {TABLE} ({columns})')
    with connection.cursor() as cursor:
        # VACUUM sets PostgreSQL's visibility map, without which no scan is index-only.
        cursor.execute(f"VACUUM ANALYZE {TABLE}" if connection.vendor == "postgresql" else f"ANALYZE {TABLE}")


def load(hashes: np.ndarray) -> float:
    """Replace the table's rows with `hashes` (export id = row number + 1); returns seconds."""
    start = time.perf_counter()
    exports = np.repeat(np.arange(1, len(hashes) + 1, dtype=np.int64), hashes.shape[1])
    flat = hashes.ravel()
    values, bands = index.signed(flat), index.bands(flat)
    with connection.cursor() as cursor:
        # Loading without indexes and indexing once is many times faster than row by row.
        for name in index_names():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(f"DELETE FROM {Export._meta.db_table}")
        chunk = 1_000_000
        for lo in range(0, len(flat), chunk):
            block = np.column_stack(
                [exports[lo : lo + chunk], values[lo : lo + chunk], bands[lo : lo + chunk]]
            )
            if connection.vendor == "postgresql":
                text = io.StringIO()
                np.savetxt(text, block, fmt="%d", delimiter="\t")
                with cursor.cursor.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    copy.write(text.getvalue())
            else:
                # The driver's own executemany: Django's wrapper rewrites every row's placeholders.
                connection.connection.executemany(
                    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)", block.tolist()
                )
    ensure_indexes()
    return time.perf_counter() - start


def without_foreign_keys() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")


def ensure_exports(pks: list[int], hashes: np.ndarray) -> None:
    """Real Export rows (fingerprints of the same hashes) for synthetic exports a lookup scores."""
    have = set(Export.objects.filter(pk__in=pks).values_list("pk", flat=True))
    Export.objects.bulk_create(
        Export(
            pk=pk,
            generation_id=pk,
            tracking_id=pk,
            file="bench.mp4",
            fingerprint=Fingerprint(
                np.repeat(hashes[pk - 1], index.INDEX_STEP), np.zeros(0, np.uint16), 4.0
            ).to_bytes(),
        )  # fmt: skip
        for pk in pks
        if pk not in have
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exports", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    per_clip = int(args.seconds * 6 / index.INDEX_STEP)

    call_command("migrate", verbosity=0)
    without_foreign_keys()
    rng = np.random.default_rng(17)
    hashes = clip_hashes(rng, args.exports, per_clip)
    rows = FingerprintHash.objects.count()
    if rows != hashes.size or not FingerprintHash.objects.filter(export_id=args.exports).exists():
        print(f"loading {hashes.size:,} rows ...", flush=True)
        print(f"loaded in {load(hashes):.0f} s (indexes rebuilt)")
    ensure_indexes()
    print(f"{connection.vendor}: {args.exports:,} exports, {hashes.size:,} indexed hashes")

    targets = rng.choice(np.arange(1, args.exports + 1), args.queries, replace=False)
    queries = []
    for pk in targets:
        full = np.repeat(hashes[pk - 1], index.INDEX_STEP)  # the clip's 6 fps hashes
        full = full[6:] ^ few_bits(rng, len(full) - 6, 3)  # 1 s trimmed, each hash ~8 bits off
        mirrored = rng.integers(0, 2**64, len(full), dtype=np.uint64, endpoint=False)
        queries.append((int(pk), Fingerprint(full, np.zeros(0, np.uint16), 3.0, flipped=mirrored)))
    lookup = index.indexed_lookup()
    # A first pass finds every export a query will score and gives it a real Export row.
    for _, query in queries:
        ensure_exports(index.candidate_exports(query), hashes)

    stage, whole, right, scored = [], [], 0, []
    for pk, query in queries:
        start = time.perf_counter()
        candidates = index.candidate_exports(query)
        stage.append(time.perf_counter() - start)
        start = time.perf_counter()
        found = lookup(query)
        whole.append(time.perf_counter() - start)
        right += bool(found) and found[0][0] == pk and found[0][1] >= 0.5
        scored.append(len(candidates))
    ms = lambda values: f"median {statistics.median(values) * 1e3:.1f} ms, max {max(values) * 1e3:.1f} ms"  # noqa: E731
    print(f"candidate stage (index probe + Hamming check): {ms(stage)}")
    print(f"whole lookup (+ load and score candidates):    {ms(whole)}")
    print(f"candidates scored per lookup: median {statistics.median(scored):.0f}")
    print(f"right export first (confidence >= 0.5): {right}/{len(queries)}")


if __name__ == "__main__":
    main()
