"""The consent ledger: append an entry, verify a chain, export it.

Each cameo has its own chain. Entry n stores the hash of entry n-1 (`prev_hash`; the first stores
`GENESIS_HASH`) and its own `hash`, the sha256 of the canonical JSON of its payload (cameo code,
position, kind, time, data and prev_hash). Changing, removing or reordering an entry therefore
breaks every check from that entry on. (Removing only the newest entries is not detectable from
the chain alone; an exported copy or a published head hash shows it.)
"""

import json

from django.db import transaction
from django.utils import timezone

from cameos.models import GENESIS_HASH, Cameo, CameoUse, LedgerEntry

HASH_RULE = (
    "hash = sha256(UTF-8 JSON of {cameo, seq, kind, created, data, prev_hash} with sorted keys and "
    "',' ':' separators); prev_hash of the first entry is 64 zeros"
)


def append_entry(
    cameo: Cameo, kind: str, *, actor=None, subject=None, generation=None, **data
) -> LedgerEntry:
    """Append one entry to `cameo`'s chain and return it.

    `actor` (who acted), `subject` (whom it concerns) and `generation` are copied into the hashed
    `data` as handles and codes, so the entry stays verifiable after they are deleted. Locks the
    cameo row for the append (a savepoint inside a caller's transaction), so concurrent appends
    queue up instead of forking the chain; the (cameo, seq) constraint is the backstop.
    """
    if actor is not None:
        data.update(actor=f"@{actor.handle}", actor_id=actor.pk)
    if subject is not None:
        data.update(subject=f"@{subject.handle}", subject_id=subject.pk)
    if generation is not None:
        data["generation"] = generation.code
    # What JSON gives back is what gets hashed: tuples become lists before, not after, hashing.
    data = json.loads(json.dumps(data))
    with transaction.atomic():
        Cameo.objects.select_for_update().filter(pk=cameo.pk).values_list("pk", flat=True).first()
        last = LedgerEntry.objects.filter(cameo=cameo).order_by("-seq").values("seq", "hash").first()
        entry = LedgerEntry(
            cameo=cameo,
            seq=last["seq"] + 1 if last else 1,
            kind=kind,
            actor=actor,
            subject=subject,
            generation=generation,
            data=data,
            created=timezone.now(),
            prev_hash=last["hash"] if last else GENESIS_HASH,
        )
        entry.hash = entry.compute_hash(cameo.code)
        entry.save()
    return entry


def verify_chain(cameo: Cameo) -> tuple[bool, LedgerEntry | None]:
    """(True, None) when every entry of `cameo`'s chain is intact and in place, else (False, the
    first entry that isn't: edited, out of place, or following a removed one). One query."""
    expected_seq, prev_hash = 1, GENESIS_HASH
    for entry in LedgerEntry.objects.filter(cameo=cameo).order_by("seq").iterator():
        if (
            entry.seq != expected_seq
            or entry.prev_hash != prev_hash
            or entry.hash != entry.compute_hash(cameo.code)
        ):
            return False, entry
        expected_seq, prev_hash = expected_seq + 1, entry.hash
    return True, None


def consent_ids_for_generation(generation) -> list[str]:
    """The hashes of the ledger entries that recorded the uses of cameos in `generation` (for its
    C2PA manifest): each is unique across the site and checkable against the owner's export. Only
    uses still in force count. One query."""
    return list(
        CameoUse.objects.filter(
            generation=generation, status=CameoUse.Status.USED, ledger_entry__isnull=False
        )
        .order_by("id")
        .values_list("ledger_entry__hash", flat=True)
    )


def export_ledger(cameo: Cameo) -> dict:
    """The owner's copy of a chain: every entry with what its hash covers, and the rule to check it."""
    ok, bad = verify_chain(cameo)
    entries = [
        {**entry.payload(cameo.code), "hash": entry.hash, "kind_label": entry.get_kind_display()}
        for entry in LedgerEntry.objects.filter(cameo=cameo).order_by("seq")
    ]
    return {
        "cameo": cameo.code,
        "cameo_kind": cameo.kind,
        "label": cameo.label,
        "exported": timezone.now().isoformat(),
        "hash_rule": HASH_RULE,
        "chain_valid": ok,
        "first_bad_seq": bad.seq if bad else None,
        "head_hash": entries[-1]["hash"] if entries else None,
        "entries": entries,
    }
