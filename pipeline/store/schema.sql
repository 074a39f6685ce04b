-- xxgk DuckDB schema, version 1. Applied by pipeline.store.schema.migrate(); never edit a released version in place:
-- add a new migration instead (pipeline/store/schema.py: MIGRATIONS).

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS report_id_seq START 1;

-- One row per report *version*. The current version of (agency, year) has is_current = true; replaced
-- versions stay as history (is_current = false, replaced_by = the newer report_id).
CREATE TABLE IF NOT EXISTS reports (
    report_id     INTEGER PRIMARY KEY DEFAULT nextval('report_id_seq'),
    sha256        VARCHAR NOT NULL UNIQUE,          -- content hash of the source bytes
    source_path   VARCHAR NOT NULL,
    source_url    VARCHAR,
    format        VARCHAR NOT NULL,                 -- txt / html / pdf / docx / image
    size_bytes    BIGINT,
    agency        VARCHAR,
    year          INTEGER,
    edition       VARCHAR,                          -- 2019 / 2021 / legacy
    t3_layout     VARCHAR,                          -- 2019 / 2021 (mixed templates: edition 2021, t3_layout 2019)
    edition_evidence VARCHAR,
    province      VARCHAR,
    city          VARCHAR,
    county        VARCHAR,
    level         VARCHAR,                          -- 省级 / 市级 / 县级 / 乡镇 / 国家级
    agency_type   VARCHAR,
    synthetic     BOOLEAN NOT NULL DEFAULT false,   -- generated demo/benchmark data, never a real agency's figures
    n_errors      INTEGER NOT NULL DEFAULT 0,       -- hard findings
    n_warnings    INTEGER NOT NULL DEFAULT 0,
    is_current    BOOLEAN NOT NULL DEFAULT true,
    replaced_by   INTEGER,
    loaded_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Long form: one row per template cell of the report's layout.
-- value is NULL for a blank cell (blank = true), a null marker such as "/" (raw keeps it), or a cell that
-- could not be located (status = 'missing'). Only the arithmetic checks read NULL as 0.
CREATE TABLE IF NOT EXISTS facts (
    report_id   INTEGER NOT NULL,
    key         VARCHAR NOT NULL,                   -- field registry key, e.g. t3.granted.total
    value       DECIMAL(18, 4),
    raw         VARCHAR,
    blank       BOOLEAN NOT NULL,
    status      VARCHAR NOT NULL,                   -- ok / blank / null_marker / missing / not_in_layout / ambiguous
    loc         VARCHAR,                            -- provenance: line number, table cell, page + bbox
    confidence  DOUBLE,
    page        INTEGER,                            -- PDF / scan page of the source cell (1-based)
    bbox        DOUBLE[],                           -- (x0, y0, x1, y1) of the source cell on that page
    PRIMARY KEY (report_id, key)
);

CREATE TABLE IF NOT EXISTS findings (
    report_id   INTEGER,                            -- NULL for store-level (cross-year) findings not tied to one
    rule        VARCHAR NOT NULL,                   -- T3-1, T3-2, T3-3, T4-1, TYPE, LAYOUT, XY-1, …
    severity    VARCHAR NOT NULL,                   -- error / warning / info
    message     VARCHAR NOT NULL,
    keys        VARCHAR[],
    expected    VARCHAR,
    actual      VARCHAR,
    suspect_key VARCHAR,
    scope       VARCHAR NOT NULL DEFAULT 'report'   -- report / cross_year
);

-- The text of sections 一 … 六.
CREATE TABLE IF NOT EXISTS sections (
    report_id INTEGER NOT NULL,
    section   VARCHAR NOT NULL,                     -- 一 / 二 / 三 / 四 / 五 / 六
    heading   VARCHAR,
    text      VARCHAR,
    PRIMARY KEY (report_id, section)
);

-- Every file tried, whatever happened to it.
CREATE TABLE IF NOT EXISTS ingest_log (
    "at"        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    source_path VARCHAR NOT NULL,
    sha256      VARCHAR,
    status      VARCHAR NOT NULL,                   -- loaded / unchanged / loaded_with_errors / replaced / unreadable
    message     VARCHAR,
    report_id   INTEGER,
    seconds     DOUBLE
);
