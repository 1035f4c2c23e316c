-- astguard 0008: least privilege (issue 11) and append-only contact evidence.
--
-- Two roles: the owner, who runs `astguard db migrate` (ASTGUARD_MIGRATE_DATABASE_URL) and owns
-- every table, and the group role astguard_service (NOLOGIN), of which the login role that
-- `astguard serve` uses is a member. The service reads everything and inserts evidence; it may
-- update only what the triggers allow (a decision's outcome, a consent's withdrawal, a caller
-- ID's end date) and the configuration and housekeeping tables listed below. It can never
-- delete or truncate, alter a table, disable a trigger (all owner-only), nor write the hash
-- chain itself: links are written by a SECURITY DEFINER function, as the owner.
--
-- The role is cluster-wide. Creating it needs CREATEROLE; scripts/setup creates it (and a login
-- role for the tests and the demo) as the PostgreSQL superuser. Here it is created only if
-- missing and possible.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'astguard_service') THEN
        BEGIN
            CREATE ROLE astguard_service NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- another database's migration
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'le rôle PostgreSQL astguard_service n''existe pas et % ne peut '
                    'pas le créer : en superutilisateur, CREATE ROLE astguard_service NOLOGIN; '
                    '(scripts/setup le fait), puis relancer astguard db migrate', current_user;
        END;
    END IF;
END $$;

-- Append-only contact evidence (R-D6 attempts, R-C2 Bloctel checks): no UPDATE, no DELETE, no
-- TRUNCATE, whoever asks. A correction is a new row.
CREATE TRIGGER attempts_append_only BEFORE UPDATE OR DELETE ON attempts
    FOR EACH ROW EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER attempts_no_truncate BEFORE TRUNCATE ON attempts
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER bloctel_scrubs_append_only BEFORE UPDATE OR DELETE ON bloctel_scrubs
    FOR EACH ROW EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER bloctel_scrubs_no_truncate BEFORE TRUNCATE ON bloctel_scrubs
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER contact_blocks_no_truncate BEFORE TRUNCATE ON contact_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();

-- Consents (R-B2): the only change ever made to one is its withdrawal, once (R-B3). A corrected
-- consent is a new consent.
CREATE FUNCTION astguard_consents_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'consents are append-only (% refused): a correction is a new consent',
            TG_OP;
    END IF;
    IF (to_jsonb(OLD) - 'withdrawn_at') IS DISTINCT FROM (to_jsonb(NEW) - 'withdrawn_at') THEN
        RAISE EXCEPTION 'consent %: only its withdrawal may be recorded', OLD.id;
    END IF;
    IF OLD.withdrawn_at IS NOT NULL AND NEW.withdrawn_at IS DISTINCT FROM OLD.withdrawn_at THEN
        RAISE EXCEPTION 'consent % was already withdrawn', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION astguard_consents_guard();
CREATE TRIGGER consents_no_truncate BEFORE TRUNCATE ON consents
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();

-- Caller IDs (R-F2): a mandate may be given an end, or an earlier one; anything else (another
-- operator, mandate, a renewal) is a new row with its own start date.
CREATE FUNCTION astguard_caller_ids_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'caller_ids are append-only (% refused): a correction is a new row',
            TG_OP;
    END IF;
    IF (to_jsonb(OLD) - 'valid_to') IS DISTINCT FROM (to_jsonb(NEW) - 'valid_to') THEN
        RAISE EXCEPTION 'caller ID % (%): only its end date may change', OLD.number,
            OLD.principal;
    END IF;
    IF NEW.valid_to IS DISTINCT FROM OLD.valid_to
       AND (NEW.valid_to IS NULL OR (OLD.valid_to IS NOT NULL AND NEW.valid_to > OLD.valid_to))
    THEN
        RAISE EXCEPTION 'caller ID % (%): an end date may only be brought forward; a renewal '
            'is a new row', OLD.number, OLD.principal;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER caller_ids_append_only BEFORE UPDATE OR DELETE ON caller_ids
    FOR EACH ROW EXECUTE FUNCTION astguard_caller_ids_guard();
CREATE TRIGGER caller_ids_no_truncate BEFORE TRUNCATE ON caller_ids
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();

-- The chain is written as the owner: the service may read it, never write it. Links are
-- appended by astguard_chain_append, which every chain trigger calls (later migrations' too);
-- it runs as its owner and computes each link from the record itself, so a caller can add no
-- link of its own making (a record already linked is refused by UNIQUE (kind, ref)).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION astguard_chain_append(text, text, timestamptz) '
                   'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION astguard_chain_append(text, text, timestamptz) FROM PUBLIC;

-- What the service may do.
DO $$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM astguard_service', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO astguard_service', s);
    EXECUTE format('GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA %s TO astguard_service', s);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO astguard_service', s);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %s TO astguard_service', s);
    -- Tables a later migration creates: read and insert, nothing more unless it says so.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT SELECT, INSERT ON TABLES '
                   'TO astguard_service', s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT USAGE, SELECT ON SEQUENCES '
                   'TO astguard_service', s);
END $$;
REVOKE INSERT ON evidence_chain, schema_migrations FROM astguard_service;
-- Narrow updates, each bounded again by its table's trigger.
GRANT UPDATE (outcome_at, answered, dial_status, hangup_cause, hangup_cause_text, duration_s)
    ON decisions TO astguard_service;
GRANT UPDATE (withdrawn_at) ON consents TO astguard_service;
GRANT UPDATE (valid_to) ON caller_ids TO astguard_service;
-- Recordings' stop, deletion and purge retries; network alerts cleared by a person.
GRANT UPDATE (stopped_at, deleted_at, delete_reason, purge_after) ON recordings
    TO astguard_service;
GRANT UPDATE (cleared_at, cleared_by) ON caller_id_alerts TO astguard_service;
-- Configuration the CLI and the API manage (not evidence).
GRANT UPDATE ON principals, campaigns, agent_endpoints, inbound_policies, contracts,
    consumer_numbers TO astguard_service;
