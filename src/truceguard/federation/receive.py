"""The receiving side of a link: one batch from an authenticated partner, judged and stored.

``receive_batch`` runs in a worker thread: each record is checked against the trust rules
(``rules.refusal``) and the good ones are stored as observations of their origin, with the
withdrawals, in one transaction together with the audit entries; the answer says what became
of each record (``wire``). The audit log gets one entry per batch and kind: ``federation.
received`` (records stored or updated, and duplicates), ``federation.refused`` (each refused
record's identity and reason) and ``federation.withdrawn``; ``keys_detail`` lists the records'
identities (up to ``MAX_LISTED``, else their number and one digest over them).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from truceguard.federation.rules import refusal
from truceguard.federation.wire import BadRecord, Batch
from truceguard.store.base import MissionStore, Store
from truceguard.store.federation import Incoming, Partner, record_key

log = logging.getLogger("truceguard.federation")
MAX_LISTED = 200


def keys_detail(keys: Sequence[str]) -> dict[str, Any]:
    """Record identities for an audit entry: listed (sorted) up to ``MAX_LISTED``, else their
    number and the SHA-256 of the sorted identities joined by newlines."""
    ordered = sorted(keys)
    if len(ordered) <= MAX_LISTED:
        return {"records": ordered}
    digest = hashlib.sha256("\n".join(ordered).encode("utf-8")).hexdigest()
    return {"records_count": len(ordered), "records_sorted_sha256": digest}


def receive_batch(store: Store, partner: Partner, batch: Batch, me: str,
                  my_nation: str) -> dict[str, Any]:
    """Judge and store ``batch`` from ``partner``; the answer document (``wire``)."""
    refused: list[BadRecord] = list(batch.bad)
    keep: list[Incoming] = []
    for rec in batch.records:
        why = refusal(rec.origin, rec.via, rec.marking, partner, me, my_nation)
        if why is not None:
            refused.append(BadRecord(rec.origin, rec.original_id, *why))
            continue
        keep.append(Incoming(rec.origin, rec.original_id, rec.via, rec.digest,
                             rec.marking.text, rec.observation))
    actor = f"federation:{partner.name}"
    with store.transaction():
        counts = store.federation_apply(partner, keep, batch.withdrawals, refused=len(refused))
        stored = [*counts.accepted, *counts.updated]
        if stored or counts.duplicates:
            store.audit(actor, "federation.received",
                        {"stored": len(counts.accepted), "updated": len(counts.updated),
                         "duplicates": len(counts.duplicates), **keys_detail(stored)})
        if refused:
            store.audit(actor, "federation.refused",
                        {"refused": len(refused),
                         "reasons": sorted({f"{b.code}" for b in refused}),
                         **keys_detail([record_key(b.origin, b.original_id) for b in refused])})
        if counts.withdrawn or counts.not_withdrawn:
            store.audit(actor, "federation.withdrawn",
                        {"withdrawn": len(counts.withdrawn),
                         "not_held": len(counts.not_withdrawn),
                         **keys_detail(list(counts.withdrawn))})
    for b in refused[:5]:
        log.warning("federation: refused %s#%s from %s: %s (%s)", b.origin, b.original_id,
                    partner.name, b.message, b.code)
    return {"accepted": len(counts.accepted), "updated": len(counts.updated),
            "duplicates": len(counts.duplicates), "withdrawn": len(counts.withdrawn),
            "refused": [{"origin": b.origin, "id": b.original_id, "code": b.code,
                         "message": b.message} for b in refused]}


def refuse_request(store: MissionStore, partner: Partner | None, code: str, message: str
                   ) -> None:
    """Audit a request refused whole (garbage, over its bound, an unknown certificate)."""
    actor = f"federation:{partner.name}" if partner else "federation:unknown"
    store.audit(actor, "federation.refused", {"request": code, "message": message[:300]})


__all__ = ["keys_detail", "receive_batch", "refuse_request"]
