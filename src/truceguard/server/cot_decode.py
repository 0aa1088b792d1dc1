"""CoT messages to observations: the XML events of a turn parsed together where that is
provably the same as one by one, TAK protobuf messages as the CoT XML they stand for, the
user's marking as the ceiling of each event's, and the latest event of each track (see
``server.cot``'s docstring), and the bounded log lines of what was refused (``RefusalLog``)."""

from __future__ import annotations

import base64
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError, XMLParser

from truceguard.errors import RowError
from truceguard.io.cot import observation_from_element, parse_cot_event
from truceguard.io.takproto import TakProtoError, message_to_cot_xml
from truceguard.marking import parse_marking
from truceguard.model import Observation, User

log = logging.getLogger("truceguard.server.cot")

_DOCTYPE = "<!DOCTYPE"
_DECL = re.compile(r"<\?xml version=[\"']1\.0[\"']( encoding=[\"'][A-Za-z0-9._-]+[\"'])?"
                   r"( standalone=[\"'](yes|no)[\"'])? ?\?>[ \t\r\n]*")
_EVENT_NEXT = frozenset(" \t\r\n>/")


def _parse_together(texts: list[str | None]) -> list[Element | None]:
    """The ``<event>`` element of each XML text, parsed in one pass where that is provably the
    same as parsing each alone; None where it must be parsed alone.

    A text joins the pass when, after at most one plain XML declaration, it starts with
    ``<event``, holds ``<event`` exactly once and neither ``<!`` nor ``<?``: then it has no
    comment, CDATA, processing instruction or document type, every ``<`` opens or closes a
    tag, and (the framer cut it right after its only ``</event>``) it is one element that
    can only be closed by its own end tag, so inside a wrapper it is parsed exactly as alone.
    If the pass fails (one of them is not well-formed) all are parsed alone; parsing many in
    one pass saves creating a parser per event."""
    roots: list[Element | None] = [None] * len(texts)
    bodies: list[str] = []
    where: list[int] = []
    for k, text in enumerate(texts):
        if text is None:
            continue
        m = _DECL.match(text)
        body = text[m.end():] if m else text
        if (body.startswith("<event") and body[6:7] in _EVENT_NEXT
                and body.count("<event") == 1 and "<!" not in body and "<?" not in body):
            bodies.append(body)
            where.append(k)
    if len(bodies) < 2:
        return roots
    parser = XMLParser()
    try:
        parser.feed("<events>")
        for body in bodies:
            parser.feed(body)
        parser.feed("</events>")
        events = list(parser.close())
    except ParseError:
        return roots
    if len(events) != len(bodies):  # cannot happen for such texts; never trust it
        return roots
    for k, element in zip(where, events, strict=True):
        roots[k] = element
    return roots


@dataclass(slots=True)
class Decoded:
    records: list[Observation] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    control: int = 0


class Decoder:
    """Messages -> observations, with the user's ceiling, and the latest event of each track."""

    def __init__(self, max_tracks: int) -> None:
        self.max_tracks = max_tracks
        # uid -> (time, source_ref) of its latest event, least recently updated first. An
        # OrderedDict: forgetting the oldest is O(1) (a dict's first key is found by skipping
        # the slots its deleted entries left, which grows with every uid forgotten).
        self._tracks: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._narrowed: dict[tuple[str, str], str] = {}

    def decode(self, messages: list[tuple[bool, bytes]], user: User, where: str,
               seq: int) -> Decoded:
        """Observations of ``messages`` sent by ``user`` (``where``: the peer; ``seq``: the
        number of messages the connection sent before these)."""
        out = Decoded()
        ceiling = self.ceiling(user)
        texts: list[str | None] = []
        for is_proto, data in messages:
            if is_proto:
                texts.append(None)  # decoded one by one below
                continue
            try:
                texts.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(None)
        roots = _parse_together(texts)
        for k, (is_proto, data) in enumerate(messages):
            line = seq + 1 + k
            try:
                obs = self._one(is_proto, data, texts[k], roots[k], ceiling, where, line)
            except RowError as err:
                out.rejected.append(err)
                continue
            except TakProtoError as exc:
                out.rejected.append(RowError(where, line, "takproto", str(exc),
                                             data[:256].hex()))
                continue
            if obs is None:
                out.control += 1
                continue
            if obs.releasability != ceiling:
                obs.releasability = self._narrow(ceiling, obs.releasability)
            attrs = obs.attributes
            attrs["submitted_by"] = user.name
            # The source names the submitting user: a record's identity (source and the
            # event's uid and time) is then the user's own, so no device can claim, probe or
            # narrow another user's record by sending the same uid.
            obs.source = f"cot/{user.name}:" + obs.source.removeprefix("cot:")
            if is_proto:
                attrs["wire"] = "takproto"
                attrs["takproto_b64"] = base64.b64encode(data).decode("ascii")
            if str(attrs.get("type", "")).startswith("a-"):
                self._track(obs)
            out.records.append(obs)
        return out

    def _one(self, is_proto: bool, data: bytes, text: str | None, root: Element | None,
             ceiling: str, where: str, line: int) -> Observation | None:
        if is_proto:
            xml, has_event = message_to_cot_xml(data)
            if not has_event:
                return None
            text = xml
            data = xml.encode("utf-8")
        if root is None and text is not None and _DOCTYPE not in text:
            # Otherwise defusedxml decides (and refuses any entity declaration), as for a file.
            parser = XMLParser()
            try:
                parser.feed(text)
                root = parser.close()
            except ParseError:
                root = None
        if root is None or text is None:
            return parse_cot_event(data, releasability=ceiling, source_file=where,
                                   source_line=line)
        if (root.get("type") or "").startswith("t-x-"):
            return None
        return observation_from_element(root, text, releasability=ceiling, source_file=where,
                                        source_line=line)

    def ceiling(self, user: User) -> str:
        """The canonical text of ``user``'s marking (MarkingError if it is not valid)."""
        got = self._narrowed.get(("", user.marking))
        if got is None:
            got = parse_marking(user.marking or "PUBLIC").text
            self._narrowed[("", user.marking)] = got
        return got

    def _narrow(self, ceiling: str, marking: str) -> str:
        key = (ceiling, marking)
        got = self._narrowed.get(key)
        if got is None:
            got = parse_marking(ceiling).narrow(parse_marking(marking)).text
            if len(self._narrowed) > 10_000:
                self._narrowed.clear()
            self._narrowed[key] = got
        return got

    def _track(self, obs: Observation) -> None:
        uid, _, when = obs.source_ref.rpartition("@")  # a uid may hold "@", a time not
        attrs = obs.attributes
        attrs["uid"] = uid
        try:
            t = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        except ValueError:
            t = float(obs.t_start)
        latest = self._tracks.get(uid)
        if latest is not None:
            if t < latest[0]:
                attrs["superseded_by"] = latest[1]
                return
            if latest[1] != obs.source_ref:
                attrs["supersedes"] = latest[1]
            self._tracks.move_to_end(uid)  # the order is recency
        elif len(self._tracks) >= self.max_tracks:
            self._tracks.popitem(last=False)
        self._tracks[uid] = (t, obs.source_ref)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_FIELD_CHARS = 40  # of a refused event's field name, in a log line
_REASON_CHARS = 120  # of its reason (which may quote the event)
_EXCERPT_CHARS = 80  # of the event itself


def _clip(text: str, limit: int) -> str:
    """``text`` on one line (control characters blanked), at most ``limit`` characters."""
    text = _CONTROL.sub(" ", text[:limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def refusal_line(err: RowError) -> str:
    """Why an event was refused, for a log line: its number, field, reason and start, each
    bounded (see ``server.cot``'s docstring)."""
    raw = err.raw
    decl = _DECL.match(raw)
    if decl:
        raw = raw[decl.end():]
    return (f"event {err.line} refused: {_clip(err.field, _FIELD_CHARS)}: "
            f"{_clip(err.reason, _REASON_CHARS)}; event: {_clip(raw, _EXCERPT_CHARS)}")


class RefusalLog:
    """Log lines for what one connection (or the UDP port) sent and was refused, bounded
    against a flood: the first ``lines`` in each window of ``window_s`` seconds get a line each;
    the rest are counted, and one summary line says how many once the window is over
    (``flush``: at the next refusal, from the idle sweep, and with ``final`` at the end)."""

    __slots__ = ("clock", "lines", "logged", "name", "noun", "started", "suppressed",
                 "window_s")

    def __init__(self, name: str, lines: int, window_s: float, *,
                 noun: str = "events refused",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name  # who the summary line is about, e.g. "CoT tcp 10.0.0.5:50412 (ann)"
        self.noun = noun  # what the summary line counts
        self.lines = lines
        self.window_s = window_s
        self.clock = clock
        self.started = float("-inf")
        self.logged = 0
        self.suppressed = 0

    def refused(self, err: RowError, where: str | None = None) -> None:
        """One refused event (``where``: the peer and user, if not this log's ``name``)."""
        self.note(refusal_line(err), where)

    def note(self, what: str, where: str | None = None) -> None:
        """One refusal, said by ``what``."""
        now = self.clock()
        if now - self.started >= self.window_s:
            self.flush(final=True)
            self.started, self.logged = now, 0
        if self.logged < self.lines:
            self.logged += 1
            log.warning("%s: %s", where or self.name, what)
        else:
            self.suppressed += 1

    def flush(self, *, final: bool = False) -> None:
        """The summary line of a window that is over (``final``: of the current one too)."""
        if not self.suppressed:
            return
        if not final and self.clock() - self.started < self.window_s:
            return
        log.warning("%s: %s more %s in the last %g s (not logged one by one: at most %d "
                    "lines per %g s)", self.name, f"{self.suppressed:,}", self.noun,
                    self.window_s, self.lines, self.window_s)
        self.suppressed = 0


__all__ = ["Decoded", "Decoder", "RefusalLog", "refusal_line"]
