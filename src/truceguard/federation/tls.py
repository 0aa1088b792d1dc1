"""Certificates on a federation link: who a peer is, and the TLS contexts both ways.

A server's name in the federation is the common name (CN) of its federation certificate
(``serve --federation-cert``): it is the origin its records carry, and the name its partners
register it under. The listener asks every client for a certificate (mutual TLS) and trusts
the CAs of the registered partners; a client is the partner whose name is its certificate's
CN *and* whose own CA issued it (``peer_partner``), so a partner's CA cannot vouch for another
partner. The client side (``client_context``) presents the certificate registered for the
partner and trusts only the partner's CA, with the host name checked.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from truceguard.errors import InputError
from truceguard.store.federation import Partner


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def load_certificate(path: str, what: str) -> x509.Certificate:
    """The first certificate of the PEM file ``path``; InputError naming it otherwise."""
    try:
        data = Path(path).read_bytes()
        return x509.load_pem_x509_certificates(data)[0]
    except (OSError, ValueError, IndexError) as exc:
        raise InputError(f"{what} {path!r} is not a readable PEM certificate ({exc})",
                         hint="give the certificate file in PEM form",
                         code="input.bad_certificate") from None


def own_name(certfile: str) -> str:
    """This server's federation name: the CN of its certificate."""
    name = common_name(load_certificate(certfile, "--federation-cert"))
    if not name:
        raise InputError(f"--federation-cert {certfile!r} has no common name (CN)",
                         hint="the CN is this server's name in the federation",
                         code="input.bad_certificate")
    return name


def check_key_pair(cert: str, key: str, what: str) -> None:
    """InputError when ``cert`` and ``key`` are not a matching PEM pair."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"{what} {cert!r} and its key {key!r} do not load together ({exc})",
                         hint="give the PEM certificate and its private key",
                         code="input.bad_certificate") from None


def server_context(certfile: str, keyfile: str, cas: Iterable[str]) -> ssl.SSLContext:
    """The listener's context: TLS 1.2 or later, a client certificate required, issued by
    one of ``cas``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    ctx.verify_mode = ssl.CERT_REQUIRED
    for ca in cas:
        ctx.load_verify_locations(ca)
    return ctx


def client_context(partner: Partner) -> ssl.SSLContext:
    """The context to reach ``partner``: its CA alone trusted, this server's certificate
    for it presented."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=partner.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(partner.cert, partner.key)
    return ctx


def load_cas(partners: Iterable[Partner]) -> dict[str, list[x509.Certificate]]:
    """Each partner's CA file, read (an unreadable one: no certificate)."""
    out: dict[str, list[x509.Certificate]] = {}
    for p in partners:
        try:
            out[p.ca] = x509.load_pem_x509_certificates(Path(p.ca).read_bytes())
        except (OSError, ValueError):
            out[p.ca] = []
    return out


def peer_partner(der: bytes, partners: Iterable[Partner],
                 cas: dict[str, list[x509.Certificate]]) -> Partner | None:
    """The partner a client certificate (DER, already verified by TLS) stands for: its CN is
    the partner's name and the partner's CA (``cas``: ``load_cas``) issued it. None when no
    partner fits."""
    cert = x509.load_der_x509_certificate(der)
    name = common_name(cert)
    for p in partners:
        if p.name != name:
            continue
        for ca in cas.get(p.ca, []):
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):  # not issued by this CA
                continue
            return p
    return None


__all__ = ["check_key_pair", "client_context", "common_name", "load_cas", "load_certificate",
           "own_name", "peer_partner", "server_context"]
