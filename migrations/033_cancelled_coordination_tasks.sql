-- A 多地联办 case withdrawn while a coordination task is open ends the task too (docs/cases.md): it is
-- `cancelled`, so it leaves the coordinating division's open work. Open tasks of cases withdrawn before
-- now are cancelled here.
ALTER TABLE case_coordination_tasks DROP CONSTRAINT case_coordination_tasks_state_check;
ALTER TABLE case_coordination_tasks ADD CONSTRAINT case_coordination_tasks_state_check
    CHECK (state IN ('open', 'done', 'cancelled'));
UPDATE case_coordination_tasks t SET state = 'cancelled', done_at = now()
FROM cases c WHERE c.id = t.case_id AND c.state = 'withdrawn' AND t.state = 'open';
