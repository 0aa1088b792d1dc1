"""Opaque record ids for the HTTP API.

The store numbers observations, violations, plan runs and alert targets in sequence; shown as
they are, two ids tell a viewer how many records lie between them that they may not see. The
API therefore shows each such id as a token: a keyed permutation of the 64-bit number (a
four-round Feistel network whose round function is HMAC-SHA256 under a key derived from the
store's own secret, with the record kind in every round), written as the kind's prefix and
thirteen base-32 characters, e.g. ``obs_4q7xk2m9aw3bc``.

- Every node on one database derives the same key, so a token works on any node.
- A token of one kind never decodes as another (``vio_...`` is no observation).
- Any well-formed token decodes to *some* number, so a forged token is answered exactly as a
  record that does not exist or is not releasable: 404, with nothing to tell them apart.
- Incident ids are already keyed digests of their view (``pipeline``); they pass through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Literal

from truceguard.errors import NotFoundError

Kind = Literal["observation", "violation", "plan", "alert_target"]
PREFIX: dict[str, str] = {"observation": "obs", "violation": "vio", "plan": "run",
                          "alert_target": "tgt"}
_ROUNDS = 4
_MASK32 = 0xFFFFFFFF
_TOKEN = re.compile(r"^([a-z]{3})_([a-z2-7]{13})$")


def derive_key(store_secret: bytes) -> bytes:
    """The id key, derived from the store's secret (``Store.incident_key``)."""
    return hmac.new(store_secret, b"truceguard api ids v1", hashlib.sha256).digest()


class IdCodec:
    """Encodes store numbers as tokens of a kind and decodes them back."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("an id key has at least 16 bytes")
        self._key = key

    def _round(self, kind: str, i: int, half: int) -> int:
        msg = f"{kind}:{i}:".encode() + half.to_bytes(4, "big")
        return int.from_bytes(hmac.new(self._key, msg, hashlib.sha256).digest()[:4], "big")

    def _permute(self, kind: str, n: int, inverse: bool = False) -> int:
        left, right = n >> 32, n & _MASK32
        rounds = range(_ROUNDS - 1, -1, -1) if inverse else range(_ROUNDS)
        for i in rounds:
            if inverse:
                left, right = right ^ self._round(kind, i, left), left
            else:
                left, right = right, left ^ self._round(kind, i, right)
        return (left << 32) | right

    def encode(self, kind: Kind, n: int) -> str:
        """The token for record number ``n`` of ``kind``."""
        if not 0 <= n < 2**64:
            raise ValueError(f"record number {n} is out of range")
        raw = self._permute(kind, n).to_bytes(8, "big")
        body = base64.b32encode(raw).decode("ascii").rstrip("=").lower()
        return f"{PREFIX[kind]}_{body}"

    def decode(self, kind: Kind, token: str) -> int:
        """The record number behind ``token``; a token that is malformed or of another kind
        is a :class:`NotFoundError`, the same answer as a record that does not exist."""
        m = _TOKEN.match(token) if isinstance(token, str) and len(token) == 17 else None
        if m is None or m.group(1) != PREFIX[kind]:
            raise not_found(kind, token)
        raw = base64.b32decode(m.group(2).upper() + "===")
        if len(raw) != 8:
            raise not_found(kind, token)
        n = self._permute(kind, int.from_bytes(raw, "big"), inverse=True)
        if self.encode(kind, n) != token:  # the last character's spare bit set: not canonical
            raise not_found(kind, token)
        return n


def not_found(kind: str, token: object) -> NotFoundError:
    shown = token[:40] if isinstance(token, str) else type(token).__name__
    return NotFoundError(f"no {kind.replace('_', ' ')} {shown!r} that you may see",
                         hint=f"ids of {kind.replace('_', ' ')}s look like "
                              f"{PREFIX[kind]}_ and 13 letters and digits; list them to find one",
                         code=f"not_found.{kind}")


__all__ = ["PREFIX", "IdCodec", "Kind", "derive_key", "not_found"]
