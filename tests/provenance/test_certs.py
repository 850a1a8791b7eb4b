from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance.c2pa_manifest import TRAINED_ALGORITHMIC_MEDIA, read_manifest, sign_file
from provenance.certs import SignerConfig, make_signing_cert


def _chain(certs):
    return x509.load_pem_x509_certificates(certs.chain.read_bytes())


def test_chain_is_leaf_then_intermediate_issued_by_root(certs):
    leaf, intermediate = _chain(certs)
    root = x509.load_pem_x509_certificate(certs.root.read_bytes())
    assert leaf.issuer == intermediate.subject
    assert intermediate.issuer == root.subject == root.issuer
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"


def test_leaf_has_the_extensions_c2pa_requires(certs):
    leaf, intermediate = _chain(certs)
    basic = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert ski.digest
    inter_ski = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == inter_ski.digest


def test_private_keys_are_not_world_readable(certs):
    assert certs.key.stat().st_mode & 0o077 == 0
    assert certs.root_key.stat().st_mode & 0o077 == 0


MANIFEST = {
    "claim_generator_info": [{"name": "test", "version": "1"}],
    "title": "plain",
    "assertions": [
        {
            "label": "c2pa.actions.v2",
            "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
        }
    ],
}


def test_chain_signs_and_validates_as_trusted_only_with_our_root(certs, signer, make_clip, tmp_path):
    manifest = MANIFEST
    signed = tmp_path / "signed.mp4"
    sign_file(make_clip(0), signed, manifest, signer)

    assert read_manifest(signed, trust_anchors_pem=certs.root.read_text())["validation_state"] == "Trusted"
    untrusted = read_manifest(signed, trust_anchors_pem=None)
    assert untrusted["validation_state"] == "Valid"
    assert not untrusted["trusted"] and untrusted["signature_valid"]
    assert [f["code"] for f in untrusted["failures"]] == ["signingCredential.untrusted"]


def test_other_sites_root_does_not_make_our_files_trusted(certs, signer, exported, tmp_path):
    stranger = make_signing_cert(tmp_path / "other")
    report = read_manifest(exported.path, trust_anchors_pem=stranger.root.read_text())
    assert report["validation_state"] == "Valid"
    assert not report["trusted"]


def test_a_renewed_key_and_chain_sign_the_next_file_without_a_restart(make_clip, tmp_path):
    """Signers are kept per process; new files at the same paths must still be used."""
    manifest = MANIFEST
    first = make_signing_cert(tmp_path / "certs", organization="before renewal")
    first_root = first.root.read_text()
    config = SignerConfig(key_path=first.key, chain_path=first.chain)
    sign_file(make_clip(0), tmp_path / "one.mp4", manifest, config)
    renewed = make_signing_cert(tmp_path / "certs", organization="after renewal")
    sign_file(make_clip(0), tmp_path / "two.mp4", manifest, config)

    assert read_manifest(tmp_path / "one.mp4", trust_anchors_pem=first_root)["trusted"]
    second = read_manifest(tmp_path / "two.mp4", trust_anchors_pem=renewed.root.read_text())
    assert second["trusted"]
    assert "after renewal" in second["signer"]["issuer"]
