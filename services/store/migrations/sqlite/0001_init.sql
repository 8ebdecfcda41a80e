-- Contacts and companies, per-field provenance, idempotency and the outbox.
--
-- Timestamps are RFC 3339 UTC text with nine fractional digits
-- (2025-11-20T09:14:03.000000000Z), so that ordering the text orders the
-- times. Absent values are NULL, never ''.

CREATE TABLE companies (
    id          INTEGER PRIMARY KEY,
    domain      TEXT NOT NULL UNIQUE CHECK (domain <> ''),
    name        TEXT,
    industry    TEXT,
    employees   INTEGER,
    country     TEXT,
    city        TEXT,
    website     TEXT,
    description TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE CHECK (email <> ''),
    first_name   TEXT,
    last_name    TEXT,
    company      TEXT,
    domain       TEXT,
    title        TEXT,
    phone        TEXT,
    status       TEXT,
    source       TEXT,
    signal_score REAL,
    intent_score REAL,
    fit_score    REAL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE INDEX contacts_created_at ON contacts (created_at);
CREATE INDEX contacts_domain ON contacts (domain);

-- Which event set each field's current value, and when: the clock of
-- per-field last-writer-wins.
CREATE TABLE contact_fields (
    email      TEXT NOT NULL REFERENCES contacts (email) ON DELETE CASCADE ON UPDATE CASCADE,
    field      TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_time TEXT NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (email, field)
);

CREATE TABLE company_fields (
    domain     TEXT NOT NULL REFERENCES companies (domain) ON DELETE CASCADE ON UPDATE CASCADE,
    field      TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_time TEXT NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (domain, field)
);

-- Every input event whose write committed, by CloudEvent id.
CREATE TABLE processed_events (
    event_id     TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    processed_at TEXT NOT NULL
);

CREATE INDEX processed_events_processed_at ON processed_events (processed_at);

-- Change events committed with their write and not yet acknowledged by the
-- stream. event holds the CloudEvent in JSON (structured) form.
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    input_event_id TEXT NOT NULL,
    subject        TEXT NOT NULL,
    event          TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE INDEX outbox_input_event_id ON outbox (input_event_id);
