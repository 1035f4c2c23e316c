-- astguard 0005: recording outbound calls under the same policy as inbound ones (R-I1 to R-I5).
-- The policy of a presented number (the caller ID a campaign shows) lives in inbound_policies,
-- keyed by that number in E.164; an announced outbound call is an inbound_calls row with
-- direction 'outbound', `did` the presented number, `caller` the consumer, and the decision
-- that let the call out.

ALTER TABLE inbound_calls
    ADD COLUMN direction   text NOT NULL DEFAULT 'inbound'
                           CHECK (direction IN ('inbound', 'outbound')),
    ADD COLUMN decision_id uuid;
CREATE INDEX inbound_calls_decision ON inbound_calls (decision_id) WHERE decision_id IS NOT NULL;
