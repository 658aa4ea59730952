INSERT INTO outbox (environment_id, environment_key, revision, message, created_at)
VALUES (?1, ?2, ?3, ?4, ?5)
