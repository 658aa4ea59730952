-- Taken before a transaction's first outbox insert and held until it commits:
-- outbox ids are then handed out in commit order, so a reader following ids
-- (the admin event feed) never passes an id whose row is still uncommitted.
-- Services insert outbox rows last, after every other lock, so only the
-- final insert-and-commit step is serialised and no lock cycle can form.
SELECT pg_advisory_xact_lock(hashtextextended('halyard_outbox_commit_order', 0))
