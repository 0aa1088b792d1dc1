"""Registering partners: every value checked before it is stored, and the change audited.

``add_partner`` is what ``truceguard federation add`` calls: the name (the CN of the partner's
certificate), an ``https://host:port`` URL, the nation (an ISO 3166-1 alpha-3 country) and the
groups of the link (each one the nation belongs to; default all of them), this server's
client certificate and key for the partner and the CA that signs the partner's certificates
(all PEM files, read and checked now; stored as absolute paths), and whether the link relays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from truceguard.errors import InputError
from truceguard.federation.rules import default_groups
from truceguard.federation.tls import check_key_pair, load_certificate
from truceguard.federation.wire import NAME
from truceguard.marking import parse_code, vocabulary
from truceguard.store.base import MissionStore
from truceguard.store.federation import Partner


def check_url(url: str) -> str:
    """``https://host:port`` (a path is not allowed); InputError naming the URL otherwise."""
    parts = urlsplit(url.strip())
    bad = (parts.scheme != "https" or not parts.hostname or parts.username or parts.password
           or parts.path not in ("", "/") or parts.query or parts.fragment)
    try:
        port = parts.port
    except ValueError:
        port, bad = None, True
    if bad or port is None:
        raise InputError(f"--url {url!r} is not https://HOST:PORT",
                         hint="the partner's federation listener, e.g. https://fra.example:8443",
                         code="input.bad_url")
    host = parts.hostname or ""
    try:
        shown = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        shown = host
    return f"https://{shown}:{port}"


def check_groups(nation: str, groups: Sequence[str]) -> tuple[str, ...]:
    """The link's groups: each a group ``nation`` belongs to (default: all of them)."""
    if not groups:
        return default_groups(nation)
    voc = vocabulary()
    out = []
    for g in groups:
        code = parse_code(g, what="--group")
        if code not in voc.groups:
            raise InputError(f"--group {g!r} is a country, not a group",
                             hint="the nation goes in --nation", code="input.bad_group")
        if nation not in voc.groups[code]:
            raise InputError(f"--group {code}: {nation} is not a member of {code}",
                             hint="name groups the partner's nation belongs to: "
                                  + ", ".join(default_groups(nation)), code="input.bad_group")
        out.append(code)
    return tuple(sorted(set(out)))


def add_partner(store: MissionStore, name: str, url: str, nation: str, groups: Sequence[str],
                cert: str, key: str, ca: str, *, relay: bool, by: str) -> Partner:
    """Register a partner (see the module docstring); audited as ``federation.partner_added``."""
    if not NAME.match(name):
        raise InputError(f"partner name {name!r} is not a server name",
                         hint="the CN of the partner's certificate: letters, digits, '.', "
                              "'_', '-' (at most 64)", code="input.bad_name")
    code = parse_code(nation, what="--nation")
    if code in vocabulary().groups:
        raise InputError(f"--nation {nation!r} is a group, not a country",
                         hint="the partner's nation, e.g. FRA; groups go in --group",
                         code="input.bad_nation")
    link_groups = check_groups(code, groups)
    files = [str(Path(p).resolve()) for p in (cert, key, ca)]
    check_key_pair(files[0], files[1], "--cert")
    load_certificate(files[2], "--ca")
    with store.transaction():
        partner = store.add_partner(name, check_url(url), code, link_groups, *files,
                                    relay=relay)
        store.audit(by, "federation.partner_added",
                    {"name": name, "url": partner.url, "nation": code,
                     "groups": list(link_groups), "relay": relay})
    return partner


def remove_partner(store: MissionStore, name: str, *, by: str) -> Partner:
    """Remove a partner: its link stops and it is refused from then on (audited)."""
    with store.transaction():
        partner = store.remove_partner(name)
        store.audit(by, "federation.partner_removed", {"name": name})
    return partner


__all__ = ["add_partner", "check_groups", "check_url", "remove_partner"]
