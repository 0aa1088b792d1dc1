"""Federation: national servers that share exactly what their markings allow.

Each nation runs its own server; a federation link sends a partner exactly the observations
whose marking is releasable to the partner's nation (and the link's groups), with their
provenance (origin server, original id, digest, marking), over mutual TLS; the receiver keeps
them as observations of their origin. ``rules`` holds the trust rules, ``wire`` the batch
format, ``link`` the sending side, ``listener`` and ``receive`` the receiving side,
``partners`` the registration; ``truceguard.server.federation`` runs both in
``truceguard serve``. See docs/federation.md.
"""

from truceguard.federation.partners import add_partner, remove_partner
from truceguard.federation.rules import audience, refusal, send_decision

__all__ = ["add_partner", "audience", "refusal", "remove_partner", "send_decision"]
