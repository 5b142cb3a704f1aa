-- The result's way back (proxy, joint): the handling place sends an approved result to the receiving
-- place (`send_result`), which gives it to the applicant (`deliver`). Both steps are signed in the
-- case's exchange chain like the hand-over (docs/cases.md, "What is signed, and when"): a `result`
-- record by the handling province, countersigned by the receiving province when it delivers.
ALTER TABLE cases DROP CONSTRAINT cases_state_check;
ALTER TABLE cases ADD CONSTRAINT cases_state_check CHECK (state IN (
    'submitted', 'received', 'refused', 'handed_over', 'accepted', 'in_review', 'supplement_requested',
    'supplemented', 'approved', 'result_sent', 'rejected', 'delivered', 'closed', 'withdrawn'));

-- A result reaches the receiving place only by that way back: from `approved` the handling place delivers
-- (an e-certificate, post), the receiving place no longer does.
UPDATE case_transitions SET roles = '{handling_officer}' WHERE from_state = 'approved' AND action = 'deliver';

INSERT INTO case_transitions (from_state, action, to_state, roles, modes) VALUES
    ('approved',    'send_result', 'result_sent', '{handling_officer}',  '{proxy,joint}'),
    ('result_sent', 'deliver',     'delivered',   '{receiving_officer}', '{proxy,joint}');

ALTER TABLE case_exchanges DROP CONSTRAINT case_exchanges_kind_check;
ALTER TABLE case_exchanges ADD CONSTRAINT case_exchanges_kind_check CHECK (kind IN ('handover', 'result', 'acceptance'));
