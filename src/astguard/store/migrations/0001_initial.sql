-- astguard 0001: principals, campaigns, agent endpoints, and the append-only decision evidence.

CREATE TABLE principals (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    principal_id text NOT NULL REFERENCES principals (id),
    purpose      text NOT NULL CHECK (purpose IN ('prospecting', 'service', 'survey', 'b2b')),
    dial_mode    text NOT NULL
                 CHECK (dial_mode IN ('manual', 'preview', 'progressive', 'predictive', 'broadcast')),
    caller_id    text,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- An agent's softphone (PJSIP endpoint) and the campaigns it may place calls for. A per-call
-- override (dialer variable, X-Astguard-Campaign header) is honoured only for the default or an
-- allowed campaign, so a softphone cannot relabel a prospecting call as a service call.
CREATE TABLE agent_endpoints (
    endpoint          text PRIMARY KEY CHECK (endpoint ~ '^[A-Za-z0-9_.-]{1,80}$'),
    default_campaign  text REFERENCES campaigns (name),
    allowed_campaigns text[] NOT NULL DEFAULT '{}',
    agent             text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE decisions (
    id                  uuid PRIMARY KEY,
    decided_at          timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    clock_mode          text NOT NULL,
    node                text NOT NULL,
    source              text NOT NULL,
    spooled             boolean NOT NULL DEFAULT false,
    channel_id          text,
    endpoint            text,
    agent               text,
    dialled             text NOT NULL,
    number_e164         text,
    emergency           boolean NOT NULL,
    territories         text[] NOT NULL,
    local_times         jsonb NOT NULL,
    principal           text,
    campaign            text,
    purpose             text,
    dial_mode           text,
    classification      text NOT NULL,
    caller_id_requested text,
    caller_id           text,
    decision            text NOT NULL CHECK (decision IN ('allow', 'deny')),
    reason_codes        text[] NOT NULL,
    reasons             jsonb NOT NULL,
    counts_as_attempt   boolean NOT NULL,
    rulebook_version    text NOT NULL,
    -- The call's outcome, attached once when an allowed call ends.
    outcome_at          timestamptz,
    answered            boolean,
    dial_status         text,
    hangup_cause        integer,
    hangup_cause_text   text,
    duration_s          numeric(10, 3)
);

CREATE INDEX decisions_decided_at ON decisions (decided_at);
CREATE INDEX decisions_number ON decisions (number_e164, decided_at);
CREATE INDEX decisions_campaign ON decisions (campaign, decided_at);

-- Append-only: no DELETE, no TRUNCATE, and an UPDATE may only fill the outcome, once.
CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    outcome_cols text[] := ARRAY['outcome_at', 'answered', 'dial_status', 'hangup_cause',
                                 'hangup_cause_text', 'duration_s'];
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'decisions are append-only (% refused)', TG_OP;
    END IF;
    IF OLD.outcome_at IS NOT NULL THEN
        RAISE EXCEPTION 'decision % already has its outcome', OLD.id;
    END IF;
    IF (to_jsonb(OLD) - outcome_cols) IS DISTINCT FROM (to_jsonb(NEW) - outcome_cols) THEN
        RAISE EXCEPTION 'decision % is append-only: only its outcome may be attached', OLD.id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();
