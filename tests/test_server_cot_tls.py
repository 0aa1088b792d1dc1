"""CoT over TLS: a client is a user by its certificate's SHA-256 fingerprint. Certificates are
made in the test (a CA, the server's, and clients' signed by it or by a stranger's CA)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import logging
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cot_fixtures import closed_by_server, event, run_clients, stored, until
from truceguard.errors import InputError
from truceguard.model import User
from truceguard.server.cot import CotConfig, start_cot

ALICE = User(2, "alice", "FRA", "observer", "REL TO FRA, GBR")
CAROL = User(3, "carol", "GBR", "observer", "REL TO GBR", disabled=True)


def _cert(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if name == "server":
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path | str]:
    """PEM files: ca, server, alice, bob (unknown), carol (disabled), mallory (a stranger's
    CA); and each client's fingerprint."""
    d = tmp_path_factory.mktemp("pki")
    out: dict[str, Path | str] = {}

    def write(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        out[name] = d / f"{name}.pem"
        out[f"{name}.key"] = d / f"{name}.key"
        out[f"{name}.sha256"] = hashlib.sha256(
            cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    for ca_name, clients in (("ca", ("server", "alice", "bob", "carol")),
                             ("stranger", ("mallory",))):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
        write(ca_name, _cert(ca_name, ca_key, ca_subject, ca_key, ca=True), ca_key)
        for name in clients:
            key = ec.generate_private_key(ec.SECP256R1())
            write(name, _cert(name, key, ca_subject, ca_key), key)
    return out


def _config(pki: dict[str, Path | str]) -> CotConfig:
    return CotConfig(tls_port=0, certfile=str(pki["server"]), keyfile=str(pki["server.key"]),
                     client_ca=str(pki["ca"]))


async def _tls_connect(port: int, pki: dict[str, Path | str], who: str
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.load_cert_chain(str(pki[who]), str(pki[f"{who}.key"]))
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx)


def test_tls_clients_are_users_by_certificate(store, pki, caplog):
    caplog.set_level(logging.INFO, "truceguard.server")
    users = {str(pki["alice.sha256"]): ALICE, str(pki["carol.sha256"]): CAROL}

    async def scenario() -> None:
        svc = await start_cot(store, _config(pki), resolve_cert=users.get)
        port = svc.server.ports["tls"]
        # alice, with pytak (TLS, client certificate), in XML and in protobuf
        url = f"tls://127.0.0.1:{port}"
        tls = {"PYTAK_TLS_CLIENT_CERT": str(pki["alice"]),
               "PYTAK_TLS_CLIENT_KEY": str(pki["alice.key"]),
               "PYTAK_TLS_CLIENT_CAFILE": str(pki["ca"])}
        await run_clients([{"url": url, "n": 50, "proto": p, "prefix": f"al{p}", "hello": True,
                            "config": tls} for p in (0, 1)])
        await until(lambda: svc.sink.stats.received >= 100)
        # bob is unknown and carol disabled: refused right after the handshake
        for who in ("bob", "carol"):
            reader, writer = await _tls_connect(port, pki, who)
            writer.write(event(f"{who}-1"))
            assert await closed_by_server(reader), who
            writer.close()
        # mallory's certificate is not signed by the client CA: the handshake fails (with
        # TLS 1.3 the client may learn it only at its first read)
        try:
            reader, writer = await _tls_connect(port, pki, "mallory")
            writer.write(event("mallory-1"))
            assert await closed_by_server(reader)
            writer.close()
        except (ssl.SSLError, ConnectionError):
            pass
        # disabling alice ends her live session at once
        reader, writer = await _tls_connect(port, pki, "alice")
        writer.write(event("al-live"))
        await until(lambda: svc.sink.stats.received >= 101)
        assert svc.disconnect_user("alice") == 1
        assert await closed_by_server(reader)
        writer.close()
        await svc.stop()

    asyncio.run(scenario())
    rows = stored(store)
    assert len(rows) == 101
    assert {r.attributes["submitted_by"] for r in rows} == {"alice"}
    assert {r.releasability for r in rows} == {"REL TO FRA, GBR"}
    assert sum(r.attributes.get("wire") == "takproto" for r in rows) == 50
    assert f"certificate {pki['bob.sha256']} is not a known user's" in caplog.text
    assert f"certificate {pki['carol.sha256']} is user carol's, who is disabled" in caplog.text
    assert "user alice disconnected by the server" in caplog.text


def test_tls_needs_its_files_and_a_resolver(pki, store):
    with pytest.raises(InputError, match="needs a certificate, its key and a client CA"):
        CotConfig(tls_port=0, certfile=str(pki["server"]))

    async def scenario() -> None:
        with pytest.raises(InputError, match="needs resolve_cert"):
            await start_cot(store, _config(pki))
        bad = CotConfig(tls_port=0, certfile=str(pki["server"]), keyfile=str(pki["alice.key"]),
                        client_ca=str(pki["ca"]))
        with pytest.raises(InputError, match="cannot load the CoT TLS certificate"):
            await start_cot(store, bad, resolve_cert=lambda fp: None)

    asyncio.run(scenario())
