-- Contacts and companies, per-field provenance, idempotency and the outbox:
-- the PostgreSQL twin of migrations/sqlite/0001_init.sql.
--
-- Timestamps are RFC 3339 UTC text with nine fractional digits
-- (2025-11-20T09:14:03.000000000Z), as in SQLite: ordering the text orders
-- the times, and last-writer-wins compares event times to the nanosecond,
-- which timestamptz (microseconds) would round. Absent values are NULL,
-- never ''.

CREATE TABLE companies (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain      text NOT NULL UNIQUE CHECK (domain <> ''),
    name        text,
    industry    text,
    employees   bigint,
    country     text,
    city        text,
    website     text,
    description text,
    created_at  text NOT NULL,
    updated_at  text NOT NULL
);

CREATE TABLE contacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email        text NOT NULL UNIQUE CHECK (email <> ''),
    first_name   text,
    last_name    text,
    company      text,
    domain       text,
    title        text,
    phone        text,
    status       text,
    source       text,
    signal_score double precision,
    intent_score double precision,
    fit_score    double precision,
    created_at   text NOT NULL,
    updated_at   text NOT NULL
);

CREATE INDEX contacts_created_at ON contacts (created_at);
CREATE INDEX contacts_domain ON contacts (domain);

-- Which event set each field's current value, and when: the clock of
-- per-field last-writer-wins.
CREATE TABLE contact_fields (
    email      text NOT NULL REFERENCES contacts (email) ON DELETE CASCADE ON UPDATE CASCADE,
    field      text NOT NULL,
    event_id   text NOT NULL,
    event_time text NOT NULL,
    source     text NOT NULL,
    PRIMARY KEY (email, field)
);

CREATE TABLE company_fields (
    domain     text NOT NULL REFERENCES companies (domain) ON DELETE CASCADE ON UPDATE CASCADE,
    field      text NOT NULL,
    event_id   text NOT NULL,
    event_time text NOT NULL,
    source     text NOT NULL,
    PRIMARY KEY (domain, field)
);

-- Every input event whose write committed, by CloudEvent id.
CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    subject      text NOT NULL,
    processed_at text NOT NULL
);

CREATE INDEX processed_events_processed_at ON processed_events (processed_at);

-- Change events committed with their write and not yet acknowledged by the
-- stream. event holds the CloudEvent in JSON (structured) form.
CREATE TABLE outbox (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       text NOT NULL UNIQUE,
    input_event_id text NOT NULL,
    subject        text NOT NULL,
    event          text NOT NULL,
    created_at     text NOT NULL
);

CREATE INDEX outbox_input_event_id ON outbox (input_event_id);
