-- astguard 0006: tamper evidence. Every evidence record (a decision, its outcome, a refusal /
-- suspension / opposition, an inbound call and each of its events) gets one link in a single
-- hash chain, written by triggers in the same transaction as the record:
--   payload_sha256 = sha256 of the record's canonical JSON (an explicit column list, UTC times)
--   hash           = sha256(prev_hash | seq | kind | ref | payload_sha256)
-- `astguard audit verify` recomputes both and names the first record that no longer matches.
-- Links are numbered under one transaction-scoped advisory lock, taken last in every
-- transaction, so seq follows commit order across every node and has no gaps.

CREATE TABLE evidence_chain (
    seq            bigint PRIMARY KEY,
    kind           text NOT NULL
                   CHECK (kind IN ('decision', 'outcome', 'block', 'inbound_call', 'inbound_event')),
    ref            text NOT NULL,
    at             timestamptz NOT NULL,          -- the record's own time (decided_at, ...)
    chained_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload_sha256 text NOT NULL,
    prev_hash      text NOT NULL,
    hash           text NOT NULL,
    UNIQUE (kind, ref)
);
CREATE INDEX evidence_chain_at ON evidence_chain (at);

-- The canonical form of an evidence record, NULL when the record is gone. Column lists are
-- explicit so that a later migration adding a column does not change old records' payloads.
CREATE FUNCTION astguard_evidence_payload(p_kind text, p_ref text) RETURNS text
LANGUAGE plpgsql STABLE SET TimeZone = 'UTC' AS $$
DECLARE
    v jsonb;
BEGIN
    IF p_kind = 'decision' THEN
        SELECT to_jsonb(x) INTO v FROM (
            SELECT id, decided_at, recorded_at, clock_mode, node, source, spooled, channel_id,
                   endpoint, agent, dialled, number_e164, emergency, territories, local_times,
                   principal, campaign, purpose, dial_mode, classification,
                   caller_id_requested, caller_id, decision, reason_codes, reasons,
                   counts_as_attempt, rulebook_version
            FROM decisions WHERE id = p_ref::uuid) x;
    ELSIF p_kind = 'outcome' THEN
        SELECT to_jsonb(x) INTO v FROM (
            SELECT id, outcome_at, answered, dial_status, hangup_cause, hangup_cause_text,
                   duration_s
            FROM decisions WHERE id = p_ref::uuid AND outcome_at IS NOT NULL) x;
    ELSIF p_kind = 'block' THEN
        SELECT to_jsonb(x) INTO v FROM (
            SELECT id, principal, number_e164, kind, recorded_at, local_day, until_day, source,
                   agent, decision_id, reference
            FROM contact_blocks WHERE id = p_ref::bigint) x;
    ELSIF p_kind = 'inbound_call' THEN
        SELECT to_jsonb(x) INTO v FROM (
            SELECT id, channel_id, did, caller, started_at, mode, prompt, prompt_sha256,
                   retention_class, clock_mode, direction, decision_id
            FROM inbound_calls WHERE id = p_ref::uuid) x;
    ELSIF p_kind = 'inbound_event' THEN
        SELECT to_jsonb(x) INTO v FROM (
            SELECT id, call_id, at, kind, detail
            FROM inbound_events WHERE id = p_ref::bigint) x;
    ELSE
        RAISE EXCEPTION 'unknown evidence kind %', p_kind;
    END IF;
    RETURN v::text;
END $$;

CREATE FUNCTION astguard_sha256(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(p, 'UTF8')), 'hex')
$$;

CREATE FUNCTION astguard_chain_append(p_kind text, p_ref text, p_at timestamptz) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    v_last record;
    v_seq bigint;
    v_prev text;
    v_payload text;
    v_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(1634956136);  -- "astc": the chain's one writer at a time
    SELECT seq, hash INTO v_last FROM evidence_chain ORDER BY seq DESC LIMIT 1;
    v_seq := coalesce(v_last.seq, 0) + 1;
    v_prev := coalesce(v_last.hash, repeat('0', 64));
    v_payload := astguard_sha256(astguard_evidence_payload(p_kind, p_ref));
    v_hash := astguard_sha256(v_prev || '|' || v_seq || '|' || p_kind || '|' || p_ref || '|'
                              || v_payload);
    INSERT INTO evidence_chain (seq, kind, ref, at, payload_sha256, prev_hash, hash)
    VALUES (v_seq, p_kind, p_ref, p_at, v_payload, v_prev, v_hash);
END $$;

CREATE FUNCTION astguard_chain_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'decisions' AND TG_OP = 'INSERT' THEN
        PERFORM astguard_chain_append('decision', NEW.id::text, NEW.decided_at);
    ELSIF TG_TABLE_NAME = 'decisions' THEN
        PERFORM astguard_chain_append('outcome', NEW.id::text, NEW.outcome_at);
    ELSIF TG_TABLE_NAME = 'contact_blocks' THEN
        PERFORM astguard_chain_append('block', NEW.id::text, NEW.recorded_at);
    ELSIF TG_TABLE_NAME = 'inbound_calls' THEN
        PERFORM astguard_chain_append('inbound_call', NEW.id::text, NEW.started_at);
    ELSE
        PERFORM astguard_chain_append('inbound_event', NEW.id::text, NEW.at);
    END IF;
    RETURN NULL;
END $$;

-- Existing records first, in the order they were written.
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT k, ref, at, ord FROM (
            SELECT 'decision' AS k, id::text AS ref, decided_at AS at, recorded_at AS ord, 1 AS o
                FROM decisions
            UNION ALL SELECT 'outcome', id::text, outcome_at, outcome_at, 2
                FROM decisions WHERE outcome_at IS NOT NULL
            UNION ALL SELECT 'block', id::text, recorded_at, recorded_at, 3 FROM contact_blocks
            UNION ALL SELECT 'inbound_call', id::text, started_at, started_at, 4
                FROM inbound_calls
            UNION ALL SELECT 'inbound_event', id::text, at, at, 5 FROM inbound_events
        ) s ORDER BY ord, o, ref
    LOOP
        PERFORM astguard_chain_append(r.k, r.ref, r.at);
    END LOOP;
END $$;

CREATE TRIGGER decisions_chain AFTER INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION astguard_chain_trigger();
CREATE TRIGGER decisions_outcome_chain AFTER UPDATE ON decisions
    FOR EACH ROW WHEN (OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL)
    EXECUTE FUNCTION astguard_chain_trigger();
CREATE TRIGGER contact_blocks_chain AFTER INSERT ON contact_blocks
    FOR EACH ROW EXECUTE FUNCTION astguard_chain_trigger();
CREATE TRIGGER inbound_calls_chain AFTER INSERT ON inbound_calls
    FOR EACH ROW EXECUTE FUNCTION astguard_chain_trigger();
CREATE TRIGGER inbound_events_chain AFTER INSERT ON inbound_events
    FOR EACH ROW EXECUTE FUNCTION astguard_chain_trigger();

-- The chain itself is append-only; so are the records it covers that had no guard yet.
CREATE FUNCTION astguard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER evidence_chain_append_only BEFORE UPDATE OR DELETE ON evidence_chain
    FOR EACH ROW EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER evidence_chain_no_truncate BEFORE TRUNCATE ON evidence_chain
    FOR EACH STATEMENT EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER contact_blocks_append_only BEFORE UPDATE OR DELETE ON contact_blocks
    FOR EACH ROW EXECUTE FUNCTION astguard_append_only();
CREATE TRIGGER inbound_calls_append_only BEFORE UPDATE OR DELETE ON inbound_calls
    FOR EACH ROW EXECUTE FUNCTION astguard_append_only();
