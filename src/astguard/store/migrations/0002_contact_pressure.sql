-- astguard 0002: contact pressure and consent (R-B, R-C, R-D5 to R-D7).
-- Every fact is kept per number; a consumer's numbers are linked in consumer_numbers and the
-- rules read all of them (R-D6: "per consumer, all the consumer's known numbers").

ALTER TABLE campaigns
    ADD COLUMN scope  text,                            -- nature of goods/services (R-B2)
    ADD COLUMN sector text,                            -- for sector bans (R-B6)
    ADD COLUMN press  boolean NOT NULL DEFAULT false;  -- newspaper subscriptions (R-B5)

CREATE TABLE consumer_numbers (
    number_e164  text PRIMARY KEY,
    consumer_key text NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consumer_numbers_key ON consumer_numbers (consumer_key);

-- R-D6: every attempt that left the PBX (or another platform of the principal's).
CREATE TABLE attempts (
    id           bigserial PRIMARY KEY,
    principal    text NOT NULL,
    number_e164  text NOT NULL,
    attempted_at timestamptz NOT NULL,
    local_day    date NOT NULL,           -- the consumer's local calendar day
    source       text NOT NULL CHECK (source IN ('pbx', 'external')),
    decision_id  uuid,
    campaign     text,
    reference    text UNIQUE,             -- external attempts: re-recording is harmless
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_lookup ON attempts (principal, number_e164, local_day);

-- R-D7 refusals, agent suspensions, R-B3 oppositions.
CREATE TABLE contact_blocks (
    id           bigserial PRIMARY KEY,
    principal    text NOT NULL,
    number_e164  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('refusal', 'suspension', 'opposition')),
    recorded_at  timestamptz NOT NULL,
    local_day    date NOT NULL,
    until_day    date,                    -- last blocked day, inclusive; NULL: opposition
    source       text NOT NULL,
    agent        text,
    decision_id  uuid,
    reference    text UNIQUE,
    CHECK ((kind = 'opposition') = (until_day IS NULL))
);
CREATE INDEX contact_blocks_lookup ON contact_blocks (principal, number_e164);

-- R-B1/R-B2: consents, with their proof. withdrawn_at is the only column that changes.
CREATE TABLE consents (
    id           bigserial PRIMARY KEY,
    principal    text NOT NULL,
    number_e164  text NOT NULL,
    scopes       text[] NOT NULL,
    collected_at timestamptz NOT NULL,
    channel      text NOT NULL,
    wording      text NOT NULL,
    proof_ref    text NOT NULL,
    valid_until  timestamptz NOT NULL,
    withdrawn_at timestamptz,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (principal, number_e164, collected_at, proof_ref),
    CHECK (valid_until > collected_at)
);
CREATE INDEX consents_number ON consents (number_e164);

-- R-B4 / R-C1: a current contract related to the call's object.
CREATE TABLE contracts (
    id          bigserial PRIMARY KEY,
    principal   text NOT NULL,
    number_e164 text NOT NULL,
    scopes      text[] NOT NULL,
    started_on  date NOT NULL,
    ended_on    date,
    reference   text NOT NULL,
    UNIQUE (principal, number_e164, reference)
);
CREATE INDEX contracts_lookup ON contracts (principal, number_e164);

-- R-D5: a call-back the consumer asked for at a precise time, with its proof.
CREATE TABLE callbacks (
    id           bigserial PRIMARY KEY,
    principal    text NOT NULL,
    number_e164  text NOT NULL,
    scheduled_at timestamptz NOT NULL,
    proof_ref    text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (principal, number_e164, scheduled_at)
);

-- R-C2: the Bloctel scrub of each submitted number (listed: missing from the returned file).
CREATE TABLE bloctel_scrubs (
    principal   text NOT NULL,
    number_e164 text NOT NULL,
    scrubbed_on date NOT NULL,
    listed      boolean NOT NULL,
    PRIMARY KEY (principal, number_e164, scrubbed_on)
);
