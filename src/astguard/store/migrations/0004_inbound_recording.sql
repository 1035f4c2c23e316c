-- astguard 0004: inbound calls, recording consent (R-I1 to R-I5).

-- Recording policy per called number (DID) or queue. Retention beyond the CNIL's six months for
-- quality and training recordings needs a stated legal basis (R-I4).
CREATE TABLE inbound_policies (
    did            text PRIMARY KEY,
    mode           text NOT NULL CHECK (mode IN ('off', 'announce', 'sampled')),
    sample_percent integer NOT NULL DEFAULT 100 CHECK (sample_percent BETWEEN 0 AND 100),
    prompt         text NOT NULL DEFAULT 'annonce-enregistrement'
                   CHECK (prompt ~ '^[A-Za-z0-9_-]{1,64}$'),
    objection_key  text NOT NULL DEFAULT '1' CHECK (objection_key ~ '^[0-9*#]$'),
    retention_days integer NOT NULL DEFAULT 183 CHECK (retention_days > 0),
    legal_basis    text,
    CHECK (retention_days <= 183 OR legal_basis IS NOT NULL)
);

CREATE TABLE inbound_calls (
    id           uuid PRIMARY KEY,
    channel_id   text NOT NULL,
    did          text NOT NULL,
    caller       text,
    started_at   timestamptz NOT NULL,
    mode         text NOT NULL,
    prompt       text,
    prompt_sha256 text,
    retention_class text,
    clock_mode   text NOT NULL
);

-- Everything that happens on an inbound call, append-only: playback start and end, keys,
-- objection, recording start, stop and deletion, hangup.
CREATE TABLE inbound_events (
    id       bigserial PRIMARY KEY,
    call_id  uuid NOT NULL REFERENCES inbound_calls (id),
    at       timestamptz NOT NULL,
    kind     text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX inbound_events_call ON inbound_events (call_id, id);

CREATE FUNCTION inbound_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'inbound_events are append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER inbound_events_append_only BEFORE UPDATE OR DELETE ON inbound_events
    FOR EACH ROW EXECUTE FUNCTION inbound_events_append_only();

-- The recordings themselves (one per call at most): what the purge works from.
CREATE TABLE recordings (
    call_id      uuid PRIMARY KEY REFERENCES inbound_calls (id),
    file         text NOT NULL,
    started_at   timestamptz NOT NULL,
    stopped_at   timestamptz,
    deleted_at   timestamptz,
    delete_reason text,
    purge_after  timestamptz NOT NULL
);
CREATE INDEX recordings_purge ON recordings (purge_after) WHERE deleted_at IS NULL;
