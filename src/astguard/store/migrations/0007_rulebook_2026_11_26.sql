-- rules-fr 2026-11-26.
--
-- 1. R-D4: territories come from the numbering plan's data for every range. Blocks that the
--    plan assigns overseas without a 0262/0590-style prefix (09 VoIP blocks such as 0976 0x,
--    overseas NPV roots 09475-09479, geographic blocks such as 0268 8 and 0598 7-9, new mobile
--    blocks such as 0709 0x) now have an overseas country code as their canonical E.164 form
--    (src/astguard/policy/numbers.py); this release stored them as +33. The list below is the
--    blocks (5 digits after the national 0) whose canonical form changed, with their new country
--    code, computed from phonenumbers' metadata (tests/store/test_renumbering.py checks it
--    against the parser).
--    Facts (consents, attempts, contracts, call-backs, Bloctel scrubs, caller IDs, network
--    refusals and alerts, campaign numbers) are rewritten to the new form, unless the same
--    record already exists under it; every consumer number concerned is linked to its new form
--    in consumer_numbers (merging the two groups: they are one consumer), so that facts kept
--    under the old form (evidence, which is never rewritten: refusals, suspensions,
--    oppositions, decisions) still count for that consumer.
-- 2. R-D7: from 2026-08-11 a refusal is a lasting objection, so the facts function returns every
--    refusal, whatever its 60-day end, and the policy decides (src/astguard/policy/pressure.py).

CREATE TEMP TABLE astguard_renumber (block text PRIMARY KEY, cc text NOT NULL) ON COMMIT DROP;
INSERT INTO astguard_renumber (block, cc) VALUES
    ('26880', '262'), ('26881', '262'), ('26882', '262'), ('26883', '262'), ('26884', '262'), ('26885', '262'),
    ('26886', '262'), ('26887', '262'), ('26888', '262'), ('26889', '262'), ('26890', '262'), ('26891', '262'),
    ('26892', '262'), ('26893', '262'), ('26894', '262'), ('26895', '262'), ('26896', '262'), ('26897', '262'),
    ('26898', '262'), ('26899', '262'), ('59870', '590'), ('59871', '590'), ('59872', '590'), ('59873', '590'),
    ('59874', '590'), ('59875', '590'), ('59876', '590'), ('59877', '590'), ('59878', '590'), ('59879', '590'),
    ('59880', '594'), ('59881', '594'), ('59882', '594'), ('59883', '594'), ('59884', '594'), ('59885', '594'),
    ('59886', '594'), ('59887', '594'), ('59888', '594'), ('59889', '594'), ('59890', '596'), ('59891', '596'),
    ('59892', '596'), ('59893', '596'), ('59894', '596'), ('59895', '596'), ('59896', '596'), ('59897', '596'),
    ('59898', '596'), ('59899', '596'), ('70840', '508'), ('70841', '508'), ('70842', '508'), ('70843', '508'),
    ('70844', '508'), ('70845', '508'), ('70850', '508'), ('70851', '508'), ('70852', '508'), ('70853', '508'),
    ('70854', '508'), ('70855', '508'), ('70856', '508'), ('70900', '590'), ('70901', '590'), ('70902', '590'),
    ('70903', '590'), ('70904', '590'), ('70910', '596'), ('70911', '596'), ('70912', '596'), ('70913', '596'),
    ('70920', '262'), ('70921', '262'), ('70922', '262'), ('70923', '262'), ('70930', '594'), ('70931', '594'),
    ('70932', '594'), ('70933', '594'), ('70935', '262'), ('70936', '262'), ('70937', '262'), ('93950', '590'),
    ('93951', '590'), ('93952', '590'), ('93953', '590'), ('93954', '590'), ('93955', '590'), ('93956', '590'),
    ('93957', '590'), ('93958', '590'), ('93959', '590'), ('93960', '590'), ('93961', '590'), ('93962', '590'),
    ('93963', '590'), ('93964', '590'), ('93965', '590'), ('93966', '590'), ('93967', '590'), ('93968', '590'),
    ('93969', '590'), ('93970', '590'), ('93971', '590'), ('93972', '590'), ('93973', '590'), ('93974', '590'),
    ('93975', '590'), ('93976', '590'), ('93977', '590'), ('93978', '590'), ('93979', '590'), ('93980', '262'),
    ('93981', '262'), ('93990', '262'), ('93991', '262'), ('93992', '262'), ('93993', '262'), ('94750', '590'),
    ('94751', '590'), ('94752', '590'), ('94753', '590'), ('94754', '590'), ('94755', '590'), ('94756', '590'),
    ('94760', '594'), ('94761', '594'), ('94762', '594'), ('94763', '594'), ('94764', '594'), ('94765', '594'),
    ('94766', '594'), ('94770', '596'), ('94771', '596'), ('94772', '596'), ('94773', '596'), ('94774', '596'),
    ('94775', '596'), ('94776', '596'), ('94777', '596'), ('94778', '596'), ('94779', '596'), ('94780', '262'),
    ('94781', '262'), ('94790', '262'), ('94791', '262'), ('94792', '262'), ('94793', '262'), ('94794', '262'),
    ('94795', '262'), ('94796', '262'), ('97600', '590'), ('97601', '590'), ('97602', '590'), ('97603', '590'),
    ('97604', '590'), ('97605', '590'), ('97606', '590'), ('97607', '590'), ('97608', '590'), ('97609', '590'),
    ('97610', '590'), ('97611', '590'), ('97612', '590'), ('97613', '590'), ('97614', '590'), ('97615', '590'),
    ('97616', '590'), ('97617', '590'), ('97618', '590'), ('97619', '590'), ('97620', '594'), ('97621', '594'),
    ('97622', '262'), ('97623', '594'), ('97624', '594'), ('97625', '594'), ('97626', '594'), ('97627', '262'),
    ('97628', '262'), ('97629', '594'), ('97630', '262'), ('97631', '262'), ('97632', '262'), ('97633', '262'),
    ('97634', '594'), ('97635', '594'), ('97636', '594'), ('97637', '262'), ('97638', '594'), ('97639', '594'),
    ('97640', '594'), ('97641', '594'), ('97642', '594'), ('97643', '594'), ('97644', '594'), ('97645', '594'),
    ('97646', '594'), ('97647', '594'), ('97648', '594'), ('97649', '594'), ('97650', '594'), ('97651', '594'),
    ('97652', '594'), ('97653', '594'), ('97654', '594'), ('97655', '594'), ('97656', '594'), ('97657', '594'),
    ('97658', '594'), ('97659', '594'), ('97660', '594'), ('97661', '594'), ('97662', '594'), ('97663', '594'),
    ('97664', '594'), ('97665', '594'), ('97666', '594'), ('97667', '594'), ('97668', '594'), ('97669', '594'),
    ('97670', '594'), ('97671', '594'), ('97672', '594'), ('97673', '594'), ('97674', '594'), ('97675', '594'),
    ('97676', '594'), ('97677', '594'), ('97678', '594'), ('97679', '594'), ('97680', '590'), ('97681', '590'),
    ('97682', '590'), ('97683', '590'), ('97684', '590'), ('97685', '590'), ('97686', '590'), ('97687', '590'),
    ('97688', '590'), ('97689', '590'), ('97690', '262'), ('97691', '262'), ('97692', '262'), ('97693', '262'),
    ('97694', '262'), ('97695', '262'), ('97696', '262'), ('97697', '262'), ('97698', '262'), ('97699', '262');

CREATE FUNCTION pg_temp.renumbered(p text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT '+' || r.cc || substr(p, 4) FROM astguard_renumber r
                     WHERE p ~ '^\+33[1-9][0-9]{8}$' AND r.block = substr(p, 4, 5)), p)
$$;

-- Link every old-form consumer number to its new form (one consumer).
DO $$
DECLARE
    v_old text;
    v_new text;
    v_key text;
    v_old_key text;
    v_new_key text;
BEGIN
    FOR v_old IN
        SELECT n FROM (
            SELECT number_e164 AS n FROM consumer_numbers UNION SELECT number_e164 FROM attempts
            UNION SELECT number_e164 FROM contact_blocks UNION SELECT number_e164 FROM consents
            UNION SELECT number_e164 FROM contracts UNION SELECT number_e164 FROM callbacks
            UNION SELECT number_e164 FROM bloctel_scrubs
            UNION SELECT number_e164 FROM decisions WHERE number_e164 IS NOT NULL) AS all_numbers
        WHERE pg_temp.renumbered(n) <> n
    LOOP
        v_new := pg_temp.renumbered(v_old);
        SELECT consumer_key INTO v_old_key FROM consumer_numbers WHERE number_e164 = v_old;
        SELECT consumer_key INTO v_new_key FROM consumer_numbers WHERE number_e164 = v_new;
        v_key := coalesce(v_new_key, v_old_key, v_new);
        UPDATE consumer_numbers SET consumer_key = v_key
            WHERE consumer_key IN (v_old_key, v_new_key) AND consumer_key <> v_key;
        INSERT INTO consumer_numbers (number_e164, consumer_key) VALUES (v_old, v_key)
            ON CONFLICT (number_e164) DO NOTHING;
        INSERT INTO consumer_numbers (number_e164, consumer_key) VALUES (v_new, v_key)
            ON CONFLICT (number_e164) DO NOTHING;
    END LOOP;
END $$;

-- Rewrite the facts that are not evidence (a duplicate under the new form stays as it was,
-- and counts through the link above).
UPDATE attempts SET number_e164 = pg_temp.renumbered(number_e164)
    WHERE pg_temp.renumbered(number_e164) <> number_e164;
UPDATE consents c SET number_e164 = pg_temp.renumbered(c.number_e164)
    WHERE pg_temp.renumbered(c.number_e164) <> c.number_e164
      AND NOT EXISTS (SELECT 1 FROM consents d WHERE d.principal = c.principal
                      AND d.number_e164 = pg_temp.renumbered(c.number_e164)
                      AND d.collected_at = c.collected_at AND d.proof_ref = c.proof_ref);
UPDATE contracts c SET number_e164 = pg_temp.renumbered(c.number_e164)
    WHERE pg_temp.renumbered(c.number_e164) <> c.number_e164
      AND NOT EXISTS (SELECT 1 FROM contracts d WHERE d.principal = c.principal
                      AND d.number_e164 = pg_temp.renumbered(c.number_e164)
                      AND d.reference = c.reference);
UPDATE callbacks c SET number_e164 = pg_temp.renumbered(c.number_e164)
    WHERE pg_temp.renumbered(c.number_e164) <> c.number_e164
      AND NOT EXISTS (SELECT 1 FROM callbacks d WHERE d.principal = c.principal
                      AND d.number_e164 = pg_temp.renumbered(c.number_e164)
                      AND d.scheduled_at = c.scheduled_at);
UPDATE bloctel_scrubs c SET number_e164 = pg_temp.renumbered(c.number_e164)
    WHERE pg_temp.renumbered(c.number_e164) <> c.number_e164
      AND NOT EXISTS (SELECT 1 FROM bloctel_scrubs d WHERE d.principal = c.principal
                      AND d.number_e164 = pg_temp.renumbered(c.number_e164)
                      AND d.scrubbed_on = c.scrubbed_on);
UPDATE caller_ids c SET number = pg_temp.renumbered(c.number)
    WHERE pg_temp.renumbered(c.number) <> c.number
      AND NOT EXISTS (SELECT 1 FROM caller_ids d WHERE d.principal = c.principal
                      AND d.number = pg_temp.renumbered(c.number)
                      AND d.valid_from = c.valid_from);
UPDATE network_refusals SET caller_id = pg_temp.renumbered(caller_id)
    WHERE pg_temp.renumbered(caller_id) <> caller_id;
UPDATE caller_id_alerts a SET caller_id = pg_temp.renumbered(a.caller_id)
    WHERE pg_temp.renumbered(a.caller_id) <> a.caller_id
      AND (a.cleared_at IS NOT NULL OR NOT EXISTS (
          SELECT 1 FROM caller_id_alerts d WHERE d.cleared_at IS NULL
          AND d.caller_id = pg_temp.renumbered(a.caller_id)));
UPDATE campaigns SET caller_id = pg_temp.renumbered(caller_id)
    WHERE caller_id IS NOT NULL AND pg_temp.renumbered(caller_id) <> caller_id;
UPDATE inbound_policies p SET did = pg_temp.renumbered(p.did)
    WHERE pg_temp.renumbered(p.did) <> p.did
      AND NOT EXISTS (SELECT 1 FROM inbound_policies d WHERE d.did = pg_temp.renumbered(p.did));

CREATE OR REPLACE FUNCTION astguard_contact_facts(p_principal text, p_number text, p_since date,
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
           AND (b.until_day IS NULL OR b.until_day >= p_today OR b.kind = 'refusal')),
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
