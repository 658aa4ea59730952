SELECT count(*) FROM _sqlx_migrations WHERE success
