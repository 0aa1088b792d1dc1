"""The audit log's hash chain: every write, status change, user change and failed login is
one entry, and each entry's hash covers the one before it.

``entry_hash(prev_hash, seq, at, actor, action, detail)`` is the SHA-256 of the previous hash
and the entry's fields as canonical JSON; the first entry's previous hash is ``GENESIS``.
``verify_chain(entries)`` walks the log and names the first entry that was edited (its hash
does not match its fields), deleted (a gap in the sequence, or a previous hash that is not the
hash before it) or inserted. The store also refuses UPDATE and DELETE on the log; the chain is
what still tells when someone edits the file underneath it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


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


__all__ = ["GENESIS", "AuditEntry", "ChainCheck", "entry_hash", "verify_chain", "verify_log"]
