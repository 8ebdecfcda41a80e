-- Each record's provenance moves into a column of its own row, a JSON
-- object of its fields: {"first_name": ["event id", "event time", "source"],
-- ...}. Writing a lead then changes one row per record instead of one more
-- row per field, and reading a record is one query instead of two.

ALTER TABLE contacts ADD COLUMN provenance text NOT NULL DEFAULT '{}';
UPDATE contacts SET provenance = p.doc
FROM (SELECT email, json_object_agg(field, json_build_array(event_id, event_time, source))::text AS doc
      FROM contact_fields GROUP BY email) p
WHERE p.email = contacts.email;
DROP TABLE contact_fields;

ALTER TABLE companies ADD COLUMN provenance text NOT NULL DEFAULT '{}';
UPDATE companies SET provenance = p.doc
FROM (SELECT domain, json_object_agg(field, json_build_array(event_id, event_time, source))::text AS doc
      FROM company_fields GROUP BY domain) p
WHERE p.domain = companies.domain;
DROP TABLE company_fields;
