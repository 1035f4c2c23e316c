-- astguard 0003: caller-ID inventory (R-F2), per-campaign rewrite or refuse, network refusals;
-- and one round trip for a decision's contact and caller-ID facts.

ALTER TABLE campaigns
    ADD COLUMN cli_policy text NOT NULL DEFAULT 'rewrite' CHECK (cli_policy IN ('rewrite', 'refuse'));

-- Each number the centre may present, for whom, through which trunk, under which mandate.
CREATE TABLE caller_ids (
    number       text NOT NULL,           -- E.164, or a short number as dialled
    principal    text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('geographic', 'mobile', '09', 'npv', '08', 'short')),
    trunk        text,
    operator     text,
    mandate_ref  text NOT NULL,
    valid_from   date NOT NULL,
    valid_to     date,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (number, principal, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

-- Final 403/603/608 answers (Q.850 21 on the channel) to prospecting calls, per presented number.
CREATE TABLE network_refusals (
    decision_id  uuid PRIMARY KEY,
    caller_id    text NOT NULL,
    refused_at   timestamptz NOT NULL,
    cause        integer NOT NULL
);
CREATE INDEX network_refusals_lookup ON network_refusals (caller_id, refused_at);

-- CALL_BLOCKED_BY_NETWORK: raised when a number passes the threshold, cleared by a person.
CREATE TABLE caller_id_alerts (
    id           bigserial PRIMARY KEY,
    caller_id    text NOT NULL,
    raised_at    timestamptz NOT NULL,
    refusals     integer NOT NULL,
    cleared_at   timestamptz,
    cleared_by   text
);
CREATE UNIQUE INDEX caller_id_alerts_open ON caller_id_alerts (caller_id) WHERE cleared_at IS NULL;

-- The facts a prospecting decision needs, in one round trip. Takes the (principal, consumer)
-- advisory lock, then reads. The function is VOLATILE, so under READ COMMITTED the reading
-- statement takes its snapshot after the lock is granted and sees the attempt the previous
-- holder committed (R-D6: check and count are one atomic step).
CREATE FUNCTION astguard_contact_facts(p_principal text, p_number text, p_since date,
                                       p_today date, p_cb_from timestamptz,
                                       p_cb_to timestamptz, p_now timestamptz,
                                       p_caller_ids text[])
RETURNS TABLE (numbers text[], attempts json, blocks json, consents json, contracts json,
               bloctel json, callback timestamptz, inventory json, blocked text[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_key text;
    v_numbers text[];
BEGIN
    SELECT c.consumer_key INTO v_key FROM consumer_numbers c WHERE c.number_e164 = p_number;
    IF v_key IS NULL THEN
        v_key := p_number;
        v_numbers := ARRAY[p_number];
    ELSE
        SELECT array_agg(c.number_e164 ORDER BY c.number_e164) INTO v_numbers
        FROM consumer_numbers c WHERE c.consumer_key = v_key;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_principal || chr(31) || v_key, 0));
    RETURN QUERY SELECT
      v_numbers,
      (SELECT coalesce(json_agg(a.local_day ORDER BY a.local_day), '[]') FROM attempts a
         WHERE a.principal = p_principal AND a.number_e164 = ANY(v_numbers)
           AND a.local_day >= p_since),
      (SELECT coalesce(json_agg(json_build_object('kind', b.kind, 'day', b.local_day,
                                                  'until', b.until_day, 'at', b.recorded_at)),
                       '[]')
         FROM contact_blocks b
         WHERE b.principal = p_principal AND b.number_e164 = ANY(v_numbers)
           AND (b.until_day IS NULL OR b.until_day >= p_today)),
      (SELECT coalesce(json_agg(json_build_object('id', k.id, 'principal', k.principal,
                  'scopes', k.scopes, 'collected_at', k.collected_at,
                  'valid_until', k.valid_until, 'withdrawn_at', k.withdrawn_at,
                  'proof_ref', k.proof_ref)), '[]')
         FROM consents k WHERE k.number_e164 = ANY(v_numbers)),
      (SELECT coalesce(json_agg(json_build_object('principal', t.principal, 'scopes', t.scopes,
                  'started_on', t.started_on, 'ended_on', t.ended_on,
                  'reference', t.reference)), '[]')
         FROM contracts t WHERE t.principal = p_principal AND t.number_e164 = ANY(v_numbers)),
      (SELECT json_build_object('day', s.scrubbed_on, 'listed', s.listed) FROM bloctel_scrubs s
         WHERE s.principal = p_principal AND s.number_e164 = p_number
           AND s.scrubbed_on <= p_today
         ORDER BY s.scrubbed_on DESC LIMIT 1),
      (SELECT cb.scheduled_at FROM callbacks cb
         WHERE cb.principal = p_principal AND cb.number_e164 = ANY(v_numbers)
           AND cb.scheduled_at BETWEEN p_cb_from AND p_cb_to
         ORDER BY abs(extract(epoch FROM cb.scheduled_at - p_now)) LIMIT 1),
      (SELECT coalesce(json_agg(json_build_object('number', i.number, 'principal', i.principal,
                  'valid_from', i.valid_from, 'valid_to', i.valid_to, 'trunk', i.trunk,
                  'mandate_ref', i.mandate_ref)), '[]')
         FROM caller_ids i WHERE i.principal = p_principal AND i.number = ANY(p_caller_ids)),
      (SELECT coalesce(array_agg(al.caller_id), '{}') FROM caller_id_alerts al
         WHERE al.cleared_at IS NULL AND al.caller_id = ANY(p_caller_ids));
END $$;
