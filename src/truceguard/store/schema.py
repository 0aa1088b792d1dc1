"""The store's schema as forward migrations, applied in order and never edited once released.

Migration N is ``MIGRATIONS[N - 1]``. Statements end with ';' at the end of a line; a trigger
runs from ``CREATE TRIGGER`` to ``END;``. The same text serves SQLite; the PostgreSQL backend
keeps its own list with the same numbering.
"""

MIGRATIONS: list[str] = [
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
CREATE TRIGGER ingest_log_no_update BEFORE UPDATE ON ingest_log
BEGIN
    SELECT RAISE(ABORT, 'the ingest log is append-only');
END;
CREATE TRIGGER ingest_log_no_delete BEFORE DELETE ON ingest_log
BEGIN
    SELECT RAISE(ABORT, 'the ingest log is append-only');
END;
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
CREATE TRIGGER violation_status_no_update BEFORE UPDATE ON violation_status
BEGIN
    SELECT RAISE(ABORT, 'the status trail is append-only');
END;
CREATE TRIGGER violation_status_no_delete BEFORE DELETE ON violation_status
BEGIN
    SELECT RAISE(ABORT, 'the status trail is append-only');
END;
""",
    # 4: the incident index covers fused observations only: an import (all unfused) then
    # builds it for free, and lookups by incident are unchanged.
    """
DROP INDEX IF EXISTS observations_incident;
CREATE INDEX observations_incident ON observations (incident_id) WHERE incident_id IS NOT NULL;
""",
]

# Secondary indexes of the observations table, by name: a bulk load may drop them and builds
# them again at its end; opening a store recreates any that are missing.
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
