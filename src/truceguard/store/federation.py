"""What the store keeps of federation (``truceguard.federation``): partners, links, ledgers.

- ``federation_partners``: each partner server, the nation (and groups) it speaks for, the
  client certificate and key this server presents to it, the CA that signs its certificates,
  and whether the link relays (sends on records that came from other servers, and takes
  relayed records from the partner). A removed partner keeps its row (``removed_at``).
- ``federation_links``: per partner, the two cursors of its outgoing feed (the last
  observation id and the last marking change looked at) and its counters (sent, received,
  refused, withdrawn), its last error and when it last delivered.
- ``federation_sent``: per partner and observation, what was settled last: the marking it was
  judged under and its state (``sent``, ``held``: not releasable to the partner, ``refused`` by
  the partner, ``withdrawn``, or ``withdraw_due``: the observation was withdrawn here and the
  partner must be told), with the record's origin and original id. This ledger is the
  durable cursor: a row is written only once the partner acknowledged the batch, so a link cut
  or killed at any moment sends again only what was not acknowledged.
- ``federation_received``: every record received, by (origin, original id): the observation
  holding it (NULL once withdrawn), its digest, the marking received (the ceiling: a record
  received again under another marking narrows it, never widens it), the servers it passed
  through (``via``) and the partner it came from.

The rules (who may hold what) are the federation package's; this module only keeps the
records. ``FederationStore`` declares the methods (part of ``MissionStore``);
``FederationTables`` implements them for ``SQLStore``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from truceguard.errors import InputError, NotFoundError
from truceguard.io.columns import ObservationColumns
from truceguard.marking import Marking, parse_marking
from truceguard.model import Observation, utc_now

if TYPE_CHECKING:
    from truceguard.store.base import IngestCounts

FEDERATION_READER = "federation"  # the reader name of received records
SENT_STATES = ("sent", "held", "refused", "withdrawn", "withdraw_due")


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner server: ``name`` is the common name of its certificate."""

    partner_id: int
    name: str
    url: str
    nation: str
    groups: tuple[str, ...]
    cert: str
    key: str
    ca: str
    relay: bool
    added_at: int


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """One link's counters and where its feed stands; ``pending``: observations not yet
    settled for it (new ones, and withdrawals owed)."""

    partner: Partner
    sent: int
    received: int
    refused: int
    withdrawn: int
    pending: int
    last_error: str
    last_error_at: int | None
    last_ok_at: int | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An observation a link must settle: ``observation`` None when it was withdrawn here
    (then only ``origin`` and ``original_id`` are known, and the partner may be owed a
    withdrawal). ``settled_state`` and ``settled_marking_id`` are the ledger's, None when
    never settled. ``via`` lists the servers it passed through, its origin first (empty for
    this server's own records)."""

    obs_id: int
    observation: Observation | None
    marking_id: int
    marking: Marking | None
    origin: str
    original_id: str
    via: tuple[str, ...]
    settled_state: str | None
    settled_marking_id: int | None


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """What a link must settle next, and the cursors to store once it is settled."""

    items: tuple[Outgoing, ...]
    obs_cursor: int
    change_cursor: int
    moved: bool = False  # a cursor moved (settle even with no items)


@dataclass(frozen=True, slots=True)
class Settled:
    """One ledger row to write once the partner acknowledged."""

    obs_id: int
    marking_id: int
    state: str  # one of SENT_STATES
    origin: str
    original_id: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """A record received and found acceptable, to store as an observation of its origin."""

    origin: str
    original_id: str
    via: tuple[str, ...]
    digest: str
    marking: str  # canonical text
    observation: Observation


@dataclass(frozen=True, slots=True)
class ApplyCounts:
    """What storing one received batch did (the keys of the records, for the audit)."""

    accepted: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    not_withdrawn: tuple[str, ...] = ()  # not held, or not the sender's to withdraw


class FederationStore(Protocol):
    """The federation's records (see the module docstring); part of ``MissionStore``."""

    def add_partner(self, name: str, url: str, nation: str, groups: Sequence[str], cert: str,
                    key: str, ca: str, *, relay: bool) -> Partner: ...
    def partners(self) -> list[Partner]: ...
    def remove_partner(self, name: str) -> Partner: ...
    def federation_links(self) -> list[LinkStatus]: ...
    def federation_pending(self, partner_id: int, limit: int, *,
                           reconcile: int | None = None) -> PendingBatch:
        """What the link must settle next: withdrawals owed, observations whose marking
        changed since they were settled, new observations; with ``reconcile`` (a number of
        ids below the cursor, 0 for all), also older observations never settled (a commit
        that came in out of id order)."""
        ...
    def federation_settle(self, partner_id: int, settled: Sequence[Settled], obs_cursor: int,
                          change_cursor: int, *, sent: int, refused: int, withdrawn: int
                          ) -> None:
        """Write what the partner acknowledged, the cursors and the counters (one
        transaction, or part of the caller's)."""
        ...
    def federation_link_error(self, partner_id: int, error: str) -> None: ...
    def federation_apply(self, partner: Partner, records: Sequence[Incoming],
                         withdrawals: Sequence[tuple[str, str]], *, refused: int
                         ) -> ApplyCounts:
        """Store the records a partner sent (idempotent on origin and original id) and apply
        its withdrawals (only of records it sent, or that it is the origin of)."""
        ...


def _partner(r: Sequence[Any]) -> Partner:
    (pid, name, url, nation, groups, cert, key, ca, relay, added) = r
    return Partner(int(pid), str(name), str(url), str(nation),
                   tuple(g for g in str(groups).split(",") if g), str(cert), str(key), str(ca),
                   bool(relay), int(added))


_PARTNER_COLS = "partner_id, name, url, nation, group_codes, cert, key, ca, relay, added_at"


def record_key(origin: str, original_id: str) -> str:
    """The identity of a federated record: ``origin#original_id`` (its dedup key too)."""
    return f"{origin}#{original_id}"


class FederationTables:
    """The federation's tables (mixed into the backends; see the module docstring)."""

    if TYPE_CHECKING:  # provided by SQLStore
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _exec(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
        def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        def transaction(self) -> AbstractContextManager[None]: ...
        def _lock_append(self, name: str) -> None: ...
        def markings(self) -> dict[int, Marking]: ...
        def marking_id(self, marking: Marking) -> int: ...
        def add_observation_columns(self, batch: ObservationColumns, *, reader: str,
                                    curated: bool = False, who: str = "import"
                                    ) -> IngestCounts: ...
        def _change_marking(self, obs_id: int, old: int, new: int, who: str, why: str
                            ) -> None: ...

    # -- partners ---------------------------------------------------------------------------
    def add_partner(self, name: str, url: str, nation: str, groups: Sequence[str], cert: str,
                    key: str, ca: str, *, relay: bool) -> Partner:
        with self.transaction():
            if self._one("SELECT 1 FROM federation_partners WHERE name = ? AND removed_at IS "
                         "NULL", (name,)):
                raise InputError(f"partner {name!r} is already registered",
                                 hint="`truceguard federation remove NAME` first to change it",
                                 code="input.duplicate")
            pid = self._one(
                "INSERT INTO federation_partners (name, url, nation, group_codes, cert, key, "
                "ca, relay, added_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING partner_id",
                (name, url, nation, ",".join(groups), cert, key, ca, int(relay), utc_now()))
            self._exec("INSERT INTO federation_links (partner_id) VALUES (?)", (pid,))
        return self._partner_by_id(int(pid))

    def _partner_by_id(self, partner_id: int) -> Partner:
        rows = self._rows(f"SELECT {_PARTNER_COLS} FROM federation_partners WHERE partner_id = ?",
                          (partner_id,))
        return _partner(rows[0])

    def partners(self) -> list[Partner]:
        return [_partner(r) for r in self._rows(
            f"SELECT {_PARTNER_COLS} FROM federation_partners WHERE removed_at IS NULL "
            "ORDER BY name")]

    def remove_partner(self, name: str) -> Partner:
        with self.transaction():
            found = [p for p in self.partners() if p.name == name]
            if not found:
                raise NotFoundError(f"no partner {name!r}",
                                    hint="`truceguard federation list` shows them",
                                    code="not_found.partner")
            self._exec("UPDATE federation_partners SET removed_at = ? WHERE partner_id = ?",
                       (utc_now(), found[0].partner_id))
        return found[0]

    def federation_links(self) -> list[LinkStatus]:
        out = []
        top = int(self._one("SELECT COALESCE(MAX(obs_id), 0) FROM observations") or 0)
        for p in self.partners():
            (cursor, sent, received, refused, withdrawn, err, err_at, ok_at) = self._rows(
                "SELECT obs_cursor, sent, received, refused, withdrawn, last_error, "
                "last_error_at, last_ok_at FROM federation_links WHERE partner_id = ?",
                (p.partner_id,))[0]
            pending = 0
            if top > int(cursor):
                pending = int(self._one("SELECT COUNT(*) FROM observations WHERE obs_id > ?",
                                        (cursor,)) or 0)
            pending += int(self._one("SELECT COUNT(*) FROM federation_sent WHERE partner_id = ? "
                                     "AND state = 'withdraw_due'", (p.partner_id,)) or 0)
            out.append(LinkStatus(p, int(sent), int(received), int(refused), int(withdrawn),
                                  pending, str(err), err_at, ok_at))
        return out

    # -- the outgoing feed ------------------------------------------------------------------
    def federation_pending(self, partner_id: int, limit: int, *,
                           reconcile: int | None = None) -> PendingBatch:
        obs_cursor, change_cursor = self._rows(
            "SELECT obs_cursor, change_cursor FROM federation_links WHERE partner_id = ?",
            (partner_id,))[0]
        obs_cursor, change_cursor = int(obs_cursor), int(change_cursor)
        before = (obs_cursor, change_cursor)
        settled = {int(o): (str(s), int(m), str(og), str(oi)) for o, s, m, og, oi in self._rows(
            "SELECT obs_id, state, marking_id, origin, original_id FROM federation_sent "
            "WHERE partner_id = ? AND state = 'withdraw_due' ORDER BY obs_id LIMIT ?",
            (partner_id, limit))}
        wanted: set[int] = set()
        changes = self._rows("SELECT seq, obs_id FROM marking_changes WHERE seq > ? "
                             "ORDER BY seq LIMIT ?", (change_cursor, limit))
        if changes:
            change_cursor = int(changes[-1][0])
            wanted.update(int(r[1]) for r in changes if int(r[1]) <= obs_cursor)
        if reconcile is not None:
            low = obs_cursor - reconcile if reconcile else 0
            wanted.update(int(r[0]) for r in self._rows(
                "SELECT o.obs_id FROM observations o WHERE o.obs_id > ? AND o.obs_id <= ? AND "
                "NOT EXISTS (SELECT 1 FROM federation_sent s WHERE s.partner_id = ? AND "
                "s.obs_id = o.obs_id) ORDER BY o.obs_id LIMIT ?",
                (low, obs_cursor, partner_id, limit)))
        new = [int(r[0]) for r in self._rows(
            "SELECT obs_id FROM observations WHERE obs_id > ? ORDER BY obs_id LIMIT ?",
            (obs_cursor, limit))]
        if new:
            obs_cursor = new[-1]
            wanted.update(new)
        items = [Outgoing(obs_id, None, mid, None, og, oi, (), state, mid)
                 for obs_id, (state, mid, og, oi) in sorted(settled.items())]
        items += self._outgoing(partner_id, sorted(wanted - set(settled)))
        return PendingBatch(tuple(items), obs_cursor, change_cursor,
                            (obs_cursor, change_cursor) != before)

    def _outgoing(self, partner_id: int, obs_ids: Sequence[int]) -> list[Outgoing]:
        from truceguard.store.sql import _SELECT_OBS, _observation
        from truceguard.store.violations import chunks, placeholders

        markings = self.markings()
        out: list[Outgoing] = []
        for part in chunks(list(obs_ids)):
            marks = placeholders(len(part))
            mids = dict(self._rows(f"SELECT obs_id, marking_id FROM observations WHERE obs_id "
                                   f"IN ({marks})", part))
            ledger = {int(o): (str(s), int(m)) for o, s, m in self._rows(
                f"SELECT obs_id, state, marking_id FROM federation_sent WHERE partner_id = ? "
                f"AND obs_id IN ({marks})", (partner_id, *part))}
            received = {int(o): (str(og), str(oi), tuple(json.loads(v))) for o, og, oi, v in
                        self._rows(f"SELECT obs_id, origin, original_id, via FROM "
                                   f"federation_received WHERE obs_id IN ({marks})", part)}
            rows = self._rows(_SELECT_OBS + f" WHERE o.obs_id IN ({marks}) ORDER BY o.obs_id",
                              part)
            for r in rows:
                obs = _observation(r)
                assert obs.obs_id is not None
                mid = int(mids[obs.obs_id])
                origin, oid, via = received.get(obs.obs_id, ("", str(obs.obs_id), ()))
                state, smid = ledger.get(obs.obs_id, (None, None))
                out.append(Outgoing(obs.obs_id, obs, mid, markings[mid], origin, oid, via,
                                    state, smid))
        return out

    def federation_settle(self, partner_id: int, settled: Sequence[Settled], obs_cursor: int,
                          change_cursor: int, *, sent: int, refused: int, withdrawn: int
                          ) -> None:
        now = utc_now()
        with self.transaction():
            for s in settled:
                if s.state not in SENT_STATES:
                    raise ValueError(f"ledger state {s.state!r}")
            ids = sorted({s.obs_id for s in settled})
            from truceguard.store.violations import chunks, placeholders

            for part in chunks(ids):
                self._exec(f"DELETE FROM federation_sent WHERE partner_id = ? AND obs_id IN "
                           f"({placeholders(len(part))})", (partner_id, *part))
            self._many("INSERT INTO federation_sent (partner_id, obs_id, marking_id, state, "
                       "origin, original_id, at) VALUES (?,?,?,?,?,?,?)",
                       [(partner_id, s.obs_id, s.marking_id, s.state, s.origin, s.original_id,
                         now) for s in settled])
            self._exec("UPDATE federation_links SET obs_cursor = MAX(obs_cursor, ?), "
                       "change_cursor = MAX(change_cursor, ?), sent = sent + ?, "
                       "refused = refused + ?, withdrawn = withdrawn + ?, last_ok_at = ? "
                       "WHERE partner_id = ?"
                       if getattr(self, "backend", "") == "sqlite" else
                       "UPDATE federation_links SET obs_cursor = GREATEST(obs_cursor, ?), "
                       "change_cursor = GREATEST(change_cursor, ?), sent = sent + ?, "
                       "refused = refused + ?, withdrawn = withdrawn + ?, last_ok_at = ? "
                       "WHERE partner_id = ?",
                       (obs_cursor, change_cursor, sent, refused, withdrawn, now, partner_id))

    def federation_link_error(self, partner_id: int, error: str) -> None:
        with self.transaction():
            self._exec("UPDATE federation_links SET last_error = ?, last_error_at = ? "
                       "WHERE partner_id = ?", (error[:500], utc_now(), partner_id))

    # -- the incoming side ------------------------------------------------------------------
    def federation_apply(self, partner: Partner, records: Sequence[Incoming],
                         withdrawals: Sequence[tuple[str, str]], *, refused: int
                         ) -> ApplyCounts:
        accepted: list[str] = []
        updated: list[str] = []
        duplicates: list[str] = []
        withdrawn: list[str] = []
        not_withdrawn: list[str] = []
        from_origin: list[str] = []  # held records their origin sent again itself
        with self.transaction():
            # one batch at a time reads and writes what was received: two partners bringing
            # one record at once (its origin and a relay) would otherwise both find it new
            self._lock_append("federation_received")
            known = self._received_rows(records)
            fresh: dict[tuple[str, str], Incoming] = {}
            for rec in records:
                key = record_key(rec.origin, rec.original_id)
                held = known.get((rec.origin, rec.original_id))
                if held is not None and held[0] is not None and rec.origin == partner.name:
                    from_origin.append(rec.original_id)
                if held is not None and held[0] is not None:
                    narrowed = parse_marking(held[1]).narrow(parse_marking(rec.marking))
                    if narrowed.text == held[1]:
                        duplicates.append(key)
                        continue
                    self._remark_received(held[0], rec, narrowed, partner.name)
                    known[(rec.origin, rec.original_id)] = (held[0], narrowed.text)
                    updated.append(key)
                elif (rec.origin, rec.original_id) in fresh:
                    duplicates.append(key)
                else:
                    fresh[(rec.origin, rec.original_id)] = rec
            self._insert_received(list(fresh.values()), set(known), partner.name)
            self._received_from_origin(partner.name, from_origin)
            accepted += [record_key(r.origin, r.original_id) for r in fresh.values()]
            for origin, oid in withdrawals:
                key = record_key(origin, oid)
                if self._withdraw_received(origin, oid, partner.name):
                    withdrawn.append(key)
                else:
                    not_withdrawn.append(key)
            self._exec("UPDATE federation_links SET received = received + ?, "
                       "refused = refused + ?, withdrawn = withdrawn + ? WHERE partner_id = ?",
                       (len(accepted) + len(updated), refused, len(withdrawn),
                        partner.partner_id))
        return ApplyCounts(tuple(accepted), tuple(updated), tuple(duplicates), tuple(withdrawn),
                           tuple(not_withdrawn))

    def _received_from_origin(self, origin: str, ids: Sequence[str]) -> None:
        """Records held from a relay that their origin sent itself are held from the origin
        from now on: a relay's withdrawal (it may no longer hold them) must not take them."""
        from truceguard.store.violations import chunks, placeholders

        for part in chunks(sorted(set(ids))):
            self._exec(f"UPDATE federation_received SET from_partner = ? WHERE origin = ? AND "
                       f"original_id IN ({placeholders(len(part))}) AND from_partner <> ?",
                       (origin, origin, *part, origin))

    def _received_rows(self, records: Sequence[Incoming]
                       ) -> dict[tuple[str, str], tuple[int | None, str]]:
        """(origin, original id) -> (observation or None, marking) of those already received."""
        from truceguard.store.violations import chunks, placeholders

        by_origin: dict[str, list[str]] = {}
        for r in records:
            by_origin.setdefault(r.origin, []).append(r.original_id)
        out: dict[tuple[str, str], tuple[int | None, str]] = {}
        for origin, ids in by_origin.items():
            for part in chunks(sorted(set(ids))):
                for oid, obs_id, marking in self._rows(
                        f"SELECT original_id, obs_id, marking FROM federation_received WHERE "
                        f"origin = ? AND original_id IN ({placeholders(len(part))})",
                        (origin, *part)):
                    out[(origin, str(oid))] = (None if obs_id is None else int(obs_id),
                                               str(marking))
        return out

    def _insert_received(self, fresh: Sequence[Incoming], withdrawn: set[tuple[str, str]],
                         sender: str) -> None:
        """Store new records (and records withdrawn before, received again: ``withdrawn``
        holds the keys with a row already)."""
        if not fresh:
            return
        batch = ObservationColumns.from_observations([r.observation for r in fresh])
        keys = [record_key(r.origin, r.original_id) for r in fresh]
        batch.columns["dedup_key"] = keys
        batch.columns["releasability"] = [r.marking for r in fresh]
        self.add_observation_columns(batch, reader=FEDERATION_READER, who=f"federation:{sender}")
        from truceguard.store.violations import chunks, placeholders

        ids: dict[str, int] = {}
        stored = [f"{FEDERATION_READER}|{k}" for k in keys]
        for part in chunks(stored):
            for dk, obs_id in self._rows(f"SELECT dedup_key, obs_id FROM observations WHERE "
                                         f"dedup_key IN ({placeholders(len(part))})", part):
                ids[str(dk).split("|", 1)[1]] = int(obs_id)
        now = utc_now()
        again = [r for r in fresh if (r.origin, r.original_id) in withdrawn]
        for rec in again:
            self._exec("DELETE FROM federation_received WHERE origin = ? AND original_id = ?",
                       (rec.origin, rec.original_id))
        self._many("INSERT INTO federation_received (origin, original_id, obs_id, digest, "
                   "marking, via, from_partner, at) VALUES (?,?,?,?,?,?,?,?)",
                   [(rec.origin, rec.original_id, ids[key], rec.digest, rec.marking,
                     json.dumps(list(rec.via)), sender, now)
                    for rec, key in zip(fresh, keys, strict=True)])

    def _remark_received(self, obs_id: int, rec: Incoming, ceiling: Marking, sender: str
                         ) -> None:
        """A record this server holds came again under a narrower marking (remarked at its
        origin): the received ceiling narrows to ``ceiling``, and so does the observation's
        marking (a copy that comes late under an older, wider marking changes nothing)."""
        old = int(self._one("SELECT marking_id FROM observations WHERE obs_id = ?", (obs_id,)))
        markings = self.markings()
        new = self.marking_id(markings[old].narrow(ceiling))
        if new != old:
            self._change_marking(obs_id, old, new, f"federation:{sender}",
                                 f"narrowed at its origin {rec.origin}")
        self._exec("UPDATE federation_received SET marking = ? WHERE obs_id = ?",
                   (ceiling.text, obs_id))

    def _withdraw_received(self, origin: str, oid: str, sender: str) -> bool:
        """Withdraw a received record when ``sender`` sent it or is its origin: its
        observation goes (its incident is fused again) and every partner it was sent to is
        owed a withdrawal. False when it is not held, or not the sender's to withdraw."""
        rows = self._rows("SELECT obs_id, from_partner FROM federation_received WHERE "
                          "origin = ? AND original_id = ?", (origin, oid))
        if not rows or rows[0][0] is None or sender not in (origin, str(rows[0][1])):
            return False
        obs_id = int(rows[0][0])
        incident = self._one("SELECT incident_id FROM observations WHERE obs_id = ?", (obs_id,))
        if incident is not None:
            self._exec("DELETE FROM incident_views WHERE parent_id = ?", (incident,))
            self._exec("DELETE FROM incident_sums WHERE parent_id = ?", (incident,))
            self._exec("UPDATE observations SET incident_id = NULL WHERE incident_id = ?",
                       (incident,))
        self._exec("DELETE FROM observations WHERE obs_id = ?", (obs_id,))
        top = self._one("SELECT MAX(obs_id) FROM observations")
        if top is None or int(top) < obs_id:  # SQLite may give this id to the next one
            self._exec("UPDATE federation_links SET obs_cursor = ? WHERE obs_cursor >= ?",
                       (obs_id - 1, obs_id))
        self._exec("UPDATE federation_received SET obs_id = NULL WHERE origin = ? AND "
                   "original_id = ?", (origin, oid))
        # The partners it was sent to are owed a withdrawal, under the negated id (SQLite may
        # give a deleted highest id to the next observation; the owed rows must not clash).
        self._exec("DELETE FROM federation_sent WHERE obs_id = ?", (-obs_id,))
        self._exec("UPDATE federation_sent SET state = 'withdraw_due', obs_id = ? WHERE "
                   "obs_id = ? AND state = 'sent'", (-obs_id, obs_id))
        self._exec("DELETE FROM federation_sent WHERE obs_id = ?", (obs_id,))
        return True


__all__ = ["FEDERATION_READER", "ApplyCounts", "FederationStore", "FederationTables",
           "Incoming", "LinkStatus", "Outgoing", "Partner", "PendingBatch", "Settled",
           "record_key"]
