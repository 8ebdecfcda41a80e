-- Provenance and processed events are looked up only by their primary key,
-- so they are stored clustered on it (WITHOUT ROWID): one B-tree per table
-- instead of a rowid table and an index, which halves the pages that every
-- write of a lead touches in them.

CREATE TABLE contact_fields_new (
    email      TEXT NOT NULL REFERENCES contacts (email) ON DELETE CASCADE ON UPDATE CASCADE,
    field      TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_time TEXT NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (email, field)
) WITHOUT ROWID;
INSERT INTO contact_fields_new SELECT email, field, event_id, event_time, source FROM contact_fields;
DROP TABLE contact_fields;
ALTER TABLE contact_fields_new RENAME TO contact_fields;

CREATE TABLE company_fields_new (
    domain     TEXT NOT NULL REFERENCES companies (domain) ON DELETE CASCADE ON UPDATE CASCADE,
    field      TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_time TEXT NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (domain, field)
) WITHOUT ROWID;
INSERT INTO company_fields_new SELECT domain, field, event_id, event_time, source FROM company_fields;
DROP TABLE company_fields;
ALTER TABLE company_fields_new RENAME TO company_fields;

CREATE TABLE processed_events_new (
    event_id     TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    processed_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO processed_events_new SELECT event_id, subject, processed_at FROM processed_events;
DROP TABLE processed_events;
ALTER TABLE processed_events_new RENAME TO processed_events;
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
