"""The audit log's hash chain: every write, status change, user change and failed login is
one entry, and each entry's hash covers the one before it.

``entry_hash(prev_hash, seq, at, actor, action, detail)`` is the SHA-256 of the previous hash
and the entry's fields as canonical JSON; the first entry's previous hash is ``GENESIS``.
``verify_chain(entries)`` walks the log and names the first entry that was edited (its hash
does not match its fields), deleted (a gap in the sequence, or a previous hash that is not the
hash before it) or inserted. The store also refuses UPDATE and DELETE on the log; the chain is
what still tells when someone edits the file underneath it.

Reading it: ``list_audit(store, AuditFilter(...))`` is the one query behind ``truceguard audit
list`` (and any server route that lists entries): entries in the order they were written,
filtered by time, actor and action, the most recent ``limit``; an action no entry has is an
error that lists the actions present.

What a write records: ``digests_detail`` gives the raw digests of the records a write stored
(the ``raw_sha256`` of each observation), for the entry's detail. Up to ``MAX_LISTED_DIGESTS``
they are listed, sorted: ``{"raw_sha256": [...]}``; beyond that the entry holds their number
and one SHA-256 over them instead: ``{"raw_sha256_count": N, "raw_sha256_sorted_sha256": H}``,
where H is the SHA-256 (lowercase hex) of the sorted digests joined by ``"\\n"`` (UTF-8, no
final newline), so anyone holding the records can recompute it (``sorted_digests_sha256``).
The CoT sink writes one ``cot.write`` entry per committed batch and submitting user.

Keying and anchoring: a plain SHA-256 chain has no secret, so whoever can write the file can
rewrite every entry and the recorded head consistently. With an audit key (a file outside the
database: ``--audit-key FILE`` or ``$TRUCEGUARD_AUDIT_KEY_FILE``, 32 random bytes as hex,
mode 0600; ``truceguard init --audit-key FILE`` creates it), the chain is keyed from an
``audit.keyed`` entry on: that entry and every later one is hashed with HMAC-SHA256 under the
key instead of SHA-256 (same canonical body); the entry's detail holds the key's id
(``key_id``: not the key). Entries before it verify as before, so existing logs keep
verifying. A keyed log checked without the key has only its links and unkeyed part checked
(``ChainCheck.note`` says so); checked with the key, a log without an ``audit.keyed`` entry is
an error (it was never keyed, or was rewritten without the key).

An anchor (``make_anchor``) is the log's head, signed with the key, that the operator keeps
outside the database (``truceguard audit anchor -o HEAD.json``): ``{"format", "seq", "hash",
"at", "key_id", "hmac"}``. ``verify_log(..., anchor=...)`` finds a log that ends before the
anchored entry (its tail was deleted, or the log was emptied) and an anchored entry whose
hash differs (the chain was rewritten).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from truceguard.errors import InputError, unknown_value

if TYPE_CHECKING:
    from truceguard.store.base import MissionStore

GENESIS = "0" * 64
MAX_LISTED_DIGESTS = 1000
KEYED_ACTION = "audit.keyed"  # the entry from which the chain is keyed
KEY_ENV = "TRUCEGUARD_AUDIT_KEY_FILE"
KEY_BYTES = 32
ANCHOR_FORMAT = "truceguard-audit-anchor/1"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: int
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def entry_hash(prev_hash: str, seq: int, at: int, actor: str, action: str,
               detail: dict[str, Any], key: bytes | None = None) -> str:
    """SHA-256 of the entry's canonical body, or HMAC-SHA256 under ``key`` (keyed part)."""
    body = json.dumps([prev_hash, seq, at, actor, action, detail], sort_keys=True,
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


# -- the audit key -----------------------------------------------------------------------------
def key_id(key: bytes) -> str:
    """A public name of ``key`` (16 hex digits), recorded in the ``audit.keyed`` entry."""
    return hashlib.sha256(b"truceguard audit key id\n" + key).hexdigest()[:16]


def create_key_file(path: str | os.PathLike[str]) -> bool:
    """Write a new random key to ``path`` with mode 0600; False (and nothing written) if the
    file exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise InputError(f"--audit-key {os.fspath(path)!r}: cannot create it ({exc.strerror})",
                         hint="give a path in a folder you may write", code="input.audit_key"
                         ) from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    return True


def load_key(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path`` (hex, at least 32 bytes); the file must be private to its owner."""
    name = os.fspath(path)
    try:
        st = os.stat(name)
        with open(name, encoding="ascii", errors="replace") as fh:
            text = fh.read().strip()
    except OSError as exc:
        raise InputError(f"audit key {name!r}: cannot read it ({exc.strerror})",
                         hint="`truceguard init --audit-key FILE` creates one",
                         code="input.audit_key") from None
    if os.name == "posix" and st.st_mode & 0o077:
        raise InputError(f"audit key {name!r} may be read by others "
                         f"(mode {st.st_mode & 0o777:o})", hint=f"chmod 600 {name}",
                         code="input.audit_key")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise InputError(f"audit key {name!r} is not a key: {KEY_BYTES * 2} or more hex digits "
                         "expected", hint="`truceguard init --audit-key NEWFILE` creates one",
                         code="input.audit_key")
    return key


def key_from_env() -> bytes | None:
    """The key that ``$TRUCEGUARD_AUDIT_KEY_FILE`` names, or None when it is unset."""
    path = os.environ.get(KEY_ENV)
    return load_key(path) if path else None


@dataclass(frozen=True, slots=True)
class ChainCheck:
    entries: int
    ok: bool
    problem: str = ""  # the first problem found, naming the entry
    seq: int | None = None
    keyed_from: int | None = None  # the seq of the ``audit.keyed`` entry, if any
    note: str = ""  # what this check could not see (no key, an unkeyed log)


def verify_chain(entries: Iterable[AuditEntry], key: bytes | None = None) -> ChainCheck:
    """Check the chain from the first entry; stop at the first problem. Entries from the
    ``audit.keyed`` entry on are checked with ``key`` (only their links without it)."""
    prev = GENESIS
    expected_seq: int | None = None
    keyed_from: int | None = None
    n = 0
    for e in entries:
        n += 1
        if expected_seq is not None and e.seq != expected_seq:
            return ChainCheck(n, False, f"entries {expected_seq}..{e.seq - 1} are missing "
                              "(deleted)", expected_seq, keyed_from)
        if e.prev_hash != prev:
            return ChainCheck(n, False, f"entry {e.seq} does not follow the entry before it "
                              "(an entry was deleted or inserted)", e.seq, keyed_from)
        if e.action == KEYED_ACTION and (keyed_from is None or key is not None):
            if key is not None and e.detail.get("key_id") != key_id(key):
                return ChainCheck(n, False, f"entry {e.seq} keys the log with another key "
                                  f"(key id {e.detail.get('key_id')}; the given key is "
                                  f"{key_id(key)})", e.seq, keyed_from)
            keyed_from = keyed_from or e.seq
        if (keyed_from is None or key is not None) and entry_hash(
                e.prev_hash, e.seq, e.at, e.actor, e.action, e.detail,
                key if keyed_from is not None else None) != e.hash:
            return ChainCheck(n, False, f"entry {e.seq} was edited: its "
                              f"{'HMAC' if keyed_from else 'hash'} does not match its "
                              "content", e.seq, keyed_from)
        prev = e.hash
        expected_seq = e.seq + 1
    if keyed_from is None:
        note = ("the log is not keyed: a rewrite of the whole chain cannot be detected "
                "(give an audit key: truceguard init --audit-key FILE)")
    elif key is None:
        note = (f"the log is keyed from entry {keyed_from}; without the key only the links of "
                "those entries were checked (give --audit-key FILE)")
    else:
        note = ""
    return ChainCheck(n, True, keyed_from=keyed_from, note=note)


@dataclass(frozen=True, slots=True)
class Anchor:
    """The log's head as the operator keeps it outside the database."""

    seq: int
    hash: str
    at: int
    key_id: str | None
    hmac: str | None

    def body(self) -> bytes:
        return json.dumps({"format": ANCHOR_FORMAT, "seq": self.seq, "hash": self.hash,
                           "at": self.at, "key_id": self.key_id}, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        return {"format": ANCHOR_FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at,
                "key_id": self.key_id, "hmac": self.hmac}


def make_anchor(entries: list[AuditEntry], key: bytes | None, at: int) -> Anchor:
    """The anchor of the log's last entry (seq 0 and ``GENESIS`` for an empty log), signed
    with ``key`` (unsigned without one)."""
    seq, h = (entries[-1].seq, entries[-1].hash) if entries else (0, GENESIS)
    a = Anchor(seq, h, at, key_id(key) if key is not None else None, None)
    if key is None:
        return a
    return Anchor(a.seq, a.hash, a.at, a.key_id,
                  hmac.new(key, a.body(), hashlib.sha256).hexdigest())


def read_anchor(path: str | os.PathLike[str]) -> Anchor:
    """The anchor in ``path``; InputError if it is not one."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as fh:
            data = json.loads(fh.read())
        if data.get("format") != ANCHOR_FORMAT:
            raise ValueError("format")
        return Anchor(int(data["seq"]), str(data["hash"]), int(data["at"]),
                      None if data.get("key_id") is None else str(data["key_id"]),
                      None if data.get("hmac") is None else str(data["hmac"]))
    except OSError as exc:
        raise InputError(f"--anchor {name!r}: cannot read it ({exc.strerror})",
                         hint="`truceguard audit anchor -o FILE` writes one",
                         code="input.anchor") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"--anchor {name!r} is not an audit anchor ({ANCHOR_FORMAT})",
                         hint="`truceguard audit anchor -o FILE` writes one",
                         code="input.anchor") from None


def _check_anchor(entries: list[AuditEntry], anchor: Anchor, key: bytes | None
                  ) -> tuple[str, int | None, str]:
    """(problem, seq, note) of the log against ``anchor``; problem is "" when it holds."""
    note = ""
    if anchor.hmac is not None and key is None:
        note = "the anchor's signature was not checked (no key)"
    elif anchor.hmac is None:
        note = "the anchor is unsigned"
    elif key is not None:
        if anchor.key_id != key_id(key):
            return (f"the anchor was signed with another key (key id {anchor.key_id}; the "
                    f"given key is {key_id(key)})", None, note)
        want = hmac.new(key, anchor.body(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, anchor.hmac):
            return "the anchor's signature does not match: the anchor file was altered", \
                None, note
    if anchor.seq == 0:
        return "", None, note
    if not entries:
        return (f"the log is empty but the anchor records entry {anchor.seq} (the log was "
                "emptied)", anchor.seq, note)
    last = entries[-1].seq
    if last < anchor.seq:
        return (f"the log ends at entry {last}, before the anchored entry {anchor.seq} (its "
                "tail was deleted)", anchor.seq, note)
    at = next((e for e in entries if e.seq == anchor.seq), None)
    if at is None or at.hash != anchor.hash:
        return (f"entry {anchor.seq} is not the anchored one: its hash differs from the "
                "anchor's (the chain was rewritten)", anchor.seq, note)
    return "", None, note


def verify_log(entries: list[AuditEntry], head: str | None, *, key: bytes | None = None,
               anchor: Anchor | None = None) -> ChainCheck:
    """``verify_chain``; with ``key``, that the log is keyed; with ``anchor``, the log against
    it; and the log's last entry against the head the store recorded (so that a deleted tail
    is found too)."""
    check = verify_chain(entries, key)
    if not check.ok:
        return check
    n, kf = len(entries), check.keyed_from
    notes = [check.note] if check.note else []
    if key is not None and kf is None:
        return ChainCheck(n, False, f"the log has no {KEYED_ACTION} entry although a key was "
                          "given: it was never written with the key, or it was rewritten or "
                          "emptied without it", None, kf)
    if anchor is not None:
        problem, seq, note = _check_anchor(entries, anchor, key)
        if problem:
            return ChainCheck(n, False, problem, seq, kf)
        notes += [note] if note else []
    last = f"{entries[-1].seq}:{entries[-1].hash}" if entries else None
    if head != last:
        seq = int(head.split(":")[0]) if head else None
        return ChainCheck(n, False, "the log ends before its recorded last entry "
                          f"{seq} (its tail was deleted)" if head else
                          "the log has entries but no recorded head", seq, kf)
    return ChainCheck(n, True, keyed_from=kf, note="; ".join(notes))


# -- what a write records ----------------------------------------------------------------------
def sorted_digests_sha256(digests: Iterable[str]) -> str:
    """The SHA-256 (hex) of the digests sorted and joined by newlines (UTF-8)."""
    return hashlib.sha256("\n".join(sorted(digests)).encode("utf-8")).hexdigest()


def digests_detail(digests: Iterable[str], limit: int = MAX_LISTED_DIGESTS) -> dict[str, Any]:
    """The raw digests of a write for an audit entry's detail (see the module docstring):
    listed (sorted) up to ``limit``, else their count and one SHA-256 over them."""
    ordered = sorted(digests)
    if len(ordered) <= limit:
        return {"raw_sha256": ordered}
    return {"raw_sha256_count": len(ordered),
            "raw_sha256_sorted_sha256": sorted_digests_sha256(ordered)}


# -- reading the log ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to list. Every field is optional; all given must hold.

    since/until: epoch seconds, compared with the entry's time (both inclusive). actor and
    action: exact. limit: keep the most recent ``limit`` of the entries that match.
    """

    since: int | None = None
    until: int | None = None
    actor: str | None = None
    action: str | None = None
    limit: int | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        """The conditions (SQL with ``?`` parameters) on the ``audit_log`` table."""
        where: list[str] = []
        params: list[Any] = []
        for cond, value in (("at >= ?", self.since), ("at <= ?", self.until),
                            ("actor = ?", self.actor), ("action = ?", self.action)):
            if value is not None:
                where.append(cond)
                params.append(value)
        return where, params


def list_audit(store: MissionStore, flt: AuditFilter, *, style: str = "cli") -> list[AuditEntry]:
    """The entries ``flt`` matches, oldest first (the most recent ``flt.limit`` of them).

    A filter that cannot match anything is an error, never an empty answer: an action that no
    entry has (its hint lists those present, with a did-you-mean), a limit below 1, a period
    that ends before it starts. Errors name the parameters as options (``--action``), or as
    URL parameters (``action``) with ``style="api"``."""

    def name(n: str) -> str:
        return f"--{n}" if style == "cli" else n

    if flt.limit is not None and flt.limit < 1:
        raise InputError(f"{name('limit')} {flt.limit}: give at least 1",
                         hint=f"e.g. {name('limit')} 50", code="input.bad_limit")
    if flt.since is not None and flt.until is not None and flt.until < flt.since:
        raise InputError(f"{name('until')} is before {name('since')}",
                         hint="swap them, or widen the period", code="input.bad_period")
    if flt.action is not None:
        actions = store.audit_actions()
        if flt.action not in actions:
            raise unknown_value(name("action"), flt.action, actions)
    return store.audit_query(flt)

__all__ = ["ANCHOR_FORMAT", "GENESIS", "KEYED_ACTION", "KEY_ENV", "MAX_LISTED_DIGESTS",
           "Anchor", "AuditEntry", "AuditFilter", "ChainCheck", "create_key_file",
           "digests_detail", "entry_hash", "key_from_env", "key_id", "list_audit", "load_key",
           "make_anchor", "read_anchor", "sorted_digests_sha256", "verify_chain", "verify_log"]
