"""Failed logins are throttled per source address and aggregated in the audit log; the audit
chain is keyed with a secret outside the database and anchored by a head the operator keeps."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.server_fixtures import make_users, running
from truceguard.audit import (
    GENESIS,
    KEYED_ACTION,
    create_key_file,
    entry_hash,
    load_key,
    make_anchor,
    verify_log,
)
from truceguard.cli import main
from truceguard.errors import InputError
from truceguard.server.throttle import LoginThrottle
from truceguard.store import Store, open_store


# -- the throttle --------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_failures_block_an_address_with_backoff_up_to_a_cap() -> None:
    clock = Clock()
    t = LoginThrottle(limit=10, window_s=60, base_s=60, cap_s=300, clock=clock)
    for _ in range(9):
        assert t.failed("10.0.0.1", "unknown token") is None
    assert t.retry_after("10.0.0.1") is None
    assert t.failed("10.0.0.1", "unknown token") == 60  # the tenth within the minute
    assert t.retry_after("10.0.0.1") == 60
    assert t.retry_after("10.0.0.2") is None  # other addresses are not affected
    blocks = []
    for _ in range(4):
        clock.t += t.retry_after("10.0.0.1") or 0
        assert t.retry_after("10.0.0.1") is None
        blocks.append([t.failed("10.0.0.1", "unknown token") for _ in range(10)][-1])
    assert blocks == [120, 240, 300, 300]  # doubled, up to the cap


def test_failures_spread_over_more_than_the_window_are_not_blocked() -> None:
    clock = Clock()
    t = LoginThrottle(limit=10, window_s=60, clock=clock)
    for _ in range(50):
        assert t.failed("10.0.0.1", "unknown token") is None
        clock.t += 7  # fewer than 10 in any minute


def test_a_token_that_succeeded_from_the_address_is_not_throttled() -> None:
    t = LoginThrottle(limit=3, clock=Clock())
    t.succeeded("10.0.0.1", "good")
    for _ in range(3):
        t.failed("10.0.0.1", "unknown token")
    assert t.retry_after("10.0.0.1", "good") is None
    assert t.retry_after("10.0.0.1", "guess") is not None
    assert t.retry_after("10.0.0.1", None) is not None


def test_memory_is_bounded_with_many_addresses() -> None:
    clock = Clock()
    t = LoginThrottle(max_addresses=1000, clock=clock)
    for i in range(20_000):
        t.failed(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "unknown token")
        assert len(t) <= 1000
    rows = t.due()  # the evicted addresses' tallies, each once
    assert len(rows) == 19_000 and all(r["count"] == 1 for r in rows)
    assert t.due() == []
    clock.t += 61
    assert len(t.due()) == 1000 and len(t) == 0  # closed minutes written, idle addresses gone


def test_failures_are_tallied_once_per_address_and_minute() -> None:
    clock = Clock()
    t = LoginThrottle(limit=10, clock=clock)
    for _ in range(30):  # as the server does: a blocked request is not checked
        if t.retry_after("10.0.0.1") is None:
            t.failed("10.0.0.1", "unknown token")
    t.failed("10.0.0.2", "disabled user", "bob")
    assert t.due() == []  # the minute has not closed
    clock.t += 60
    rows = {r["address"]: r for r in t.due()}
    assert rows["10.0.0.1"]["count"] == 10  # then blocked: the rest are throttled
    assert rows["10.0.0.1"]["reasons"] == {"unknown token": 10}
    assert rows["10.0.0.1"]["throttled"] == 20
    assert rows["10.0.0.2"]["users"] == ["bob"]
    assert t.due() == [] and t.drain() == []


# -- the server ----------------------------------------------------------------------------------
def test_a_flood_of_bad_tokens_is_throttled_and_audited_in_one_row(tmp_path: Path) -> None:
    db = str(tmp_path / "mission.db")
    tokens = make_users(db)
    with open_store(db) as store:
        before = len(store.audit_entries())
    with running(db, tmp_path / "server.log") as srv:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            ok = c.get("/api/v1/terms", headers={"Authorization": f"Bearer {tokens['gbr']}"})
            assert ok.status_code == 200  # gbr's token is now known from this address
            answers = [c.get("/api/v1/observations",
                             headers={"Authorization": f"Bearer wrong-{i}"})
                       for i in range(200)]
            codes = [r.status_code for r in answers]
            assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
            late = answers[-1]
            assert 1 <= int(late.headers["Retry-After"]) <= 60
            assert late.json()["error"]["code"] == "auth.throttled"
            # A token that worked from this address still works; one never seen here
            # waits for the block to end like any other.
            r = c.get("/api/v1/terms", headers={"Authorization": f"Bearer {tokens['gbr']}"})
            assert r.status_code == 200
            r = c.get("/api/v1/terms", headers={"Authorization": f"Bearer {tokens['fra']}"})
            assert r.status_code == 429
        with open_store(db) as store:  # nothing written during the flood
            assert len(store.audit_entries()) == before
    with open_store(db) as store:  # at shutdown: one row for the address, with the counts
        rows = [e for e in store.audit_entries()[before:] if e.action == "auth.failed"]
        assert len(rows) == 1 and len(store.audit_entries()) == before + 1
        d = rows[0].detail
        assert d["address"] == "127.0.0.1" and d["count"] == 10 and d["throttled"] == 191
        assert verify_log(store.audit_entries(), store.audit_head()).ok


# -- the keyed chain and the anchor --------------------------------------------------------------
@pytest.fixture
def key(tmp_path: Path) -> bytes:
    path = tmp_path / "audit.key"
    assert create_key_file(path)
    return load_key(path)


def fill(store: Store, n: int = 6) -> None:
    for i in range(n):
        store.audit("cli", "user.add", {"name": f"u{i}"})


def drop_triggers(store: Store) -> None:
    on = " ON audit_log" if store.backend == "postgresql" else ""
    with store.transaction():
        for name in ("audit_log_no_update", "audit_log_no_delete"):
            store._exec(f"DROP TRIGGER {name}{on}")  # type: ignore[attr-defined]


def rewrite_consistently(store: Store) -> None:
    """Recompute the whole chain (without the key) after editing an entry, head included."""
    rows = store._rows("SELECT seq, at, actor, action, detail FROM audit_log "  # type: ignore[attr-defined]
                       "WHERE action <> ? ORDER BY seq", (KEYED_ACTION,))
    with store.transaction():
        store._exec("DELETE FROM audit_log")  # type: ignore[attr-defined]
        prev = GENESIS
        for seq, (_, at, actor, action, detail) in enumerate(rows, 1):
            d = json.loads(detail)
            if d.get("name") == "u2":
                d["name"] = "mallory"
            h = entry_hash(prev, seq, at, actor, action, d)
            store._exec("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?)",  # type: ignore[attr-defined]
                        (seq, at, actor, action, json.dumps(d, sort_keys=True), prev, h))
            prev = h
        store._set_meta("audit_head", f"{len(rows)}:{prev}")  # type: ignore[attr-defined]


def edit_detail(store: Store) -> None:
    with store.transaction():
        store._exec("UPDATE audit_log SET detail = ? WHERE seq = 4",  # type: ignore[attr-defined]
                    (json.dumps({"name": "mallory"}),))


def delete_tail(store: Store) -> None:
    last = store.audit_entries()[-3]
    with store.transaction():
        store._exec("DELETE FROM audit_log WHERE seq > ?", (last.seq,))  # type: ignore[attr-defined]
        store._set_meta("audit_head", f"{last.seq}:{last.hash}")  # type: ignore[attr-defined]


def empty_log(store: Store) -> None:
    with store.transaction():
        store._exec("DELETE FROM audit_log")  # type: ignore[attr-defined]
        store._exec("DELETE FROM meta WHERE key = 'audit_head'")  # type: ignore[attr-defined]


TAMPERS: dict[str, tuple[Any, str]] = {
    "edit": (edit_detail, "entry 4 was edited"),
    "rewrite": (rewrite_consistently, "no audit.keyed entry"),
    "tail": (delete_tail, "before the anchored entry"),
    "empty": (empty_log, "no audit.keyed entry"),
}


def test_an_unkeyed_log_cannot_show_a_rewrite_but_the_anchor_does(store: Store) -> None:
    store.set_audit_key(None)
    fill(store)
    anchor = make_anchor(store.audit_entries(), None, 0)
    drop_triggers(store)
    rewrite_consistently(store)
    check = verify_log(store.audit_entries(), store.audit_head())
    assert check.ok and "not keyed" in check.note  # what the plain chain cannot see
    check = verify_log(store.audit_entries(), store.audit_head(), anchor=anchor)
    assert not check.ok and "the chain was rewritten" in check.problem


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_each_tamper_is_found_with_the_key_and_the_anchor(store: Store, key: bytes,
                                                         tamper: str) -> None:
    store.set_audit_key(None)
    fill(store, 2)  # entries from before the key: they verify as before
    store.set_audit_key(key)
    fill(store)
    entries = store.audit_entries()
    assert [e.action for e in entries].count(KEYED_ACTION) == 1 and entries[2].seq == 3
    anchor = make_anchor(entries, key, 0)
    check = verify_log(entries, store.audit_head(), key=key, anchor=anchor)
    assert check.ok and check.keyed_from == 3 and not check.note
    drop_triggers(store)
    action, found = TAMPERS[tamper]
    action(store)
    check = verify_log(store.audit_entries(), store.audit_head(), key=key, anchor=anchor)
    assert not check.ok and found in check.problem, check
    if tamper in ("tail", "empty"):  # the anchor alone finds them too
        check = verify_log(store.audit_entries(), store.audit_head(), anchor=anchor)
        assert not check.ok and ("tail was deleted" in check.problem
                                 or "log was emptied" in check.problem), check


def test_a_keyed_log_refuses_writes_without_its_key(store: Store, key: bytes,
                                                    tmp_path: Path) -> None:
    store.set_audit_key(key)
    fill(store, 1)
    store.set_audit_key(None)
    with pytest.raises(InputError, match="needs its key"):
        store.audit("cli", "user.add", {})
    other = tmp_path / "other.key"
    create_key_file(other)
    store.set_audit_key(load_key(other))
    with pytest.raises(InputError, match="another key"):
        store.audit("cli", "user.add", {})
    check = verify_log(store.audit_entries(), store.audit_head(), key=load_key(other))
    assert not check.ok and "another key" in check.problem
    check = verify_log(store.audit_entries(), store.audit_head())
    assert check.ok and "without the key" in check.note


def test_a_forged_anchor_is_found(store: Store, key: bytes) -> None:
    store.set_audit_key(key)
    fill(store)
    a = make_anchor(store.audit_entries(), key, 0)
    forged = type(a)(a.seq - 1, store.audit_entries()[-2].hash, a.at, a.key_id, a.hmac)
    check = verify_log(store.audit_entries(), store.audit_head(), key=key, anchor=forged)
    assert not check.ok and "signature does not match" in check.problem


# -- the CLI -------------------------------------------------------------------------------------
def test_cli_init_key_anchor_and_verify(tmp_path: Path, runner: CliRunner) -> None:
    db, keyfile, head = str(tmp_path / "m.db"), tmp_path / "audit.key", tmp_path / "head.json"
    assert runner.invoke(main, ["init", "--db", db]).exit_code == 0
    with open_store(db) as store:
        store.set_audit_key(None)
        fill(store, 2)
    r = runner.invoke(main, ["audit", "verify", "--db", db])
    assert r.exit_code == 0 and "not keyed" in r.stdout, r.output
    r = runner.invoke(main, ["init", "--db", db, "--audit-key", str(keyfile)])
    assert r.exit_code == 0 and "keyed from entry 3" in r.stdout, r.output
    assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
    env = {"TRUCEGUARD_AUDIT_KEY_FILE": str(keyfile)}
    assert runner.invoke(main, ["users", "add", "ann", "--nation", "GBR", "--role", "admin",
                                "--db", db], env=env).exit_code == 0
    r = runner.invoke(main, ["audit", "anchor", "-o", str(head), "--db", db,
                             "--audit-key", str(keyfile)])
    assert r.exit_code == 0 and "anchored entry 4" in r.stdout, r.output
    assert json.loads(head.read_text())["hmac"]
    r = runner.invoke(main, ["audit", "verify", "--db", db, "--anchor", str(head)], env=env)
    assert r.exit_code == 0 and "keyed from entry 3, matches the anchor" in r.stdout, r.output
    r = runner.invoke(main, ["audit", "verify", "--db", db])
    assert r.exit_code == 0 and "without the key" in r.stdout, r.output
    with open_store(db) as store:
        drop_triggers(store)
        empty_log(store)
    r = runner.invoke(main, ["audit", "verify", "--db", db, "--anchor", str(head),
                             "--audit-key", str(keyfile)])
    assert r.exit_code == 1 and "BROKEN" in r.stdout, r.output
    r = runner.invoke(main, ["audit", "verify", "--db", db, "--anchor", str(head)])
    assert r.exit_code == 1 and "the log was emptied" in r.stdout, r.output


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="read by others"):
        load_key(path)
