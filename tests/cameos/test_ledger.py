"""The consent ledger: every grant, change, revocation, use and refusal is chained by hash."""

import hashlib
import json

import pytest
from django.urls import reverse

from cameos.actions import consent, controls
from cameos.actions.uses import ledger_entries_for
from cameos.ledger import append_entry, export_ledger, verify_chain
from cameos.models import GENESIS_HASH, Cameo, CameoUse, LedgerEntry
from generation.errors import ConsentRefused
from tests.conftest import generation_with, make_cameo

P = Cameo.Permission


@pytest.fixture
def history(make_user):
    """A cameo with a grant, a change, a use, a refusal and a revocation on its ledger."""
    ada, bob, eve = make_user("ada"), make_user("bob"), make_user("eve")
    cameo = make_cameo(ada)
    controls.update_cameo_settings(cameo, permission=P.APPROVED, preferences="", restrictions="", actor=ada)
    controls.approve_user(cameo, "bob", actor=ada)
    generation_with(bob, [cameo])
    with pytest.raises(ConsentRefused):
        consent.cameos_for_request(eve, ["@ada dancing"], [])
    controls.remove_approval(cameo, bob, actor=ada)
    return cameo


def test_every_consent_event_is_on_the_chain_and_it_verifies(history):
    kinds = list(LedgerEntry.objects.filter(cameo=history).order_by("seq").values_list("kind", flat=True))

    assert kinds == ["created", "changed", "granted", "used", "blocked", "revoked", "stopped"]
    assert verify_chain(history) == (True, None)
    first = LedgerEntry.objects.get(cameo=history, seq=1)
    assert first.prev_hash == GENESIS_HASH


def test_each_hash_is_the_sha256_of_the_canonical_entry_and_the_previous_hash(history):
    entries = list(LedgerEntry.objects.filter(cameo=history).order_by("seq"))
    for before, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == before.hash
    entry = entries[3]
    canonical = json.dumps(
        {
            "cameo": history.code,
            "seq": entry.seq,
            "kind": entry.kind,
            "created": entry.created.isoformat(),
            "data": entry.data,
            "prev_hash": entry.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert entry.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert entry.data["actor"] == "@bob" and entry.data["generation"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: {"data": {**e.data, "actor": "@mallory"}},
        lambda e: {"kind": LedgerEntry.Kind.GRANTED},
        lambda e: {"created": e.created.replace(year=2001)},
        lambda e: {"prev_hash": "f" * 64},
    ],
    ids=["data", "kind", "time", "link"],
)
def test_an_edited_entry_is_detected_as_the_first_bad_one(history, tamper):
    entry = LedgerEntry.objects.get(cameo=history, seq=4)
    LedgerEntry.objects.filter(pk=entry.pk).update(**tamper(entry))

    ok, first_bad = verify_chain(history)

    assert not ok and first_bad.seq == 4


def test_an_entry_rehashed_after_editing_breaks_the_link_to_the_next(history):
    entry = LedgerEntry.objects.get(cameo=history, seq=3)
    entry.data = {**entry.data, "subject": "@mallory"}
    LedgerEntry.objects.filter(pk=entry.pk).update(data=entry.data, hash=entry.compute_hash(history.code))

    ok, first_bad = verify_chain(history)

    assert not ok and first_bad.seq == 4


def test_a_removed_entry_is_detected(history):
    LedgerEntry.objects.filter(cameo=history, seq=2)._raw_delete(LedgerEntry.objects.db)

    ok, first_bad = verify_chain(history)

    assert not ok and first_bad.seq == 3


def test_entries_cannot_be_changed_or_deleted_through_the_model(history):
    entry = LedgerEntry.objects.filter(cameo=history).first()
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_entries_stay_verifiable_after_the_video_and_people_are_deleted(history):
    CameoUse.objects.filter(cameo=history, generation__isnull=False).first().generation.delete()
    history.owner.__class__.objects.filter(handle="bob").delete()

    assert verify_chain(history) == (True, None)


def test_chains_are_per_cameo(make_user):
    ada = make_user("ada")
    one, two = make_cameo(ada, kind="character", name="Rex"), make_cameo(ada, kind="character", name="Tom")
    append_entry(one, LedgerEntry.Kind.CHANGED, actor=ada)

    assert LedgerEntry.objects.get(cameo=two).seq == 1
    assert verify_chain(one) == (True, None) and verify_chain(two) == (True, None)


def test_owner_exports_their_ledger_as_json(client, history):
    client.force_login(history.owner)

    response = client.get(reverse("cameos:ledger", args=[history.code]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    exported = response.json()
    assert exported["cameo"] == history.code and exported["chain_valid"] is True
    assert [e["seq"] for e in exported["entries"]] == list(range(1, 8))
    assert exported["head_hash"] == exported["entries"][-1]["hash"]
    # Anyone holding the export can re-check every hash with the stated rule.
    previous = GENESIS_HASH
    for e in exported["entries"]:
        payload = {k: e[k] for k in ("cameo", "seq", "kind", "created", "data", "prev_hash")}
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e["prev_hash"] == previous
        assert hashlib.sha256(canonical.encode()).hexdigest() == e["hash"]
        previous = e["hash"]


def test_export_reports_tampering(history):
    LedgerEntry.objects.filter(cameo=history, seq=5).update(data={"reason": "nothing happened"})

    exported = export_ledger(history)

    assert exported["chain_valid"] is False and exported["first_bad_seq"] == 5


def test_the_cameo_page_shows_whether_the_chain_verifies(client, history):
    client.force_login(history.owner)
    page = client.get(history.get_absolute_url()).content.decode()
    assert 'data-testid="chain-ok"' in page

    LedgerEntry.objects.filter(cameo=history, seq=2).update(kind=LedgerEntry.Kind.GRANTED)
    page = client.get(history.get_absolute_url()).content.decode()
    assert 'data-testid="chain-broken"' in page and "entry 2" in page


def test_videos_reference_their_ledger_entry(history):
    use = CameoUse.objects.get(cameo=history, status__in=["used", "stopped"])

    [reference] = ledger_entries_for(use.generation)

    assert reference == {
        "cameo": history.code,
        "label": "@ada",
        "seq": use.ledger_entry.seq,
        "hash": use.ledger_entry.hash,
    }
    assert use.ledger_entry.kind == LedgerEntry.Kind.USED


def test_the_provenance_manifest_names_the_ledger_entries_of_the_cameos_in_a_video(make_user):
    from cameos.ledger import consent_ids_for_generation
    from provenance.actions import consent_entry_ids

    ada, bob = make_user("ada"), make_user("bob")
    one, two = make_cameo(ada, permission=P.EVERYONE), make_cameo(bob)
    generation = generation_with(bob, [one, two])
    uses = CameoUse.objects.filter(generation=generation).order_by("id").select_related("ledger_entry")

    assert consent_ids_for_generation(generation) == [u.ledger_entry.hash for u in uses]
    assert consent_entry_ids(generation) == consent_ids_for_generation(generation)
