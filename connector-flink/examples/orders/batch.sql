-- The history: the same query over every order written up to the job's start, printed. Follows
-- orders.sql (run.sh).
SET 'execution.runtime-mode' = 'batch';
SELECT * FROM revenue_per_minute ORDER BY window_start, customer;
