"""Signing certificates and signer configuration for C2PA manifests.

C2PA validators refuse a signing certificate unless it is an end entity with a critical
digitalSignature key usage, authority and subject key identifiers, and an extended key usage they
know (emailProtection works without a custom trust config; documentSigning and claimSigning do
not). Self-signed leaves, CA leaves and expired certificates are refused at signing time, so a
self-hosted site gets a private root → intermediate → leaf chain from `make_signing_cert` and
publishes the root as the trust anchor its verifier (and anyone else's) should use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class SigningCertPaths:
    """Files written by `make_signing_cert`.

    `key` is the leaf's private key (PKCS#8 PEM, keep it secret); `chain` holds leaf then
    intermediate (what a signer embeds); `root` is the trust anchor for validation; `root_key`
    is only needed to issue a new intermediate and should live offline in production.
    """

    key: Path
    chain: Path
    root: Path
    root_key: Path


@dataclass(frozen=True)
class SignerConfig:
    """How to sign manifests: private key PEM path, certificate chain PEM path (leaf first,
    without the root) and an optional RFC 3161 time-stamp authority URL.

    Without a TSA, validators judge the certificate at read time, so signed files stop
    validating once the leaf expires; production sites should configure one.
    """

    key_path: Path
    chain_path: Path
    tsa_url: str | None = None
    alg: str = "es256"

    def create_signer(self):
        """Return a fresh `c2pa.Signer`. Some c2pa calls consume a signer (a Context given
        one); `Builder.sign` only borrows it, so `c2pa_manifest.sign_file` keeps one per
        process and version of the files."""
        import c2pa

        info = c2pa.C2paSignerInfo(
            alg=self.alg,
            sign_cert=Path(self.chain_path).read_bytes(),
            private_key=Path(self.key_path).read_bytes(),
            ta_url=self.tsa_url,
        )
        return c2pa.Signer.from_info(info)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _issue(
    *,
    subject: x509.Name,
    subject_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca_path_length: int | None,
    is_ca: bool,
) -> x509.Certificate:
    public_key = subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=ca_path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if is_ca:
        usage = dict(digital_signature=False, key_cert_sign=True, crl_sign=True)
    else:
        usage = dict(digital_signature=True, key_cert_sign=False, crl_sign=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_signing_cert(
    directory: str | Path,
    *,
    organization: str = "sora_site",
    leaf_days: int = 825,
    ca_days: int = 3650,
) -> SigningCertPaths:
    """Create a P-256 root CA → intermediate CA → leaf chain for ES256 signing in `directory`.

    Writes `c2pa-root.pem`, `c2pa-root.key`, `c2pa-chain.pem` (leaf + intermediate) and
    `c2pa-signer.key`, overwriting existing files; private keys are written mode 0600. Cost: a few
    milliseconds. The certificates start one hour in the past to tolerate clock skew.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    root_key, root, inter, leaf_key, leaf = _issue_chain(organization, leaf_days=leaf_days, ca_days=ca_days)

    paths = SigningCertPaths(
        key=directory / "c2pa-signer.key",
        chain=directory / "c2pa-chain.pem",
        root=directory / "c2pa-root.pem",
        root_key=directory / "c2pa-root.key",
    )
    for path, data in ((paths.key, _key_pem(leaf_key)), (paths.root_key, _key_pem(root_key))):
        path.write_bytes(data)
        path.chmod(0o600)
    paths.chain.write_bytes(_cert_pem(leaf) + _cert_pem(inter))
    paths.root.write_bytes(_cert_pem(root))
    return paths


def _issue_chain(organization: str, *, leaf_days: int, ca_days: int) -> tuple:
    """(root key, root, intermediate, leaf key, leaf) of a fresh P-256 chain, valid from an hour ago."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organization} C2PA Root CA", organization)
    root = _issue(
        subject=root_name,
        subject_key=root_key,
        issuer=root_name,
        issuer_key=root_key,
        not_before=now,
        not_after=now + dt.timedelta(days=ca_days),
        ca_path_length=1,
        is_ca=True,
    )
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = _name(f"{organization} C2PA Intermediate CA", organization)
    inter = _issue(
        subject=inter_name,
        subject_key=inter_key,
        issuer=root_name,
        issuer_key=root_key,
        not_before=now,
        not_after=now + dt.timedelta(days=ca_days),
        ca_path_length=0,
        is_ca=True,
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _issue(
        subject=_name(f"{organization} content credentials", organization),
        subject_key=leaf_key,
        issuer=inter_name,
        issuer_key=inter_key,
        not_before=now,
        not_after=now + dt.timedelta(days=min(leaf_days, ca_days)),
        ca_path_length=None,
        is_ca=False,
    )
    return root_key, root, inter, leaf_key, leaf
