-- Tags as a JSON array, as on SQLite, so both stores read flags into the
-- same row type. `tags @> '["x"]'` uses the GIN index.
DROP INDEX flags_tags_idx;
ALTER TABLE flags ALTER COLUMN tags DROP DEFAULT;
ALTER TABLE flags ALTER COLUMN tags TYPE jsonb USING to_jsonb(tags);
ALTER TABLE flags ALTER COLUMN tags SET DEFAULT '[]'::jsonb;
CREATE INDEX flags_tags_idx ON flags USING gin (tags);
