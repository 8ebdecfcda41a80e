-- The outbox entries of an input event are found by the ids of the change
-- events it can have caused, through the unique index on event_id. The
-- index on input_event_id cost a B-tree page per lead in every commit, and
-- again when the entry was removed.
DROP INDEX outbox_input_event_id;
