"""Federation's parts without servers: the batch format and its bounds, the trust rules, the
store's ledgers on both backends, and the `truceguard federation` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_federation import make_pki, observation
from truceguard.cli import main
from truceguard.errors import InputError, MarkingError
from truceguard.federation import add_partner, refusal, send_decision
from truceguard.federation.link import plan_step
from truceguard.federation.receive import keys_detail, receive_batch
from truceguard.federation.wire import (
    MAX_BODY,
    FederationInputError,
    batch_body,
    parse_batch,
    record_document,
)
from truceguard.marking import Viewer, parse_marking
from truceguard.store import Store, open_store
from truceguard.store.base import ObservationFilter
from truceguard.store.federation import Partner


def partner(name: str = "fra", nation: str = "FRA", *, relay: bool = False,
            groups: tuple[str, ...] = ("EU", "NATO")) -> Partner:
    return Partner(1, name, "https://127.0.0.1:1", nation, groups, "c", "k", "ca", relay, 0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_pki(tmp_path_factory.mktemp("pki"))


# -- the batch format -------------------------------------------------------------------------
@settings(max_examples=30, derandomize=True)
@given(marking=st.sampled_from(["PUBLIC", "REL TO FRA, GBR", "REL TO NATO"]),
       i=st.integers(0, 10_000), via=st.lists(st.sampled_from(["gbr", "fra", "ukr"]),
                                              min_size=1, max_size=3, unique=True))
def test_a_record_crosses_the_wire_unchanged(marking: str, i: int, via: list[str]) -> None:
    obs = observation("wire", i, marking)
    doc = record_document(via[0], str(i), tuple(via), parse_marking(marking), obs)
    batch = parse_batch(batch_body([doc], [("gbr", "7")]))
    (rec,) = batch.records
    assert (rec.origin, rec.original_id, rec.via) == (via[0], str(i), tuple(via))
    assert rec.marking == parse_marking(marking) and rec.digest == obs.raw_sha256
    got = rec.observation
    for f in ("source", "t_start", "lat", "lon", "category", "raw", "raw_sha256", "source_ref"):
        assert getattr(got, f) == getattr(obs, f), f
    assert batch.withdrawals == (("gbr", "7"),)


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[]", b"{}", b'{"format": "x"}',
                                  b'{"format": "truceguard-federation/1", "records": {}}',
                                  b'{"format": "truceguard-federation/1", "records": [], '
                                  b'"withdrawals": [1]}', b"NaN", b"[" * 100_000])
def test_garbage_is_refused_whole(body: bytes) -> None:
    with pytest.raises(FederationInputError) as err:
        parse_batch(body)
    assert err.value.code in ("federation.bad_batch", "federation.bad_record")


def test_bounds() -> None:
    with pytest.raises(FederationInputError) as err:
        parse_batch(b" " * (MAX_BODY + 1))
    assert err.value.code == "input.too_large"
    many = {"format": "truceguard-federation/1", "records": [{}] * 2001}
    with pytest.raises(FederationInputError):
        parse_batch(json.dumps(many).encode())


@pytest.mark.parametrize(("change", "code"), [
    ({"lat": 91}, "federation.bad_record"), ({"t_start": True}, "federation.bad_record"),
    ({"category": "ufo"}, "federation.bad_record"), ({"raw": "x" * 70_000},
                                                     "federation.bad_record"),
    ({"raw": "edited"}, "federation.bad_digest"), ({"lon": 200.5},
                                                   "federation.bad_record"),
    ({"report": {"kind": "fire", "bearing_deg": "x" * 300}}, "federation.bad_record"),
    ({"attributes": {"k": "v" * 20_000}}, "federation.bad_record")])
def test_a_bad_record_is_refused_alone(change: dict[str, object], code: str) -> None:
    obs = observation("bad", 1, "PUBLIC")
    good = record_document("fra", "1", ("fra",), parse_marking("PUBLIC"), obs)
    bad = record_document("fra", "2", ("fra",), parse_marking("PUBLIC"), obs)
    bad["observation"] = {**bad["observation"], **change}  # type: ignore[dict-item]
    batch = parse_batch(batch_body([good, bad], []))
    assert [r.original_id for r in batch.records] == ["1"]
    assert [(b.original_id, b.code) for b in batch.bad] == [("2", code)]


# -- the rules ---------------------------------------------------------------------------------
def test_what_a_partner_may_receive() -> None:
    fra = partner()
    ok = (("fra", ("fra",)), ("ukr", ("ukr", "fra")))
    assert refusal("fra", ("fra",), parse_marking("REL TO GBR"), fra, "gbr", "GBR") is None
    assert refusal("fra", ("fra",), parse_marking("REL TO FRA"), fra, "gbr", "GBR")[0] == \
        "federation.not_releasable"
    assert refusal("ukr", ("ukr",), parse_marking("PUBLIC"), fra, "gbr", "GBR")[0] == \
        "federation.forged_origin"
    assert refusal("ukr", ("fra", "fra"), parse_marking("PUBLIC"), fra, "gbr", "GBR")[0] == \
        "federation.forged_origin"
    assert refusal("gbr", ("gbr", "fra"), parse_marking("PUBLIC"), partner(relay=True),
                   "gbr", "GBR")[0] == "federation.loop"
    origin, via = ok[1]
    assert refusal(origin, via, parse_marking("PUBLIC"), fra, "gbr", "GBR")[0] == \
        "federation.not_relayed"
    relaying = partner(relay=True)
    assert refusal(origin, via, parse_marking("PUBLIC"), relaying, "gbr", "GBR") is None
    # a relayed record its sender's nation may not hold: refused
    assert refusal(origin, via, parse_marking("REL TO GBR, UKR"), relaying, "gbr", "GBR")[0] \
        == "federation.not_releasable"


def test_a_partner_limited_to_one_group_gets_no_other_groups_records() -> None:
    fra_nato = partner(groups=("NATO",))
    store_item = _item("REL TO EU")
    assert send_decision(store_item, fra_nato, "gbr").action == "hold"
    assert send_decision(_item("REL TO NATO"), fra_nato, "gbr").action == "send"
    assert send_decision(_item("REL TO FRA"), fra_nato, "gbr").action == "send"


def _item(marking: str, *, settled: str | None = None, via: tuple[str, ...] = ()) -> object:
    from truceguard.store.federation import Outgoing

    m = parse_marking(marking)
    return Outgoing(5, observation("i", 5, marking), 9, m, via[0] if via else "",
                    "5" if not via else "77", via, settled, 8 if settled else None)


def test_send_decisions() -> None:
    fra = partner()
    assert send_decision(_item("REL TO FRA, GBR"), fra, "gbr").action == "send"
    assert send_decision(_item("REL TO GBR"), fra, "gbr").action == "hold"
    assert send_decision(_item("REL TO GBR", settled="sent"), fra, "gbr").action == "withdraw"
    assert send_decision(_item("REL TO FRA", settled="sent"), fra, "gbr").action == "send"
    # never back to where it came from, and onward only over a relaying link
    assert send_decision(_item("PUBLIC", via=("fra",)), partner(relay=True), "gbr").action \
        == "hold"
    assert send_decision(_item("PUBLIC", via=("ukr",)), fra, "gbr").action == "hold"
    assert send_decision(_item("PUBLIC", via=("ukr",)), partner(relay=True), "gbr").action \
        == "send"


# -- the store ---------------------------------------------------------------------------------
def _registered(store: Store, pki: dict[str, str], *, relay: bool = False) -> Partner:
    store.set_owner_nation("GBR")
    return add_partner(store, "fra", "https://127.0.0.1:9", "FRA", (), pki["gbr"],
                       pki["gbr.key"], pki["ca"], relay=relay, by="test")


def _receive(store: Store, p: Partner, records: list[dict[str, object]],
             withdrawals: list[tuple[str, str]] = ()) -> dict[str, object]:
    return receive_batch(store, p, parse_batch(batch_body(records, list(withdrawals))),
                         "gbr", "GBR")


def test_receiving_is_idempotent_narrows_and_withdraws(store: Store, pki: dict[str, str]
                                                       ) -> None:
    p = _registered(store, pki)
    wide = parse_marking("REL TO FRA, GBR, UKR")
    doc = record_document("fra", "1", ("fra",), wide, observation("st", 1, wide.text))
    assert _receive(store, p, [doc])["accepted"] == 1
    assert _receive(store, p, [doc, doc])["duplicates"] == 2  # a replay: stored once
    narrow = {**doc, "marking": "REL TO FRA, GBR"}
    assert _receive(store, p, [narrow])["updated"] == 1
    assert _receive(store, p, [doc])["duplicates"] == 1  # a late wider copy changes nothing
    (obs,) = store.observations(ObservationFilter(sources=("st",)), Viewer.owner())
    assert obs.releasability == "REL TO FRA, GBR" and obs.source_file == "federation:fra"
    got = _receive(store, p, [], [("fra", "1"), ("fra", "404")])
    assert got["withdrawn"] == 1
    assert store.count_observations(ObservationFilter(sources=("st",)), Viewer.owner()) == 0
    actions = [e.action for e in store.audit_entries()]
    assert {"federation.received", "federation.withdrawn",
            "federation.partner_added"} <= set(actions)
    assert _receive(store, p, [doc])["accepted"] == 1  # sent again: held again


def test_the_ledger_resumes_where_the_partner_acknowledged(store: Store,
                                                           pki: dict[str, str]) -> None:
    p = _registered(store, pki)
    with store.transaction():
        store.add_observations([observation("feed", i, m) for i, m in
                                enumerate(["REL TO FRA, GBR", "REL TO GBR", "PUBLIC"])],
                               reader="test")
    pending = store.federation_pending(p.partner_id, 10)
    plan = plan_step(pending, p, "gbr")
    assert len(plan.records) == 2 and len(plan.held) == 1
    # not acknowledged: the same again
    assert [i.obs_id for i in store.federation_pending(p.partner_id, 10).items] == \
        [i.obs_id for i in pending.items]
    from truceguard.store.federation import Settled

    settled = [Settled(i.obs_id, i.marking_id, "sent", "gbr", str(i.obs_id))
               for i in plan.record_items] + plan.held
    store.federation_settle(p.partner_id, settled, pending.obs_cursor, pending.change_cursor,
                            sent=2, refused=0, withdrawn=0)
    assert store.federation_pending(p.partner_id, 10).items == ()
    (link,) = store.federation_links()
    assert (link.sent, link.pending) == (2, 0)
    # remarked narrower: owed a withdrawal
    first = plan.record_items[0].obs_id
    store.remark([first], parse_marking("REL TO GBR"), "test", "narrower")
    again = plan_step(store.federation_pending(p.partner_id, 10), p, "gbr")
    assert [w.obs_id for w in again.withdrawals] == [first]


def test_keys_detail_lists_or_digests() -> None:
    assert keys_detail(["b#1", "a#2"]) == {"records": ["a#2", "b#1"]}
    many = keys_detail([f"a#{i}" for i in range(500)])
    assert many["records_count"] == 500 and len(many["records_sorted_sha256"]) == 64


# -- the commands ------------------------------------------------------------------------------
def test_federation_commands(tmp_path: Path, pki: dict[str, str]) -> None:
    runner = CliRunner()
    db = str(tmp_path / "fed.db")
    with open_store(db) as store:
        store.set_owner_nation("GBR")
    base = ["--cert", pki["gbr"], "--key", pki["gbr.key"], "--ca", pki["ca"], "--db", db]
    ok = runner.invoke(main, ["federation", "add", "fra", "--url", "https://127.0.0.1:8443",
                              "--nation", "FRA", "--relay", *base])
    assert ok.exit_code == 0, ok.output
    assert "speaks for FRA (EU, NATO), relays" in ok.output
    listed = runner.invoke(main, ["federation", "list", "--db", db])
    assert "fra" in listed.output and "https://127.0.0.1:8443" in listed.output
    status = runner.invoke(main, ["federation", "status", "--format", "json", "--db", db])
    (row,) = json.loads(status.output)
    assert row["partner"] == "fra" and row["sent"] == 0
    bad = [(["--url", "http://x:1", "--nation", "FRA"], "input.bad_url"),
           (["--url", "https://x", "--nation", "FRA"], "input.bad_url"),
           (["--url", "https://x:1", "--nation", "FR"], "marking.unknown_code"),
           (["--url", "https://x:1", "--nation", "NATO"], "input.bad_nation"),
           (["--url", "https://x:1", "--nation", "FRA", "--group", "FVEY"], "input.bad_group")]
    for args, code in bad:
        got = runner.invoke(main, ["federation", "add", "ita", "--format", "json", *args,
                                   *base])
        assert got.exit_code == 1, got.output
        assert json.loads(got.output)["error"]["code"] == code, got.output
    dup = runner.invoke(main, ["federation", "add", "fra", "--format", "json", "--url",
                               "https://x:1", "--nation", "FRA", *base])
    assert json.loads(dup.output)["error"]["code"] == "input.duplicate"
    mismatched = ["--cert", pki["gbr"], "--key", pki["fra.key"], "--ca", pki["ca"], "--db", db]
    got = runner.invoke(main, ["federation", "add", "ita", "--format", "json", "--url",
                               "https://x:1", "--nation", "ITA", *mismatched])
    assert json.loads(got.output)["error"]["code"] == "input.bad_certificate"
    assert runner.invoke(main, ["federation", "remove", "fra", "--db", db]).exit_code == 0
    gone = runner.invoke(main, ["federation", "remove", "fra", "--format", "json", "--db", db])
    assert json.loads(gone.output)["error"]["code"] == "not_found.partner"


def test_errors_are_domain_errors() -> None:
    assert issubclass(FederationInputError, InputError)
    with pytest.raises(MarkingError):
        parse_marking("REL TO XX%")


def test_a_peer_is_the_partner_its_own_ca_vouches_for(pki: dict[str, str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from truceguard.federation.tls import load_cas, peer_partner

    def der(name: str) -> bytes:
        cert = x509.load_pem_x509_certificate(Path(pki[name]).read_bytes())
        return cert.public_bytes(serialization.Encoding.DER)

    fra = Partner(1, "fra", "https://127.0.0.1:1", "FRA", (), "c", "k", pki["ca"], False, 0)
    other_ca = Partner(1, "fra", "https://127.0.0.1:1", "FRA", (), "c", "k", pki["stranger"],
                       False, 0)
    assert peer_partner(der("fra"), [fra], load_cas([fra])) == fra
    assert peer_partner(der("gbr"), [fra], load_cas([fra])) is None  # another name
    assert peer_partner(der("fra"), [other_ca], load_cas([other_ca])) is None  # another CA
    assert peer_partner(der("rogue"), [fra], load_cas([fra])) is None


def _origin_and_relay(store: Store, pki: dict[str, str]) -> tuple[Partner, Partner]:
    """fra's store with two partners: gbr (an origin) and ukr (a relay)."""
    store.set_owner_nation("FRA")
    origin = add_partner(store, "gbr", "https://127.0.0.1:9", "GBR", (), pki["gbr"],
                         pki["gbr.key"], pki["ca"], relay=False, by="test")
    relay = add_partner(store, "ukr", "https://127.0.0.1:8", "UKR", (), pki["gbr"],
                        pki["gbr.key"], pki["ca"], relay=True, by="test")
    return origin, relay


def test_the_origins_copy_is_not_withdrawn_by_the_relay_that_brought_it_first(
        store: Store, pki: dict[str, str]) -> None:
    """A record that came first through a relay, then from its origin: when the relay may no
    longer hold it (a narrower marking at the origin) its withdrawal must not take the copy
    the origin sent (that was lost: the origin counts it delivered and never sends it again)."""
    origin, relay = _origin_and_relay(store, pki)
    wide = parse_marking("REL TO FRA, GBR, UKR")
    doc = record_document("gbr", "0", ("gbr",), wide, observation("rl", 0, wide.text))

    def receive(p: Partner, records: list[dict[str, object]],
                withdrawals: list[tuple[str, str]]) -> dict[str, object]:
        return receive_batch(store, p, parse_batch(batch_body(records, withdrawals)), "fra",
                             "FRA")

    assert receive(relay, [{**doc, "via": ["gbr", "ukr"]}], [])["accepted"] == 1
    narrow = {**doc, "marking": "REL TO FRA, GBR"}
    assert receive(origin, [narrow], [])["updated"] == 1
    assert receive(relay, [], [("gbr", "0")])["withdrawn"] == 0
    (obs,) = store.observations(ObservationFilter(sources=("rl",)), Viewer.owner())
    assert obs.releasability == "REL TO FRA, GBR"
    assert receive(origin, [], [("gbr", "0")])["withdrawn"] == 1  # the origin still may


def test_one_record_from_two_partners_at_once_is_stored_once(
        store: Store, pki: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """gbr's record arrives from gbr and, relayed, from ukr at the same moment, each batch
    reading it as new before the other wrote it: one stores it, the other finds it held. (On
    PostgreSQL the second insert failed its whole batch with a unique violation, a 500 to
    the partner; seen under load in the three-server federation test.)"""
    import contextlib
    import threading

    origin, relay = _origin_and_relay(store, pki)
    wide = parse_marking("REL TO FRA, GBR, UKR")
    doc = record_document("gbr", "0", ("gbr",), wide, observation("race", 0, wide.text))
    both_read = threading.Barrier(2)
    real = type(store)._received_rows

    def read_then_wait(self: Store, records: object) -> object:
        got = real(self, records)  # type: ignore[arg-type]
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=1)  # receivers taking turns: the first waits alone
        return got

    monkeypatch.setattr(type(store), "_received_rows", read_then_wait)
    answers: dict[str, dict[str, object]] = {}
    errors: list[BaseException] = []

    def receive(p: Partner, record: dict[str, object]) -> None:
        try:
            answers[p.name] = receive_batch(store, p, parse_batch(batch_body([record], [])),
                                            "fra", "FRA")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=receive, args=(origin, doc)),
               threading.Thread(target=receive, args=(relay, {**doc, "via": ["gbr", "ukr"]}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted((a["accepted"], a["duplicates"]) for a in answers.values()) == [(0, 1), (1, 0)]
    assert store.count_observations(ObservationFilter(sources=("race",)), Viewer.owner()) == 1
