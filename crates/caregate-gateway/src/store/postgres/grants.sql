-- What the gateway's own role needs once the tables are made (by their owner, a role that may create them,
-- running the gateway once, e.g. at each upgrade): rows in, copies moved on, the audit head moved; nothing
-- deleted, and the audit log only ever appended to. Run by the tables' owner, with the gateway's role in place
-- of caregate_app.
GRANT USAGE ON SCHEMA public TO caregate_app;
GRANT SELECT ON schema_migrations TO caregate_app;
GRANT SELECT, INSERT ON messages, idempotency, audit TO caregate_app;
GRANT SELECT, INSERT, UPDATE ON copies TO caregate_app;
GRANT SELECT, UPDATE ON audit_head TO caregate_app;
