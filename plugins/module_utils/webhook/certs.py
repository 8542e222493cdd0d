# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's own CA for the webhook's serving certificate (``cryptography``), where neither cert-manager nor
OpenShift's service CA is there to do it.

:func:`ensure` takes what the two Secrets hold now and returns what they must hold; it keeps everything that is
still good, so calling it again changes nothing:

* the CA (Secret ``<name>-ca``: ``ca.crt``, ``ca.key``; only the operator reads it) is valid for
  :data:`CA_DAYS` days and replaced when fewer than :data:`CA_RENEW_DAYS` remain (or it is unreadable). The
  replaced CA stays in the bundle (``previous-ca.crt``) until it expires, so webhook pods still serving a
  certificate of the old CA are trusted while the new Secret reaches them.
* the serving certificate (Secret ``<name>-cert``: ``tls.crt``, ``tls.key``, ``ca.crt``; mounted by the webhook
  pods) is valid for :data:`CERT_DAYS` days for the Service's DNS names, and replaced when fewer than
  :data:`CERT_RENEW_DAYS` remain, when the names change or when it was not signed by the current CA.
* ``ca_bundle`` (base64 PEM, current CA then the previous one) goes into the webhook configurations.

Keys are ECDSA P-256. Times are UTC; ``now`` is a parameter so that tests can move the clock.
"""
from __future__ import annotations

import base64
import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

CA_DAYS = 730
CA_RENEW_DAYS = 90
CERT_DAYS = 365
CERT_RENEW_DAYS = 30


def service_dns_names(service: str, namespace: str) -> List[str]:
    return ["%s.%s.svc" % (service, namespace), "%s.%s.svc.cluster.local" % (service, namespace),
            "%s.%s" % (service, namespace), service]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return cert.public_bytes(serialization.Encoding.PEM)


def new_ca(now: Optional[datetime.datetime] = None, days: int = CA_DAYS,
           common_name: str = "security-profiles-operator-webhook-ca") -> Tuple[bytes, bytes]:
    """A self-signed CA: ``(cert PEM, key PEM)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    now = now or _utcnow()
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name + "@%d" % int(now.timestamp()))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _pem_cert(cert), _pem_key(key)


def new_serving(ca_cert_pem: bytes, ca_key_pem: bytes, dns_names: List[str], now: Optional[datetime.datetime] = None,
                days: int = CERT_DAYS) -> Tuple[bytes, bytes]:
    """A serving certificate for ``dns_names`` signed by the CA: ``(cert PEM, key PEM)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = now or _utcnow()
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    key = _key()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, min(dns_names, key=len)[:64])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _pem_cert(cert), _pem_key(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> Optional[bytes]:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return None


def _load(pem: Optional[bytes]) -> Any:
    if not pem:
        return None
    from cryptography import x509
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def _key_matches(cert: Any, key_pem: Optional[bytes]) -> bool:
    from cryptography.hazmat.primitives import serialization
    if cert is None or not key_pem:
        return False
    try:
        key = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError):
        return False
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*raw) == cert.public_key().public_bytes(*raw)


def _left(cert: Any, now: datetime.datetime) -> datetime.timedelta:
    return cert.not_valid_after_utc - now


def _signed_by(cert: Any, ca: Any) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except (ValueError, TypeError, Exception):  # pylint: disable=broad-except  # InvalidSignature and friends
        return False


def _sans(cert: Any) -> List[str]:
    from cryptography import x509
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        return []


def ensure(ca_data: Optional[Mapping[str, Any]], tls_data: Optional[Mapping[str, Any]], service: str, namespace: str,
           now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """What the CA Secret (``ca``) and the serving Secret (``tls``) must hold (base64 ``data``), the ``ca_bundle``,
    and ``rotated`` (what was made anew and why)."""
    now = now or _utcnow()
    ca_data, tls_data = dict(ca_data or {}), dict(tls_data or {})
    rotated: List[str] = []
    ca_pem, ca_key = _unb64(ca_data.get("ca.crt")), _unb64(ca_data.get("ca.key"))
    ca = _load(ca_pem)
    previous = _load(_unb64(ca_data.get("previous-ca.crt")))
    if ca is None or not _key_matches(ca, ca_key):
        reason = "no CA yet" if not ca_pem else "the CA could not be read"
    elif _left(ca, now) < datetime.timedelta(days=CA_RENEW_DAYS):
        reason = "the CA expires on %s" % ca.not_valid_after_utc.isoformat()
    else:
        reason = ""
    if reason:
        if ca is not None and _left(ca, now) > datetime.timedelta(0):
            previous = ca
        ca_pem, ca_key = new_ca(now)
        ca = _load(ca_pem)
        rotated.append("CA: " + reason)
    if previous is not None and _left(previous, now) <= datetime.timedelta(0):
        previous = None
    names = service_dns_names(service, namespace)
    cert_pem, key_pem = _unb64(tls_data.get("tls.crt")), _unb64(tls_data.get("tls.key"))
    cert = _load(cert_pem)
    if cert is None or not _key_matches(cert, key_pem):
        reason = "no serving certificate yet" if not cert_pem else "the serving certificate could not be read"
    elif not _signed_by(cert, ca):
        reason = "the serving certificate is not signed by the current CA"
    elif sorted(_sans(cert)) != sorted(names):
        reason = "the serving certificate names %s, not %s" % (", ".join(_sans(cert)), ", ".join(names))
    elif _left(cert, now) < datetime.timedelta(days=CERT_RENEW_DAYS):
        reason = "the serving certificate expires on %s" % cert.not_valid_after_utc.isoformat()
    else:
        reason = ""
    if reason:
        cert_pem, key_pem = new_serving(ca_pem, ca_key, names, now)
        rotated.append("serving certificate: " + reason)
    bundle = ca_pem + (_pem_cert(previous) if previous is not None else b"")
    ca_out = {"ca.crt": _b64(ca_pem), "ca.key": _b64(ca_key)}
    if previous is not None:
        ca_out["previous-ca.crt"] = _b64(_pem_cert(previous))
    return {"ca": ca_out, "tls": {"tls.crt": _b64(cert_pem), "tls.key": _b64(key_pem), "ca.crt": _b64(bundle)},
            "ca_bundle": _b64(bundle), "rotated": rotated,
            "not_after": _load(cert_pem).not_valid_after_utc.isoformat()}
