-- Each record's provenance moves into a column of its own row, a JSON
-- object of its fields: {"first_name": ["event id", "event time", "source"],
-- ...}. Writing a lead then changes one row per record instead of one more
-- row per field, and reading a record is one query instead of two.

ALTER TABLE contacts ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}';
UPDATE contacts SET provenance = (
    SELECT json_group_object(f.field, json_array(f.event_id, f.event_time, f.source))
    FROM contact_fields f WHERE f.email = contacts.email)
WHERE EXISTS (SELECT 1 FROM contact_fields f WHERE f.email = contacts.email);
DROP TABLE contact_fields;

ALTER TABLE companies ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}';
UPDATE companies SET provenance = (
    SELECT json_group_object(f.field, json_array(f.event_id, f.event_time, f.source))
    FROM company_fields f WHERE f.domain = companies.domain)
WHERE EXISTS (SELECT 1 FROM company_fields f WHERE f.domain = companies.domain);
DROP TABLE company_fields;
