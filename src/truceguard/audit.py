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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from truceguard.errors import InputError, unknown_value

if TYPE_CHECKING:
    from truceguard.store.base import Store

GENESIS = "0" * 64
MAX_LISTED_DIGESTS = 1000


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
               detail: dict[str, Any]) -> str:
    body = json.dumps([prev_hash, seq, at, actor, action, detail], sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainCheck:
    entries: int
    ok: bool
    problem: str = ""  # the first problem found, naming the entry
    seq: int | None = None


def verify_chain(entries: Iterable[AuditEntry]) -> ChainCheck:
    """Check the chain from the first entry; stop at the first problem."""
    prev = GENESIS
    expected_seq: int | None = None
    n = 0
    for e in entries:
        n += 1
        if expected_seq is not None and e.seq != expected_seq:
            return ChainCheck(n, False, f"entries {expected_seq}..{e.seq - 1} are missing "
                              "(deleted)", expected_seq)
        if e.prev_hash != prev:
            return ChainCheck(n, False, f"entry {e.seq} does not follow the entry before it "
                              "(an entry was deleted or inserted)", e.seq)
        if entry_hash(e.prev_hash, e.seq, e.at, e.actor, e.action, e.detail) != e.hash:
            return ChainCheck(n, False, f"entry {e.seq} was edited: its hash does not match "
                              "its content", e.seq)
        prev = e.hash
        expected_seq = e.seq + 1
    return ChainCheck(n, True)


def verify_log(entries: list[AuditEntry], head: str | None) -> ChainCheck:
    """``verify_chain``, and the log's last entry against the head the store recorded (so that
    a deleted tail is found too)."""
    check = verify_chain(entries)
    if not check.ok:
        return check
    last = f"{entries[-1].seq}:{entries[-1].hash}" if entries else None
    if head != last:
        seq = int(head.split(":")[0]) if head else None
        return ChainCheck(len(entries), False, "the log ends before its recorded last entry "
                          f"{seq} (its tail was deleted)" if head else
                          "the log has entries but no recorded head", seq)
    return check


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


def list_audit(store: Store, flt: AuditFilter, *, style: str = "cli") -> list[AuditEntry]:
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

__all__ = ["GENESIS", "MAX_LISTED_DIGESTS", "AuditEntry", "AuditFilter", "ChainCheck",
           "digests_detail", "entry_hash", "list_audit", "sorted_digests_sha256",
           "verify_chain", "verify_log"]
