-- Allowed calls still waiting for their outcome, per node (issue 14). Every node's astguard
-- looks for its own every 10 s (store/evidence.open_outcomes); without this index that look
-- walks the whole decisions table (measured: 395 ms on 1 M decisions, 0.1 ms with it). The
-- index holds only the few rows without an outcome, so it stays small. IF NOT EXISTS: on a
-- large table, create it beforehand with CREATE INDEX CONCURRENTLY (docs/upgrades.md).
CREATE INDEX IF NOT EXISTS decisions_open_outcomes ON decisions (node, decided_at)
    WHERE decision = 'allow' AND outcome_at IS NULL AND channel_id IS NOT NULL;
