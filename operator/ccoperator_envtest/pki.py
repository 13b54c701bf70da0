"""The throwaway PKI of one control plane: two CAs, the serving and admin certificates, and
the service-account signing key, written into the control plane's temp dir."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .base import SERVICE_IP


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256 rather than RSA: generating four RSA keys would add ~0.3 s to every start, and
    # kube-apiserver accepts ECDSA for serving, client and service-account signing keys alike.
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _cert_builder(subject: x509.Name, issuer: x509.Name,
                  key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # Back-dated a little so a slightly skewed clock never sees "not yet valid".
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30)))


def _make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name(common_name)
    cert = (_cert_builder(name, name, key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _issue(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], subject: x509.Name, *,
           server: bool, sans: Sequence[x509.GeneralName] = ()
           ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_cert_builder(subject, ca_cert.subject, key)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                            key_cert_sign=False, crl_sign=False,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@dataclass(frozen=True)
class Pki:
    """File paths of the throwaway PKI (all inside the control plane's temp dir)."""

    ca_cert: Path             # serving CA: clients verify the apiserver with it
    serving_cert: Path
    serving_key: Path
    client_ca_cert: Path      # separate CA for client certs, as in a real cluster
    admin_cert: Path          # CN=admin, O=system:masters
    admin_key: Path
    sa_key: Path              # service-account token signing key (private)
    sa_pub: Path

    @classmethod
    def create(cls, folder: Path) -> Pki:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        pki = cls(*(folder / f for f in ("ca.crt", "apiserver.crt", "apiserver.key",
                                          "client-ca.crt", "admin.crt", "admin.key",
                                          "sa.key", "sa.pub")))
        ca = _make_ca("ccoperator-test-ca")
        client_ca = _make_ca("ccoperator-test-client-ca")
        sans: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(SERVICE_IP)),
            x509.DNSName("localhost"),
            *(x509.DNSName(n) for n in ("kubernetes", "kubernetes.default",
                                         "kubernetes.default.svc",
                                         "kubernetes.default.svc.cluster.local")),
        ]
        serving = _issue(ca, _name("kube-apiserver"), server=True, sans=sans)
        admin = _issue(client_ca, _name("admin", "system:masters"), server=False)
        sa_key = _new_key()
        files = {
            pki.ca_cert: _pem_cert(ca[0]),
            pki.serving_cert: _pem_cert(serving[0]), pki.serving_key: _pem_key(serving[1]),
            pki.client_ca_cert: _pem_cert(client_ca[0]),
            pki.admin_cert: _pem_cert(admin[0]), pki.admin_key: _pem_key(admin[1]),
            pki.sa_key: _pem_key(sa_key),
            pki.sa_pub: sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        }
        for path, data in files.items():
            path.write_bytes(data)
            path.chmod(0o600)
        return pki
