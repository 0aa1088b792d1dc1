"""The store's schema as forward migrations, applied in order and never edited once released.

One list serves both backends: migration N is ``MIGRATIONS[N - 1]``, a ``Migration`` whose
``sql`` both SQLite and PostgreSQL run (written in SQLite's words; ``postgres_ddl`` turns
``INTEGER PRIMARY KEY``, ``INTEGER``, ``REAL``, ``TEXT`` and ``BLOB`` into an identity
column, ``BIGINT``, ``DOUBLE PRECISION``, byte-ordered ``TEXT COLLATE "C"`` (so that both
order text alike) and ``BYTEA``); then, for PostgreSQL only, its ``postgres`` text (the
append-only function, a sequence moved past an id written explicitly); then its append-only
tables' triggers (SQLite's ``RAISE(ABORT)`` blocks, or statement triggers calling that
PL/pgSQL function); then its Python step. All in one transaction. Statements end with ';' at
the end of a line; a trigger runs from ``CREATE TRIGGER`` to ``END;`` and a PL/pgSQL body
from ``$$`` to ``$$``.

Migration 5 is the releasability and judging model of today:
- ``markings`` holds each distinct marking once (1 is PUBLIC), ``marking_codes`` its codes;
  an observation points at its marking, and every read matches the viewer's codes exactly
  against ``marking_codes`` (never by pattern). Old markings (``REL UK FR``) are parsed,
  converted to alpha-3 codes and moved there; one that cannot be parsed becomes OWNER ONLY.
- ``marking_changes`` records every change of an observation's marking (append-only).
- ``dedup_key`` starts with the reader that produced the record, so that a file of another
  format cannot claim a record's identity; ``conflicts`` keeps a record whose key is taken by
  a record with other content, for review, never dropping it.
- Incidents are rebuilt by the next fusion as ``incident_views``: per incident, one summary
  for each set of its observations some viewer may see (see ``truceguard.pipeline``).
- Violations carry the terms version, the probability that the position satisfies the clause
  and the controlling side as its own field; the violations and status trail of migration 3
  are kept, renamed ``violations_v3`` and ``violation_status_v3``.

Migration 7 splits an incident's view into connected parts (``parent_id``, ``members``) and
starts recording in ``meta`` the terms a store was judged against (``judged:<terms>``); its
Python step records, for a store judged before, the version of each terms' newest violation.

Migration 8 adds a monitor's report to ``observations``: nullable columns for its kind,
direction, bearing and error, distance band, observer position and weapon type, and
``report_detail``, the JSON object of its other fields (``io.columns.REPORT_COLUMNS``). Rows
stored before it are not monitors' reports: every new column is NULL.

Migration 9 adds ``fired_from`` and ``p_fired_from`` to ``violations``: the side controlling
an estimated firing region; NULL where none was estimated (every violation judged before).

Migration 10 adds evidence attachments (``truceguard.attachments``): ``attachments`` holds
each file once under its SHA-256 (its bytes, at most 20 MiB; size, media type, and from EXIF
the capture time in UTC with the offset the file gave, NULL where it gave none and the time
was taken as UTC; position; device; who added it first, when); ``observation_attachments``
links a file to each observation it is evidence for, once per pair, with who and when. Both
are append-only: content-addressed bytes never change.

Migration 11 adds ``allow_private`` to ``alert_targets``: 1 where the operator allowed the
target to point at a loopback, private or other non-public address; 0 (refused) for every
target added before it.

Migration 13 lets several nodes share one PostgreSQL database (``store.cluster``):
``outbox.claimed_by`` names the node delivering a row (NULL when none is), and on PostgreSQL a
trigger notifies the ``truceguard_users`` channel with a user's name when they are disabled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BACKENDS = ("sqlite", "postgresql")

PythonStep = Callable[[Callable[..., Any]], None]


@dataclass(frozen=True, slots=True)
class AppendOnly:
    """A table whose rows are never updated or deleted, and its triggers' names."""

    table: str
    what: str  # "the ingest log": the error says "<what> is append-only"
    on_update: str
    on_delete: str


@dataclass(frozen=True, slots=True)
class Migration:
    """One forward migration: SQL for both backends, then what differs between them."""

    sql: str
    append_only: tuple[AppendOnly, ...] = ()
    postgres: str = ""
    python: PythonStep | None = None

    def statements(self, backend: str) -> list[str]:
        """The SQL statements of this migration for ``backend``, in order."""
        if backend == "sqlite":
            return split_sql(self.sql) + [s for a in self.append_only for s in _sqlite_triggers(a)]
        if backend == "postgresql":
            return ([postgres_ddl(s) for s in split_sql(self.sql)] + split_sql(self.postgres)
                    + [s for a in self.append_only for s in _postgres_triggers(a)])
        raise ValueError(f"no schema for backend {backend!r}")


def _sqlite_triggers(a: AppendOnly) -> list[str]:
    return [f"CREATE TRIGGER {name} BEFORE {event} ON {a.table}\nBEGIN\n"
            f"    SELECT RAISE(ABORT, '{a.what} is append-only');\nEND;"
            for name, event in ((a.on_update, "UPDATE"), (a.on_delete, "DELETE"))]


def _postgres_triggers(a: AppendOnly) -> list[str]:
    # Statement triggers: they refuse even an UPDATE or DELETE that matches no row, and
    # TRUNCATE (which row triggers never see).
    return [f"CREATE TRIGGER {name} BEFORE {event} ON {a.table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION truceguard_append_only('{a.what} is append-only');"
            for name, event in ((a.on_update, "UPDATE"), (a.on_delete, "DELETE OR TRUNCATE"))]


_POSTGRES_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
)


def postgres_ddl(statement: str) -> str:
    """``statement`` (SQLite's column types) with PostgreSQL's column types."""
    for pattern, replacement in _POSTGRES_TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


def split_sql(script: str) -> list[str]:
    """Statements of a migration script (split on lines that end a statement with ';',
    keeping a trigger's ``BEGIN ... END;`` and a ``$$ ... $$`` body whole)."""
    out, buf = [], []
    in_trigger = in_body = False
    for line in script.strip().splitlines():
        buf.append(line)
        up = line.strip().upper()
        if up.startswith("CREATE TRIGGER") and not up.endswith(";"):
            in_trigger = True
        if line.count("$$") % 2:
            in_body = not in_body
        if in_trigger and up.startswith("END;"):
            in_trigger = False
            out.append("\n".join(buf))
            buf = []
        elif not in_trigger and not in_body and line.rstrip().endswith(";"):
            out.append("\n".join(buf))
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf))
    return out


_SQL: list[str] = [
    # 1: observations, kept verbatim, and the append-only ingest log.
    """
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
);
CREATE TABLE observations (
    obs_id INTEGER PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    how_known TEXT NOT NULL,
    t_start INTEGER NOT NULL,
    t_end INTEGER NOT NULL,
    time_precision_s INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    uncertainty_m REAL,
    category TEXT NOT NULL,
    weapon_class TEXT NOT NULL,
    count INTEGER NOT NULL,
    text TEXT NOT NULL,
    origin TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    releasability TEXT NOT NULL,
    raw TEXT NOT NULL,
    raw_sha256 TEXT NOT NULL,
    source_file TEXT NOT NULL,
    source_line INTEGER NOT NULL,
    attributes TEXT NOT NULL
);
CREATE INDEX observations_time ON observations (t_start);
CREATE INDEX observations_position ON observations (lat, lon);
CREATE TABLE ingest_log (
    ingest_id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    path TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    imported INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    status TEXT NOT NULL
);
""",
    # 2: incidents (fusion) and each observation's incident.
    """
ALTER TABLE observations ADD COLUMN incident_id INTEGER;
CREATE INDEX observations_incident ON observations (incident_id);
CREATE TABLE incidents (
    incident_id INTEGER PRIMARY KEY,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    uncertainty_m REAL NOT NULL,
    t_start INTEGER NOT NULL,
    t_end INTEGER NOT NULL,
    category TEXT NOT NULL,
    category_votes TEXT NOT NULL,
    weapon_class TEXT NOT NULL,
    weapon_votes TEXT NOT NULL,
    n_observations INTEGER NOT NULL,
    n_sources INTEGER NOT NULL,
    grade TEXT NOT NULL,
    grade_reason TEXT NOT NULL,
    releasability TEXT NOT NULL
);
CREATE INDEX incidents_time ON incidents (t_start);
CREATE TABLE fusion_runs (
    run_id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    params TEXT NOT NULL,
    mode TEXT NOT NULL,
    n_observations INTEGER NOT NULL,
    n_incidents INTEGER NOT NULL
);
""",
    # 3: violations (adjudication) and their append-only status trail.
    """
CREATE TABLE violations (
    violation_id INTEGER PRIMARY KEY,
    terms TEXT NOT NULL,
    incident_id INTEGER NOT NULL,
    clause TEXT NOT NULL,
    severity INTEGER NOT NULL,
    side TEXT NOT NULL,
    signed_distance_m REAL NOT NULL,
    zone TEXT NOT NULL,
    location_text TEXT NOT NULL,
    t_start INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    category TEXT NOT NULL,
    weapon_class TEXT NOT NULL,
    releasability TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (terms, incident_id, clause)
);
CREATE INDEX violations_time ON violations (terms, t_start);
CREATE TABLE violation_status (
    violation_id INTEGER NOT NULL REFERENCES violations (violation_id),
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    who TEXT NOT NULL,
    why TEXT NOT NULL
);
CREATE INDEX violation_status_by_violation ON violation_status (violation_id, seq);
""",
    # 4: the incident index covers fused observations only: an import (all unfused) then
    # builds it for free, and lookups by incident are unchanged.
    """
DROP INDEX IF EXISTS observations_incident;
CREATE INDEX observations_incident ON observations (incident_id) WHERE incident_id IS NOT NULL;
""",
    # 5: structured markings, reader-scoped identity, conflicts, incident views, violations
    # with their uncertainty (see the module docstring).
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE markings (
    marking_id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE marking_codes (
    marking_id INTEGER NOT NULL REFERENCES markings (marking_id),
    code TEXT NOT NULL,
    PRIMARY KEY (marking_id, code)
);
CREATE INDEX marking_codes_by_code ON marking_codes (code);
INSERT INTO markings (marking_id, text) VALUES (1, 'PUBLIC');
ALTER TABLE observations ADD COLUMN marking_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE observations ADD COLUMN reader TEXT NOT NULL DEFAULT '';
ALTER TABLE observations ADD COLUMN curated INTEGER NOT NULL DEFAULT 0;
CREATE TABLE marking_changes (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    obs_id INTEGER NOT NULL,
    old_marking_id INTEGER NOT NULL,
    new_marking_id INTEGER NOT NULL,
    who TEXT NOT NULL,
    why TEXT NOT NULL
);
CREATE INDEX marking_changes_by_observation ON marking_changes (obs_id, seq);
CREATE TABLE conflicts (
    conflict_id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    dedup_key TEXT NOT NULL,
    existing_obs_id INTEGER NOT NULL,
    raw_sha256 TEXT NOT NULL,
    marking_id INTEGER NOT NULL,
    source_file TEXT NOT NULL,
    source_line INTEGER NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (dedup_key, raw_sha256)
);
DROP TABLE incidents;
UPDATE observations SET incident_id = NULL WHERE incident_id IS NOT NULL;
CREATE TABLE incident_views (
    incident_id INTEGER NOT NULL,
    sig TEXT NOT NULL,
    set_key TEXT NOT NULL,
    view_key TEXT NOT NULL,
    marking_id INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    uncertainty_m REAL NOT NULL,
    t_start INTEGER NOT NULL,
    t_end INTEGER NOT NULL,
    category TEXT NOT NULL,
    category_votes TEXT NOT NULL,
    weapon_class TEXT NOT NULL,
    weapon_votes TEXT NOT NULL,
    n_observations INTEGER NOT NULL,
    n_sources INTEGER NOT NULL,
    grade TEXT NOT NULL,
    grade_reason TEXT NOT NULL,
    PRIMARY KEY (incident_id, sig)
);
CREATE INDEX incident_views_time ON incident_views (t_start);
CREATE INDEX incident_views_key ON incident_views (view_key);
CREATE TABLE marking_sets (
    set_key TEXT PRIMARY KEY
);
DROP INDEX violations_time;
DROP INDEX violation_status_by_violation;
ALTER TABLE violations RENAME TO violations_v3;
ALTER TABLE violation_status RENAME TO violation_status_v3;
CREATE TABLE violations (
    violation_id INTEGER PRIMARY KEY,
    terms TEXT NOT NULL,
    terms_version TEXT NOT NULL,
    incident_id INTEGER NOT NULL,
    sig TEXT NOT NULL,
    clause TEXT NOT NULL,
    severity INTEGER NOT NULL,
    status TEXT NOT NULL,
    controlled_by TEXT NOT NULL,
    p_side REAL NOT NULL,
    signed_distance_m REAL NOT NULL,
    zone TEXT NOT NULL,
    p_location REAL NOT NULL,
    location_text TEXT NOT NULL,
    t_start INTEGER NOT NULL,
    t_end INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    uncertainty_m REAL NOT NULL,
    category TEXT NOT NULL,
    weapon_class TEXT NOT NULL,
    marking_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (terms, terms_version, incident_id, sig, clause)
);
CREATE INDEX violations_time ON violations (terms, t_start);
CREATE INDEX violations_incident ON violations (incident_id, sig);
CREATE TABLE violation_status (
    violation_id INTEGER NOT NULL REFERENCES violations (violation_id),
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    who TEXT NOT NULL,
    why TEXT NOT NULL
);
CREATE INDEX violation_status_by_violation ON violation_status (violation_id, seq);
""",
    # 6: the mission server: users (tokens stored hashed), the hash-chained audit log, alert
    # targets with their durable outbox, and plan runs started through the API.
    """
CREATE TABLE users (
    user_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    nation TEXT NOT NULL,
    role TEXT NOT NULL,
    marking TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    cert_fingerprint TEXT NOT NULL DEFAULT '',
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX users_by_cert ON users (cert_fingerprint);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TABLE alert_targets (
    target_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    min_severity INTEGER NOT NULL,
    terms TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (user_id),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE outbox (
    outbox_id INTEGER PRIMARY KEY,
    target_id INTEGER NOT NULL REFERENCES alert_targets (target_id),
    violation_id INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    delivered_at REAL,
    UNIQUE (target_id, violation_id)
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE TABLE plan_runs (
    run_id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    who TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT ''
);
""",
    # 7: a view of an incident whose own reports do not link without the ones its viewers
    # may not see splits into one view a connected part (``parent_id``: the incident;
    # ``members``: the part's observations), and its violations follow the part.
    """
ALTER TABLE incident_views ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incident_views ADD COLUMN members TEXT NOT NULL DEFAULT '';
UPDATE incident_views SET parent_id = incident_id;
CREATE INDEX incident_views_parent ON incident_views (parent_id);
ALTER TABLE violations ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
UPDATE violations SET parent_id = incident_id;
CREATE INDEX violations_parent ON violations (terms, parent_id);
""",
    # 8: a monitor's report (``model.MonitorReport``): the fields searched by as columns, the
    # rest as one JSON object; all NULL for a record that is not a monitor's report.
    """
ALTER TABLE observations ADD COLUMN kind TEXT;
ALTER TABLE observations ADD COLUMN direction TEXT;
ALTER TABLE observations ADD COLUMN bearing_deg REAL;
ALTER TABLE observations ADD COLUMN bearing_err_deg REAL;
ALTER TABLE observations ADD COLUMN distance_min_km REAL;
ALTER TABLE observations ADD COLUMN distance_max_km REAL;
ALTER TABLE observations ADD COLUMN observer_lat REAL;
ALTER TABLE observations ADD COLUMN observer_lon REAL;
ALTER TABLE observations ADD COLUMN weapon_type TEXT;
ALTER TABLE observations ADD COLUMN report_detail TEXT;
""",
    # 9: who fired, when a firing position was estimated (``model.Violation.fired_from``).
    """
ALTER TABLE violations ADD COLUMN fired_from TEXT;
ALTER TABLE violations ADD COLUMN p_fired_from REAL;
""",
    # 10: evidence attachments (``truceguard.attachments``): each file once under its SHA-256,
    # with its bytes and what its EXIF says, and the observations it is evidence for.
    """
CREATE TABLE attachments (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    captured_at INTEGER,
    captured_offset TEXT,
    lat REAL,
    lon REAL,
    device TEXT,
    added_at INTEGER NOT NULL,
    added_by TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE TABLE observation_attachments (
    obs_id INTEGER NOT NULL REFERENCES observations (obs_id),
    sha256 TEXT NOT NULL REFERENCES attachments (sha256),
    added_at INTEGER NOT NULL,
    added_by TEXT NOT NULL,
    UNIQUE (obs_id, sha256)
);
CREATE INDEX observation_attachments_by_sha256 ON observation_attachments (sha256);
""",
    # 11: whether an alert target may point inside the network (its operator's choice).
    """
ALTER TABLE alert_targets ADD COLUMN allow_private INTEGER NOT NULL DEFAULT 0;
""",
    # 12: the marking of a plan run's inputs, recorded when it is started ('' for runs started
    # before: those are their starter's only).
    """
ALTER TABLE plan_runs ADD COLUMN marking TEXT NOT NULL DEFAULT '';
""",
]


def _migrate_markings_and_keys(execute: Callable[..., Any]) -> None:
    """Migration 5's Python step: parse the old marking texts into the markings tables, and
    prefix each identity key with the reader that stored it (from the ingest log's format of
    the file it came from; ``unknown`` where the log does not say)."""
    from truceguard.errors import MarkingError
    from truceguard.marking import OWNER_ONLY, parse_marking

    old = [r[0] for r in execute("SELECT DISTINCT releasability FROM observations")]
    for text in old:
        try:
            marking = parse_marking(text, legacy=True)
        except MarkingError:
            marking = OWNER_ONLY  # an unreadable old marking: only the owner may see it
        if marking.is_public:
            continue
        execute("INSERT INTO markings (text) VALUES (?) ON CONFLICT DO NOTHING", (marking.text,))
        mid = execute("SELECT marking_id FROM markings WHERE text = ?", (marking.text,))[0][0]
        for code in sorted(marking.codes or ()):
            execute("INSERT INTO marking_codes (marking_id, code) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING", (mid, code))
        execute("UPDATE observations SET marking_id = ? WHERE releasability = ?", (mid, text))
    execute(
        "UPDATE observations SET reader = COALESCE((SELECT l.format FROM ingest_log l "
        "WHERE l.path = observations.source_file ORDER BY l.ingest_id DESC LIMIT 1), 'unknown')"
    )
    execute("UPDATE observations SET dedup_key = reader || '|' || dedup_key")
    execute("UPDATE observations SET curated = 1 WHERE reader IN ('ucdp', 'acled')")
    execute("ALTER TABLE observations DROP COLUMN releasability")


def _record_judged_terms(execute: Callable[..., Any]) -> None:
    """Migration 7's Python step: the terms a store was judged against are recorded in
    ``meta`` from now on; those judged before are the terms its violations name."""
    latest: dict[str, str] = {}  # terms -> the version of its newest violation
    for terms, version in execute("SELECT terms, terms_version FROM violations "
                                  "ORDER BY violation_id"):
        latest[str(terms)] = str(version)
    for terms, version in latest.items():
        execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (f"judged:{terms}", version))


_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION truceguard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""

# 13: several nodes on one PostgreSQL (``store.cluster``): the node that claimed an outbox row
# while it delivers it; on PostgreSQL, a trigger that notifies ``truceguard_users`` with a
# user's name when they are disabled (on commit, whoever disabled them).
_CLUSTER_SQL = """
ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
"""
_USERS_NOTIFY = """
CREATE FUNCTION truceguard_user_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.disabled <> 0 AND OLD.disabled = 0 THEN
        PERFORM pg_notify('truceguard_users', NEW.name);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_disabled_notify AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION
truceguard_user_disabled();
"""

# 14: each incident's summary state per marking of its observations
# (``judge.incident_summary.SummaryState`` as JSON), so that a live step updates an incident
# from its new reports alone; and an index of the monitors' reports by incident.
_SUMS_SQL = """
CREATE TABLE incident_sums (
    parent_id INTEGER NOT NULL,
    marking_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (parent_id, marking_id)
);
CREATE INDEX observations_reports ON observations (incident_id) WHERE kind IS NOT NULL;
"""

# 15: an alert target's audience: 'team' (the mission's own duty officers: every new
# violation) or 'published' (anyone beyond the team: only what a second analyst published);
# every target added before it is the team's.
_AUDIENCE_SQL = """
ALTER TABLE alert_targets ADD COLUMN audience TEXT NOT NULL DEFAULT 'team';
"""

# 16: federation (``truceguard.federation``, ``store.federation``). ``federation_partners``: the
# partner servers and the nation (and groups) each speaks for, with this server's client
# certificate for it and the CA that signs the partner's; ``federation_sent``: per partner and
# observation, what was last settled (the marking it was judged under and whether it was sent,
# held back, refused or withdrawn; the record's origin and id, for a withdrawal after the
# observation is gone); ``federation_received``: every record received, by origin and original
# id (the observation holding it, NULL once withdrawn); ``federation_links``: each link's
# cursors and counters.
_FEDERATION_SQL = """
CREATE TABLE federation_partners (
    partner_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    nation TEXT NOT NULL,
    group_codes TEXT NOT NULL,
    cert TEXT NOT NULL,
    key TEXT NOT NULL,
    ca TEXT NOT NULL,
    relay INTEGER NOT NULL DEFAULT 0,
    added_at INTEGER NOT NULL,
    removed_at INTEGER
);
CREATE UNIQUE INDEX federation_partners_active ON federation_partners (name)
WHERE removed_at IS NULL;
CREATE TABLE federation_sent (
    partner_id INTEGER NOT NULL,
    obs_id INTEGER NOT NULL,
    marking_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    origin TEXT NOT NULL,
    original_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (partner_id, obs_id)
);
CREATE INDEX federation_sent_due ON federation_sent (partner_id, state);
CREATE TABLE federation_received (
    origin TEXT NOT NULL,
    original_id TEXT NOT NULL,
    obs_id INTEGER,
    digest TEXT NOT NULL,
    marking TEXT NOT NULL,
    via TEXT NOT NULL,
    from_partner TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (origin, original_id)
);
CREATE UNIQUE INDEX federation_received_obs ON federation_received (obs_id);
CREATE TABLE federation_links (
    partner_id INTEGER PRIMARY KEY,
    obs_cursor INTEGER NOT NULL DEFAULT 0,
    change_cursor INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0,
    received INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_error_at INTEGER,
    last_ok_at INTEGER
);
"""

MIGRATIONS: list[Migration] = [
    Migration(_SQL[0], (AppendOnly("ingest_log", "the ingest log", "ingest_log_no_update",
                                   "ingest_log_no_delete"),),
              postgres=_APPEND_ONLY_FUNCTION),
    Migration(_SQL[1]),
    Migration(_SQL[2], (AppendOnly("violation_status", "the status trail",
                                   "violation_status_no_update", "violation_status_no_delete"),)),
    Migration(_SQL[3]),
    Migration(_SQL[4], (AppendOnly("marking_changes", "the marking log",
                                   "marking_changes_no_update", "marking_changes_no_delete"),
                        AppendOnly("violation_status", "the status trail",
                                   "violation_status_append_only", "violation_status_keep")),
              # PUBLIC was written with its id 1: the identity continues after it.
              postgres="SELECT setval(pg_get_serial_sequence('markings', 'marking_id'), 1);",
              python=_migrate_markings_and_keys),
    Migration(_SQL[5], (AppendOnly("audit_log", "the audit log", "audit_log_no_update",
                                   "audit_log_no_delete"),)),
    Migration(_SQL[6], python=_record_judged_terms),
    Migration(_SQL[7]),
    Migration(_SQL[8]),
    Migration(_SQL[9], (AppendOnly("attachments", "the attachment store",
                                   "attachments_no_update", "attachments_no_delete"),
                        AppendOnly("observation_attachments", "the attachment links",
                                   "observation_attachments_no_update",
                                   "observation_attachments_no_delete"))),
    Migration(_SQL[10]),
    Migration(_SQL[11]),
    Migration(_CLUSTER_SQL, postgres=_USERS_NOTIFY),
    Migration(_SUMS_SQL),
    Migration(_AUDIENCE_SQL),
    Migration(_FEDERATION_SQL),
]

# Secondary indexes of the observations table, by name: opening a store recreates any that
# are missing.
SECONDARY_INDEXES: dict[str, str] = {
    "observations_time": "CREATE INDEX IF NOT EXISTS observations_time ON observations (t_start)",
    "observations_position": (
        "CREATE INDEX IF NOT EXISTS observations_position ON observations (lat, lon)"
    ),
    "observations_incident": (
        "CREATE INDEX IF NOT EXISTS observations_incident ON observations (incident_id) "
        "WHERE incident_id IS NOT NULL"
    ),
}
# Those a bulk load drops and builds again at its end (sorted, far cheaper than row by row).
# The incident index stays: it holds fused observations only, so new rows never enter it, and
# building it again would read the whole table for nothing.
BULK_LOAD_DROPS = ("observations_time", "observations_position")
