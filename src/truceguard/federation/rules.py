"""Who may hold what across a federation link: the trust rules, as plain functions.

A partner speaks for one nation and the groups it names (by default every group the nation
belongs to); its audience is those codes together, and a record is releasable to it when its
marking is PUBLIC or names one of them (``audience``). The rules:

- Sending (``send_decision``): a record goes to a partner only when its marking is releasable
  to the partner's audience; never to a server it already passed through (its origin
  included); a record that came from another server goes on only over a relaying link. A
  record the partner holds that is no longer releasable to it (remarked narrower) is owed a
  withdrawal; one whose marking changed but is still releasable is sent again (the partner
  takes the new marking); one that became releasable (remarked wider) is sent.
- Receiving (``refusal``): a record is refused when the sending partner relayed it under a
  marking its own audience may not hold (it should never have had it; a record's origin holds
  its own records whatever their marking), or when its marking is one this server's own
  nation may not hold; when its origin chain is not plausible: the chain must start at its
  origin, end at the sending partner, name no server twice and not this server; a record
  whose origin is not the sender (relayed) is taken only over a relaying link.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from truceguard.marking import Marking, Viewer, vocabulary
from truceguard.store.federation import Outgoing, Partner


def audience(partner: Partner) -> Viewer:
    """The viewer a partner is: one audience, its nation and the groups of the link."""
    return Viewer(audiences=(frozenset({partner.nation, *partner.groups}),),
                  names=(partner.nation,))


def default_groups(nation: str) -> tuple[str, ...]:
    """Every group ``nation`` belongs to (the vocabulary's data)."""
    return tuple(sorted(vocabulary().groups_of(nation)))


@dataclass(frozen=True, slots=True)
class Decision:
    """What a link does with one outgoing item: ``send`` (the record), ``withdraw``, ``hold``
    (not for this partner; nothing to tell it) or ``skip`` (settled already: nothing to do)."""

    action: str
    reason: str = ""


def send_decision(item: Outgoing, partner: Partner, me: str) -> Decision:
    """What to do with ``item`` on the link to ``partner`` (see the module docstring)."""
    if item.observation is None or item.marking is None:  # withdrawn here
        return Decision("withdraw") if item.settled_state == "withdraw_due" else Decision("skip")
    chain = (*item.via,) if item.via else (me,)
    allowed = True
    reason = ""
    if partner.name in chain:
        allowed, reason = False, "it came from that server"
    elif item.via and not partner.relay:
        allowed, reason = False, "the link does not relay"
    elif not audience(partner).may_see(item.marking):
        allowed, reason = False, f"{item.marking.text} is not releasable to {partner.nation}"
    if allowed:
        if item.settled_state == "sent" and item.settled_marking_id == item.marking_id:
            return Decision("skip")
        return Decision("send")
    if item.settled_state == "sent":
        return Decision("withdraw", reason)
    return Decision("hold", reason)


@lru_cache(maxsize=64)
def _nation(code: str) -> Viewer:
    return Viewer.of(code)


def chain_of(origin: str, via: tuple[str, ...]) -> tuple[str, ...]:
    return via or (origin,)


def refusal(origin: str, via: tuple[str, ...], marking: Marking, partner: Partner, me: str,
            my_nation: str) -> tuple[str, str] | None:
    """(code, reason) when a received record must be refused; None when it may be kept."""
    chain = chain_of(origin, via)
    if chain[0] != origin:
        return "federation.forged_origin", f"its chain {list(chain)} does not start at {origin}"
    if chain[-1] != partner.name:
        return ("federation.forged_origin",
                f"its chain {list(chain)} does not end at the sender {partner.name}")
    if len(set(chain)) != len(chain) or me in chain:
        return "federation.loop", f"its chain {list(chain)} loops (or passes through {me})"
    if origin != partner.name and not partner.relay:
        return ("federation.not_relayed",
                f"origin {origin} is not the sender {partner.name}, and the link does not relay")
    if origin != partner.name and not audience(partner).may_see(marking):
        return ("federation.not_releasable",
                f"{marking.text} is not releasable to the sender's nation {partner.nation}")
    if not _nation(my_nation).may_see(marking):
        return ("federation.not_releasable",
                f"{marking.text} is not releasable to this server's nation {my_nation}")
    return None


__all__ = ["Decision", "audience", "default_groups", "refusal", "send_decision"]
