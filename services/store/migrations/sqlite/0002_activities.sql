-- Every event that touched a contact, once per event: what happened (the
-- CloudEvent type), where it came from, and when.

CREATE TABLE activities (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL REFERENCES contacts (email) ON DELETE CASCADE ON UPDATE CASCADE,
    event_id   TEXT NOT NULL,
    type       TEXT NOT NULL,
    source     TEXT NOT NULL,
    event_time TEXT NOT NULL,
    UNIQUE (email, event_id)
);

CREATE INDEX activities_event_time ON activities (email, event_time);
CREATE INDEX contacts_updated_at ON contacts (updated_at);
