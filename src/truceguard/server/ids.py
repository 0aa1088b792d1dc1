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

``ApiIds`` is the API's one translator (``ServerContext.ids``): it decodes what a request
names (``record``), shows every id of an answer as its token (``shown``: by field name, through
dicts, lists and dataclasses), writes the position inside a page cursor (``cursor_token``), and
names records by their tokens in the errors raised about them (``speaking_of``). The CLI reads
its own database and keeps the store's numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Literal, TypeVar

from truceguard.errors import NotFoundError, TruceguardError

Kind = Literal["observation", "violation", "plan", "alert_target", "cursor"]
PREFIX: dict[str, str] = {"observation": "obs", "violation": "vio", "plan": "run",
                          "alert_target": "tgt", "cursor": "cur"}
# What a kind is called in messages and error codes.
NOUN: dict[str, str] = {"observation": "observation", "violation": "violation",
                        "plan": "plan run", "alert_target": "alert target",
                        "cursor": "cursor"}
# The pattern of a kind's tokens (the OpenAPI schema states it).
PATTERN: dict[str, str] = {kind: f"^{p}_[a-z2-7]{{13}}$" for kind, p in PREFIX.items()}
# The fields of an answer that hold record numbers, and their kind (one number or a list).
ID_FIELDS: dict[str, Kind] = {
    "obs_id": "observation", "obs_ids": "observation", "observation_ids": "observation",
    "violation_id": "violation", "violation_ids": "violation", "run_id": "plan",
    "target_id": "alert_target"}
T = TypeVar("T")
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
    """The one answer for a record of ``kind`` named by ``token`` that the viewer cannot
    read: it does not exist, it is not releasable to them, or the token is forged."""
    noun = NOUN[kind]
    shown = token[:40] if isinstance(token, str) else type(token).__name__
    return NotFoundError(f"no {noun} {shown!r} that you may see",
                         hint=f"ids of {noun}s look like {PREFIX[kind]}_ and 13 letters and "
                              "digits; list them to find one",
                         code=f"not_found.{noun.replace(' ', '_')}")


@dataclass(frozen=True, slots=True)
class RecordId:
    """A record a request named: its kind, its number in the store, and the token it was
    named by."""

    kind: Kind
    n: int
    token: str


class ApiIds:
    """The API's translation between store numbers and tokens, under the key derived from the
    store's secret (read once, when first needed)."""

    def __init__(self, store_secret: Callable[[], bytes]) -> None:
        self._secret = store_secret
        self._codec: IdCodec | None = None

    @property
    def codec(self) -> IdCodec:
        if self._codec is None:
            self._codec = IdCodec(derive_key(self._secret()))
        return self._codec

    def token(self, kind: Kind, n: int) -> str:
        """The token of record ``n`` of ``kind``."""
        return self.codec.encode(kind, n)

    def record(self, kind: Kind, token: str) -> RecordId:
        """The record ``token`` names; a token that is malformed, forged or of another kind
        (a bare number too), or that decodes to a number no store gives (0, or 2**63 and
        over), is :func:`not_found`."""
        n = self.codec.decode(kind, token)
        if not 0 < n < 2**63:
            raise not_found(kind, token)
        return RecordId(kind, n, token)

    def shown(self, value: T) -> T:
        """``value`` (an answer: dicts, lists, tuples, dataclasses) with every record number
        in the fields of ``ID_FIELDS`` written as its token. A register system's id (``S``
        and its first sighting's number) becomes ``sys_`` and the letters of that
        sighting's token."""
        shown: T = self._walk(value, None)
        return shown

    def _walk(self, value: Any, kind: Kind | None) -> Any:
        if kind is not None and isinstance(value, int) and not isinstance(value, bool):
            return self.codec.encode(kind, value)
        if isinstance(value, dict):
            return {k: self._field(k, v) for k, v in value.items()}
        if isinstance(value, list) or type(value) is tuple:
            return type(value)(self._walk(v, kind) for v in value)
        if is_dataclass(value) and not isinstance(value, type):
            changed = {f.name: self._field(f.name, getattr(value, f.name))
                       for f in fields(value) if f.init}
            return replace(value, **changed)
        return value

    def _field(self, name: Any, value: Any) -> Any:
        if name == "system_id" and isinstance(value, str) and value[1:].isdigit():
            return "sys_" + self.codec.encode("observation", int(value[1:]))[4:]
        return self._walk(value, ID_FIELDS.get(name) if isinstance(name, str) else None)

    @contextmanager
    def speaking_of(self, record: RecordId) -> Iterator[None]:
        """Errors raised inside name ``record`` by its token, never by its number: its kind's
        not-found is the very answer a forged token gets (:func:`not_found`); any other
        error's message and hint show the token where they showed the number."""
        try:
            yield
        except NotFoundError as exc:
            if exc.code == f"not_found.{NOUN[record.kind].replace(' ', '_')}":
                raise not_found(record.kind, record.token) from None
            raise _renamed(exc, record) from None
        except TruceguardError as exc:
            raise _renamed(exc, record) from None


def _renamed(exc: TruceguardError, record: RecordId) -> TruceguardError:
    """``exc`` with ``record``'s number written as its token in its message and hint."""
    number = re.compile(rf"(?<![\w.,]){record.n}(?!\w|[.,]\d)")  # not inside 1,024 or 2.5
    exc.message = number.sub(record.token, exc.message)
    exc.hint = number.sub(record.token, exc.hint or "")
    exc.args = (exc.message, *exc.args[1:])
    return exc


__all__ = ["ID_FIELDS", "NOUN", "PATTERN", "PREFIX", "ApiIds", "IdCodec", "Kind", "RecordId",
           "derive_key", "not_found"]
