-- astguard 0014: the dashboard's live stream without polling (issue 15 item 6), and the
-- inspection report's reads by principal.
--
-- Every statement that adds decisions sends one NOTIFY on astguard_decisions (empty payload:
-- the listener reads the new chain links itself). PostgreSQL delivers it at commit, after the
-- decisions are chained, and folds identical notifications of one transaction into one. No
-- new table: nothing to GRANT to astguard_service (pg_notify needs no privilege).
CREATE FUNCTION astguard_notify_decisions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('astguard_decisions', '');
    RETURN NULL;
END $$;

CREATE TRIGGER decisions_notify AFTER INSERT ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_notify_decisions();

-- The inspection report reads one principal's decisions over a period in time order.
CREATE INDEX decisions_principal ON decisions (principal, decided_at, id);
