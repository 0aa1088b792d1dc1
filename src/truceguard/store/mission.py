"""The mission server's tables in the store: users, the audit log, alert targets and their
outbox, plan runs. A mixin of ``SQLStore`` (the same SQL on both backends).

- Users hold a token's SHA-256, never the token (tokens are 256-bit random strings, so a fast
  hash is enough); a disabled user's token and certificate stop working at once.
- The audit log is hash-chained (``truceguard.audit``): each append reads the last hash inside
  the write transaction; ``meta.audit_head`` holds the last sequence number and hash, so that
  a deleted tail is found too; with an audit key (``set_audit_key``, or the file
  ``$TRUCEGUARD_AUDIT_KEY_FILE`` names) the chain is HMAC-keyed from its ``audit.keyed`` entry
  on, and ``meta.audit_keyed`` records that entry for writers (verification never trusts
  it). ``audit_query(AuditFilter)`` reads it filtered (time, actor, action, the most recent
  N) in SQL; ``truceguard.audit.list_audit`` checks the filter first.
- The outbox is durable: a violation owed to a target is one row, unique per target and
  violation (so a restart, or a second live loop, never enqueues it twice), with its
  idempotency key, attempts and the time of its next try.
- A target's audience (``AUDIENCES``) says what it is owed (``owes``): a ``team`` target (the
  mission's own duty officers) each new violation, whatever its status; a ``published``
  target (anyone beyond the team) only a published one. ``owe_published`` owes a violation,
  when a second analyst publishes it, to the ``published`` targets whose user may see it,
  inside the caller's transaction (the status change's).
- Evidence attachments (``truceguard.attachments``): a file is stored once under its SHA-256
  and linked to each observation it is evidence for; every read of one goes through a linked
  observation that the viewer may see (the observation's marking, matched in SQL), so a file
  linked to observations of several markings is seen through any one of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from truceguard.audit import (
    GENESIS,
    KEYED_ACTION,
    AuditEntry,
    AuditFilter,
    entry_hash,
    key_from_env,
    key_id,
)
from truceguard.errors import InputError, NotFoundError, unknown_value
from truceguard.marking import Viewer
from truceguard.model import STATUS_PUBLISHED, User, Violation, utc_now

_USER_COLS = "user_id, name, nation, role, marking, disabled, cert_fingerprint"

AUDIENCE_TEAM = "team"  # the mission's own duty officers: every new violation
AUDIENCE_PUBLISHED = "published"  # anyone beyond the team: published violations only
AUDIENCES = (AUDIENCE_TEAM, AUDIENCE_PUBLISHED)


@dataclass(frozen=True, slots=True)
class AlertTarget:
    target_id: int
    name: str
    kind: str  # "webhook" or "cot"
    url: str
    secret: str
    min_severity: int
    terms: str  # '' for any terms
    user_id: int
    disabled: bool
    allow_private: bool = False  # may point inside the network (the operator's choice)
    audience: str = AUDIENCE_TEAM  # one of AUDIENCES


def owes(target: AlertTarget, violation: Violation) -> bool:
    """Whether ``target`` is owed ``violation`` (as its user sees it): severe enough, of its
    terms (if it names some), and for a ``published`` target, published."""
    if target.audience == AUDIENCE_PUBLISHED and violation.status != STATUS_PUBLISHED:
        return False
    return (violation.severity >= target.min_severity
            and (not target.terms or violation.terms == target.terms))


def outbox_key(target: AlertTarget, violation_id: int) -> str:
    """The idempotency key of ``violation_id``'s delivery to ``target``: the same on every
    retry, and on every node."""
    return hashlib.sha256(f"{target.target_id}:{target.name}:{violation_id}".encode()
                          ).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One delivery owed. ``payload`` is the body as owed; the dispatcher writes it afresh
    from the violation as the target's user sees it when it delivers, so a row owed at
    publication (``owe_published``) holds only its type, key, audience and marking."""

    outbox_id: int
    target_id: int
    violation_id: int
    idempotency_key: str
    payload: str
    state: str  # pending, delivered, failed
    attempts: int
    next_at: float
    last_error: str
    created_at: float
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class PlanRun:
    run_id: int
    at: int
    who: str
    request: dict[str, Any]
    state: str  # queued, running, done, failed
    result: dict[str, Any] | None
    error: str
    marking: str = ""  # of its inputs; '' when none was recorded (its starter's only)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An evidence file as linked to one observation (its bytes are read apart).

    ``captured_at`` is the capture time in UTC seconds from the file's EXIF; ``captured_offset``
    the UTC offset the file gave with it (``+03:00``), None where it gave none and the time was
    taken as UTC. ``added_at``/``added_by``: when and by whom the bytes were first stored;
    ``linked_at``/``linked_by``: when and by whom they were linked to ``obs_id``."""

    sha256: str
    size: int
    media_type: str
    captured_at: int | None
    captured_offset: str | None
    lat: float | None
    lon: float | None
    device: str | None
    added_at: int
    added_by: str
    obs_id: int
    linked_at: int
    linked_by: str


_ATTACHMENT_COLS = ("a.sha256, a.size, a.media_type, a.captured_at, a.captured_offset, a.lat, "
                    "a.lon, a.device, a.added_at, a.added_by, l.obs_id, l.added_at, l.added_by")
_ATTACHMENT_FROM = ("FROM observation_attachments l JOIN attachments a ON a.sha256 = l.sha256 "
                    "JOIN observations o ON o.obs_id = l.obs_id")


def _attachment(r: Sequence[Any]) -> Attachment:
    return Attachment(str(r[0]), int(r[1]), str(r[2]), None if r[3] is None else int(r[3]),
                      None if r[4] is None else str(r[4]), None if r[5] is None else float(r[5]),
                      None if r[6] is None else float(r[6]), None if r[7] is None else str(r[7]),
                      int(r[8]), str(r[9]), int(r[10]), int(r[11]), str(r[12]))


def _user(r: Sequence[Any]) -> User:
    return User(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), bool(r[5]), str(r[6]))


class MissionTables:
    """Users, audit, alerts and plan runs (mixed into ``SQLStore``)."""

    if TYPE_CHECKING:  # provided by SQLStore
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _exec(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        def _meta(self, key: str) -> str | None: ...
        def _set_meta(self, key: str, value: str) -> None: ...
        def transaction(self) -> AbstractContextManager[None]: ...
        def _lock_append(self, name: str) -> None: ...
        def visible_markings(self, viewer: Viewer) -> list[int] | None: ...
        def get_violation(self, violation_id: int, viewer: Viewer) -> Violation | None: ...

    # -- users ------------------------------------------------------------------------------
    def add_user(self, name: str, nation: str, role: str, marking: str, token_sha256: str,
                 cert_fingerprint: str = "") -> User:
        with self.transaction():
            if self._one("SELECT 1 FROM users WHERE name = ?", (name,)):
                raise InputError(f"a user named {name!r} exists already",
                                 hint="choose another name, or `truceguard users list`",
                                 code="users.exists")
            uid = self._one(
                "INSERT INTO users (name, nation, role, marking, token_sha256, cert_fingerprint, "
                "created_at) VALUES (?,?,?,?,?,?,?) RETURNING user_id",
                (name, nation, role, marking, token_sha256, cert_fingerprint, utc_now()))
        return User(int(uid), name, nation, role, marking, False, cert_fingerprint)

    def user_by_token(self, token_sha256: str) -> User | None:
        rows = self._rows(f"SELECT {_USER_COLS} FROM users WHERE token_sha256 = ?",
                          (token_sha256,))
        return _user(rows[0]) if rows else None

    def user_by_name(self, name: str) -> User | None:
        rows = self._rows(f"SELECT {_USER_COLS} FROM users WHERE name = ?", (name,))
        return _user(rows[0]) if rows else None

    def user_by_cert(self, fingerprint: str) -> User | None:
        if not fingerprint:
            return None
        rows = self._rows(f"SELECT {_USER_COLS} FROM users WHERE cert_fingerprint = ?",
                          (fingerprint.lower(),))
        return _user(rows[0]) if rows else None

    def user_by_id(self, user_id: int) -> User | None:
        rows = self._rows(f"SELECT {_USER_COLS} FROM users WHERE user_id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    def users(self) -> list[User]:
        return [_user(r) for r in self._rows(f"SELECT {_USER_COLS} FROM users ORDER BY name")]

    def disable_user(self, name: str) -> User:
        with self.transaction():
            if not self._exec("UPDATE users SET disabled = 1 WHERE name = ?", (name,)):
                raise NotFoundError(f"no user named {name!r}",
                                    hint="`truceguard users list` shows them",
                                    code="not_found.user")
        user = self.user_by_name(name)
        assert user is not None
        return user

    # -- audit ------------------------------------------------------------------------------
    _audit_key: bytes | None
    _audit_key_set: bool = False

    def set_audit_key(self, key: bytes | None) -> None:
        """Write (and key) the audit log with ``key`` from now on; without this call the key
        is the one ``$TRUCEGUARD_AUDIT_KEY_FILE`` names, if set (``truceguard.audit``)."""
        self._audit_key, self._audit_key_set = key, True

    def audit_key(self) -> bytes | None:
        if not self._audit_key_set:
            self.set_audit_key(key_from_env())
        return self._audit_key

    def audit(self, actor: str, action: str, detail: dict[str, Any] | None = None) -> int:
        """Append one entry to the hash-chained audit log; returns its sequence number.

        With an audit key, a log not keyed yet gets its ``audit.keyed`` entry first and every
        entry from it on is HMAC-keyed; a keyed log refuses a write without its key."""
        detail = detail or {}
        key = self.audit_key()
        with self.transaction():
            self._lock_append("audit_log")  # one writer extends the chain at a time
            last = self._rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS)
            keyed = self._meta("audit_keyed")  # "SEQ:KEY_ID" of the audit.keyed entry
            if keyed and key is None:
                raise InputError("the audit log is keyed: writing to it needs its key",
                                 hint="give --audit-key FILE or set "
                                      "$TRUCEGUARD_AUDIT_KEY_FILE", code="audit.key_needed")
            if keyed and key is not None and keyed.split(":", 1)[1] != key_id(key):
                raise InputError("the audit log is keyed with another key (key id "
                                 f"{keyed.split(':', 1)[1]}, given {key_id(key)})",
                                 hint="give the key the log was keyed with",
                                 code="audit.key_mismatch")
            if key is not None and not keyed and action != KEYED_ACTION:
                prev = self._append_audit(seq, prev, "truceguard", KEYED_ACTION,
                                          {"key_id": key_id(key)}, key)
                seq += 1
            self._append_audit(seq, prev, actor, action, detail, key)
        return seq

    def key_audit_log(self) -> int:
        """Key the log with the store's key now (its ``audit.keyed`` entry), if not yet;
        returns the seq of that entry."""
        key = self.audit_key()
        if key is None:
            raise InputError("no audit key to key the log with",
                             hint="give --audit-key FILE", code="audit.key_needed")
        keyed = self._meta("audit_keyed")
        if keyed:
            if keyed.split(":", 1)[1] != key_id(key):
                raise InputError("the audit log is keyed with another key (key id "
                                 f"{keyed.split(':', 1)[1]}, given {key_id(key)})",
                                 hint="give the key the log was keyed with",
                                 code="audit.key_mismatch")
            return int(keyed.split(":", 1)[0])
        return self.audit("truceguard", KEYED_ACTION, {"key_id": key_id(key)})

    def _append_audit(self, seq: int, prev: str, actor: str, action: str,
                      detail: dict[str, Any], key: bytes | None) -> str:
        """Insert one entry (inside the caller's transaction); returns its hash."""
        keyed = key is not None and (action == KEYED_ACTION
                                     or self._meta("audit_keyed") is not None)
        at = utc_now()
        h = entry_hash(prev, seq, at, actor, action, detail, key if keyed else None)
        self._exec("INSERT INTO audit_log (seq, at, actor, action, detail, prev_hash, hash) "
                   "VALUES (?,?,?,?,?,?,?)",
                   (seq, at, actor, action, json.dumps(detail, sort_keys=True,
                                                       ensure_ascii=False), prev, h))
        self._set_meta("audit_head", f"{seq}:{h}")
        if action == KEYED_ACTION and key is not None and self._meta("audit_keyed") is None:
            self._set_meta("audit_keyed", f"{seq}:{key_id(key)}")
        return h

    def audit_entries(self) -> list[AuditEntry]:
        return self.audit_query(AuditFilter())

    def audit_query(self, flt: AuditFilter) -> list[AuditEntry]:
        """The entries ``flt`` matches, oldest first (the most recent ``flt.limit``)."""
        where, params = flt.where()
        sql = ("SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log"
               + (" WHERE " + " AND ".join(where) if where else ""))
        if flt.limit is not None:
            sql += " ORDER BY seq DESC LIMIT ?"
            params.append(int(flt.limit))
            rows = self._rows(sql, params)[::-1]
        else:
            rows = self._rows(sql + " ORDER BY seq", params)
        return [AuditEntry(int(s), int(a), str(ac), str(act), json.loads(d), str(p), str(h))
                for s, a, ac, act, d, p, h in rows]

    def audit_actions(self) -> list[str]:
        """The actions the log holds, sorted."""
        return [str(r[0]) for r in self._rows(
            "SELECT DISTINCT action FROM audit_log ORDER BY action")]

    def audit_head(self) -> str | None:
        return self._meta("audit_head")

    # -- alert targets and the outbox ----------------------------------------------------------
    def add_alert_target(self, name: str, kind: str, url: str, secret: str, min_severity: int,
                         terms: str, user_id: int, *, allow_private: bool = False,
                         audience: str = AUDIENCE_TEAM) -> AlertTarget:
        if audience not in AUDIENCES:
            raise unknown_value("audience", audience, AUDIENCES, code="input.bad_audience")
        with self.transaction():
            if self._one("SELECT 1 FROM alert_targets WHERE name = ?", (name,)):
                raise InputError(f"an alert target named {name!r} exists already",
                                 hint="choose another --name", code="alerts.exists")
            tid = self._one(
                "INSERT INTO alert_targets (name, kind, url, secret, min_severity, terms, "
                "user_id, created_at, allow_private, audience) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "RETURNING target_id",
                (name, kind, url, secret, min_severity, terms, user_id, utc_now(),
                 int(allow_private), audience))
        return AlertTarget(int(tid), name, kind, url, secret, min_severity, terms, user_id,
                           False, allow_private, audience)

    def alert_targets(self, *, active_only: bool = False) -> list[AlertTarget]:
        sql = ("SELECT t.target_id, t.name, t.kind, t.url, t.secret, t.min_severity, t.terms, "
               "t.user_id, t.disabled, t.allow_private, t.audience FROM alert_targets t "
               "JOIN users u ON u.user_id = t.user_id")
        if active_only:
            sql += " WHERE t.disabled = 0 AND u.disabled = 0"
        return [AlertTarget(int(a), b, c, d, e, int(f), g, int(h), bool(i), bool(j), str(k))
                for a, b, c, d, e, f, g, h, i, j, k in self._rows(sql + " ORDER BY t.name")]

    def owe_published(self, violation_id: int, now: float) -> int:
        """Owe ``violation_id``, just published, to each active ``published`` target whose
        user may see it and that ``owes`` it (once per target: a pair owed before is left as
        it is); inside the current transaction if any. Returns how many were new."""
        items: list[tuple[int, int, str, str]] = []
        for target in self.alert_targets(active_only=True):
            if target.audience != AUDIENCE_PUBLISHED:
                continue
            user = self.user_by_id(target.user_id)
            seen = None if user is None else self.get_violation(violation_id, user.viewer)
            if seen is None or not owes(target, seen):
                continue
            key = outbox_key(target, violation_id)
            items.append((target.target_id, violation_id, key, json.dumps(
                {"type": "truceguard.violation", "idempotency_key": key,
                 "audience": target.audience, "marking": seen.releasability},
                sort_keys=True, separators=(",", ":"))))
        return self.enqueue(items, now)

    def enqueue(self, items: Sequence[tuple[int, int, str, str]], now: float) -> int:
        """Owe these (target, violation, idempotency key, payload) deliveries; a pair already
        owed is left as it is. Returns how many were new."""
        added = 0
        with self.transaction():
            for target_id, violation_id, key, payload in items:
                added += self._exec(
                    "INSERT INTO outbox (target_id, violation_id, idempotency_key, payload, "
                    "state, next_at, created_at) VALUES (?,?,?,?,'pending',?,?) "
                    "ON CONFLICT DO NOTHING", (target_id, violation_id, key, payload, now, now))
        return added

    def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        return [OutboxItem(*r) for r in self._rows(
            "SELECT outbox_id, target_id, violation_id, idempotency_key, payload, state, "
            "attempts, next_at, last_error, created_at, delivered_at FROM outbox "
            "WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, outbox_id LIMIT ?",
            (now, limit))]

    def outbox(self, target_id: int | None = None) -> list[OutboxItem]:
        sql = ("SELECT outbox_id, target_id, violation_id, idempotency_key, payload, state, "
               "attempts, next_at, last_error, created_at, delivered_at FROM outbox")
        params: list[Any] = []
        if target_id is not None:
            sql += " WHERE target_id = ?"
            params.append(target_id)
        return [OutboxItem(*r) for r in self._rows(sql + " ORDER BY outbox_id", params)]

    def delivered(self, outbox_id: int, at: float) -> None:
        with self.transaction():
            self._exec("UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = "
                       "attempts + 1 WHERE outbox_id = ?", (at, outbox_id))

    def retry_later(self, outbox_id: int, next_at: float, error: str, *, give_up: bool) -> None:
        with self.transaction():
            self._exec("UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, "
                       "state = ? WHERE outbox_id = ?",
                       (next_at, error[:500], "failed" if give_up else "pending", outbox_id))

    def disable_alert_target(self, target_id: int) -> AlertTarget:
        """Disable alert target ``target_id``: nothing more is owed to it."""
        with self.transaction():
            if not self._exec("UPDATE alert_targets SET disabled = 1 WHERE target_id = ?",
                              (target_id,)):
                raise NotFoundError(f"no alert target {target_id}",
                                    code="not_found.alert_target")
        return next(t for t in self.alert_targets() if t.target_id == target_id)

    # -- plan runs --------------------------------------------------------------------------
    def add_plan_run(self, who: str, request: dict[str, Any], *, marking: str) -> int:
        """Record a queued plan run by ``who``; ``marking`` is its inputs' marking (a shipped
        scenario's is PUBLIC; a threat from the store's violations is theirs)."""
        with self.transaction():
            return int(self._one(
                "INSERT INTO plan_runs (at, who, request, state, marking) "
                "VALUES (?,?,?,'queued',?) RETURNING run_id",
                (utc_now(), who, json.dumps(request, sort_keys=True), marking)))

    def set_plan_run(self, run_id: int, state: str, result: dict[str, Any] | None = None,
                     error: str = "") -> None:
        with self.transaction():
            self._exec("UPDATE plan_runs SET state = ?, result = ?, error = ? WHERE run_id = ?",
                       (state, json.dumps(result) if result is not None else "", error[:2000],
                        run_id))

    def plan_run(self, run_id: int) -> PlanRun | None:
        rows = self._rows("SELECT run_id, at, who, request, state, error, marking, result "
                          "FROM plan_runs WHERE run_id = ?", (run_id,))
        return _plan_run(rows[0]) if rows else None

    def recent_plan_runs(self, limit: int) -> list[PlanRun]:
        """The ``limit`` latest plan runs, newest first, without their results (``result``
        None: a run's results are read by ``plan_run``)."""
        rows = self._rows("SELECT run_id, at, who, request, state, error, marking "
                          "FROM plan_runs ORDER BY run_id DESC LIMIT ?", (int(limit),))
        return [_plan_run(r) for r in rows]

    # -- evidence attachments -----------------------------------------------------------------
    def put_attachment(self, att: Attachment, content: bytes) -> tuple[Attachment, bool, bool]:
        """Store ``content`` under ``att.sha256`` (unless held already) and link it to
        ``att.obs_id`` (unless linked already), inside the current transaction if any. Returns
        the attachment as stored (its first adder kept), whether the bytes were new and whether
        the link was."""
        with self.transaction():
            stored = self._exec(
                "INSERT INTO attachments (sha256, size, media_type, captured_at, "
                "captured_offset, lat, lon, device, added_at, added_by, content) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (sha256) DO NOTHING",
                (att.sha256, att.size, att.media_type, att.captured_at, att.captured_offset,
                 att.lat, att.lon, att.device, att.added_at, att.added_by, content))
            linked = self._exec(
                "INSERT INTO observation_attachments (obs_id, sha256, added_at, added_by) "
                "VALUES (?,?,?,?) ON CONFLICT (obs_id, sha256) DO NOTHING",
                (att.obs_id, att.sha256, att.linked_at, att.linked_by))
            rows = self._rows(f"SELECT {_ATTACHMENT_COLS} {_ATTACHMENT_FROM} "
                              "WHERE l.obs_id = ? AND l.sha256 = ?", (att.obs_id, att.sha256))
        return _attachment(rows[0]), bool(stored), bool(linked)

    def _visible_link(self, viewer: Viewer) -> tuple[str, list[Any]]:
        visible = self.visible_markings(viewer)
        if visible is None:
            return "1 = 1", []
        return f"o.marking_id IN ({','.join('?' * len(visible))})", list(visible)

    def attachments_of(self, obs_id: int, viewer: Viewer) -> list[Attachment]:
        """The attachments of observation ``obs_id`` if ``viewer`` may see it (else none),
        in the order they were linked."""
        cond, params = self._visible_link(viewer)
        return [_attachment(r) for r in self._rows(
            f"SELECT {_ATTACHMENT_COLS} {_ATTACHMENT_FROM} WHERE l.obs_id = ? AND {cond} "
            "ORDER BY l.added_at, l.sha256", [obs_id, *params])]

    def attachment_content(self, sha256: str, viewer: Viewer, obs_id: int | None = None
                           ) -> tuple[Attachment, bytes] | None:
        """The attachment ``sha256`` and its bytes, seen through observation ``obs_id`` (or,
        when None, the first linked observation that ``viewer`` may see); None when no linked
        observation (or not ``obs_id``) is one the viewer may see, as when there is no such
        file."""
        cond, params = self._visible_link(viewer)
        if obs_id is not None:
            cond += " AND l.obs_id = ?"
            params.append(obs_id)
        rows = self._rows(f"SELECT {_ATTACHMENT_COLS}, a.content {_ATTACHMENT_FROM} "
                          f"WHERE l.sha256 = ? AND {cond} ORDER BY l.obs_id LIMIT 1",
                          [sha256, *params])
        return (_attachment(rows[0]), bytes(rows[0][-1])) if rows else None

    def observation_reader(self, obs_id: int) -> str | None:
        """The reader that stored observation ``obs_id`` (``csv@user:3`` for a file a
        server's user submitted); None when there is no such observation."""
        found = self._one("SELECT reader FROM observations WHERE obs_id = ?", (obs_id,))
        return None if found is None else str(found)


def _plan_run(r: Any) -> PlanRun:
    """A plan_runs row (run_id, at, who, request, state, error, marking[, result]) as a
    PlanRun; its result None when the row has none or was read without it."""
    result = json.loads(r[7]) if len(r) > 7 and r[7] else None
    return PlanRun(int(r[0]), int(r[1]), str(r[2]), json.loads(r[3]), str(r[4]), result,
                   str(r[5]), str(r[6]))


__all__ = ["AUDIENCES", "AUDIENCE_PUBLISHED", "AUDIENCE_TEAM", "AlertTarget", "Attachment",
           "MissionTables", "OutboxItem", "PlanRun", "outbox_key", "owes"]
