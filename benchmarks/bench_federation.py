"""Federation across one link: records per second, and the catch-up after a cut.

Two real `truceguard serve` processes, GBR and FRA, each on its own SQLite store, with
certificates from a CA made here, linked over mutual TLS on loopback (FRA registered at GBR,
GBR at FRA). Every record is marked ``REL TO FRA, GBR``, so every record crosses.

Phase "stream": ``--stream`` records are added to GBR's store in batches of 1,000 while both
servers run; the rate is records held at FRA divided by the seconds from the first add to
the last record's arrival (counted in FRA's store every 50 ms).

Phase "catch-up": FRA is stopped (SIGTERM), ``--records`` (default 100,000) records are added
to GBR meanwhile, and FRA is started again; the catch-up time is from FRA answering again to
FRA holding them all, each once (a count of distinct identities); it includes the wait for
GBR's next try (a link to a partner that is down backs off, up to 5 s), printed apart, and the
rate after the first record arrived.

The peer: none. No federating server that a coalition user would pick instead runs on this
machine with a releasability filter to compare against (TAK Server federation needs the
Java TAK Server, which is not on PyPI; FreeTAKServer's federation is not a filter by
marking, and its services do not start here: benchmarks/README.md, "CoT"). So no ratio is
printed, only our figures.

    python benchmarks/bench_federation.py [--stream 20000] [--records 100000]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from truceguard.federation import add_partner
from truceguard.marking import Viewer
from truceguard.model import Observation, sha256_text
from truceguard.store import open_store
from truceguard.store.base import ObservationFilter

MARKING = "REL TO FRA, GBR"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_pki(d: Path) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    out: dict[str, str] = {}

    def build(cn: str, key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(ca_name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return b.sign(ca_key, hashes.SHA256())

    for name, key, ca in (("bench CA", ca_key, True),
                          ("gbr", ec.generate_private_key(ec.SECP256R1()), False),
                          ("fra", ec.generate_private_key(ec.SECP256R1()), False)):
        file = "ca" if ca else name
        (d / f"{file}.pem").write_bytes(build(name, key, ca).public_bytes(
            serialization.Encoding.PEM))
        (d / f"{file}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        out[file], out[f"{file}.key"] = str(d / f"{file}.pem"), str(d / f"{file}.key")
    return out


class Node:
    def __init__(self, name: str, nation: str, d: Path, pki: dict[str, str]) -> None:
        self.name, self.nation, self.pki = name, nation, pki
        self.db = str(d / f"{name}.db")
        self.api, self.fed = free_port(), free_port()
        self.log = d / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        with open_store(self.db) as store:
            store.set_owner_nation(nation)

    def start(self) -> float:
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "truceguard", "serve", "--db", self.db, "--port",
                 str(self.api), "--federation-cert", self.pki[self.name], "--federation-key",
                 self.pki[f"{self.name}.key"], "--federation-port", str(self.fed)],
                stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.api}/healthz", timeout=1).status_code \
                        == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)

    def count(self, tag: str) -> int:
        with open_store(self.db) as store:
            return store.count_observations(ObservationFilter(sources=(tag,)), Viewer.owner())


def link(a: Node, b: Node) -> None:
    with open_store(a.db) as store:
        add_partner(store, b.name, f"https://127.0.0.1:{b.fed}", b.nation, (), a.pki[a.name],
                    a.pki[f"{a.name}.key"], a.pki["ca"], relay=False, by="bench")


def add(node: Node, tag: str, start: int, n: int, batch: int = 5000) -> None:
    with open_store(node.db) as store:
        for at in range(start, start + n, batch):
            rows = []
            for i in range(at, min(at + batch, start + n)):
                raw = json.dumps({"tag": tag, "i": i, "text": "impact reported by patrol"})
                rows.append(Observation(
                    source=tag, how_known="heard", t_start=1_700_000_000 + i,
                    t_end=1_700_000_000 + i, time_precision_s=60, lat=48.0 + (i % 1000) / 1e4,
                    lon=37.8, uncertainty_m=1000.0, category="explosion", source_ref=str(i),
                    releasability=MARKING, raw=raw, raw_sha256=sha256_text(raw)))
            with store.transaction():
                store.add_observations(rows, reader="bench")


def wait_count(node: Node, tag: str, want: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.count(tag) >= want:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"{node.name} holds {node.count(tag)} of {want} after {timeout:g} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stream", type=int, default=20_000)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="truceguard-bench-fed-"))
    pki = make_pki(d)
    gbr, fra = Node("gbr", "GBR", d, pki), Node("fra", "FRA", d, pki)
    link(gbr, fra)
    link(fra, gbr)
    try:
        gbr.start()
        fra.start()
        begun = time.monotonic()
        add(gbr, "stream", 0, args.stream, batch=1000)
        done = wait_count(fra, "stream", args.stream, args.timeout)
        rate = args.stream / (done - begun)
        print(f"stream: {args.stream} records across one link in {done - begun:.1f} s: "
              f"{rate:,.0f} records/s")
        fra.stop()
        added = time.monotonic()
        add(gbr, "cut", 0, args.records)
        print(f"cut: {args.records} records added at GBR while FRA was down "
              f"({time.monotonic() - added:.1f} s)")
        up = fra.start()
        first = wait_count(fra, "cut", 1, args.timeout)
        done = wait_count(fra, "cut", args.records, args.timeout)
        catchup = done - up
        exact = fra.count("cut") == args.records
        print(f"catch-up: {args.records} records in {catchup:.1f} s after FRA came back "
              f"(of which {first - up:.1f} s until GBR's next try: it backs off up to 5 s "
              f"while the partner is down; then {args.records / (done - first):,.0f} "
              f"records/s); each once: {exact}")
        print("peer: none (no federating server with a marking filter runs here; see the "
              "docstring)")
        load = os.getloadavg()[0]
        print(json.dumps({"bench": "federation", "stream_records": args.stream,
                          "stream_records_per_s": round(rate), "catchup_records": args.records,
                          "catchup_s": round(catchup, 1),
                          "catchup_first_record_s": round(first - up, 1),
                          "catchup_records_per_s": round(args.records / (done - first)),
                          "exactly_once": exact, "peer": None, "ratio": None,
                          "load_average": round(load, 2)}))
    finally:
        gbr.stop()
        fra.stop()


if __name__ == "__main__":
    main()
