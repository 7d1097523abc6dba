-- Live: each minute's revenue per customer goes to the `revenue` stream when its window closes,
-- exactly once (committed with each checkpoint). Runs until stopped. Follows orders.sql (run.sh).
SET 'execution.runtime-mode' = 'streaming';
SET 'execution.checkpointing.interval' = '2 s';
INSERT INTO revenue SELECT * FROM revenue_per_minute;
