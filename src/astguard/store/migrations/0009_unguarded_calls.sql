-- astguard 0009: calls that reached a trunk without a decision (the watchdog's findings).
-- One append-only row per trunk channel that carried no valid astguard token: who dialled what,
-- how the watchdog found it, and what it did (hung up, or only alerted; emergency and
-- public-interest numbers are never hung up, only recorded). Linked into the evidence chain.
-- Written so that it composes with whatever migrations came before it: the payload function
-- is wrapped, not rewritten, and the chain's kind list is no longer a constraint (the payload
-- function refuses unknown kinds).

CREATE TABLE unguarded_calls (
    id            uuid PRIMARY KEY,
    channel_id    text NOT NULL,
    channel       text NOT NULL,                 -- PJSIP/carrier-0000002a
    endpoint      text NOT NULL,                 -- the trunk endpoint
    dialled       text NOT NULL,                 -- as dialled on the trunk ('' if unknown)
    number_e164   text,
    caller        text,                          -- caller ID number on the channel
    originator    text,                          -- the channel that dialled it, if any
    linkedid      text,
    token_decision_id text,                      -- the decision a bad token claimed, if any
    problem       text NOT NULL,                 -- why the token was refused (French)
    mode          text NOT NULL CHECK (mode IN ('hangup', 'alert')),
    action        text NOT NULL CHECK (action IN ('hung_up', 'alerted', 'emergency_kept',
                                                  'gone')),
    emergency     boolean NOT NULL,
    created_at    timestamptz NOT NULL,          -- the channel's creation (Asterisk's time)
    detected_at   timestamptz NOT NULL,
    hung_up_at    timestamptz,
    lifetime_ms   numeric(12, 3),                -- creation to hang-up request
    node          text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX unguarded_calls_created_at ON unguarded_calls (created_at);

CREATE TRIGGER unguarded_calls_append_only BEFORE UPDATE OR DELETE ON unguarded_calls
    FOR EACH ROW EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER unguarded_calls_no_truncate BEFORE TRUNCATE ON unguarded_calls
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();

ALTER TABLE evidence_chain DROP CONSTRAINT IF EXISTS evidence_chain_kind_check;

ALTER FUNCTION astguard_evidence_payload(text, text)
    RENAME TO astguard_evidence_payload_before_0009;

CREATE FUNCTION astguard_evidence_payload(p_kind text, p_ref text) RETURNS text
LANGUAGE plpgsql STABLE SET TimeZone = 'UTC' AS $$
DECLARE
    v jsonb;
BEGIN
    IF p_kind = 'unguarded_call' THEN
        SELECT to_jsonb(x) INTO v FROM (
            SELECT id, channel_id, channel, endpoint, dialled, number_e164, caller, originator,
                   linkedid, token_decision_id, problem, mode, action, emergency, created_at,
                   detected_at, hung_up_at, lifetime_ms, node, recorded_at
            FROM unguarded_calls WHERE id = p_ref::uuid) x;
        RETURN v::text;
    END IF;
    RETURN astguard_evidence_payload_before_0009(p_kind, p_ref);
END $$;

CREATE FUNCTION astguard_chain_unguarded_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM astguard_chain_append('unguarded_call', NEW.id::text, NEW.created_at);
    RETURN NULL;
END $$;

CREATE TRIGGER unguarded_calls_chain AFTER INSERT ON unguarded_calls
    FOR EACH ROW EXECUTE FUNCTION astguard_chain_unguarded_trigger();
