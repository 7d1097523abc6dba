-- The orders example: per-minute revenue per customer, written once, run streaming and batch.
-- This file holds the tables and the query; streaming.sql and batch.sql are the two runs, each
-- joined after this file by run.sh (see README.md). The same CREATE TABLE serves both runs: in STREAMING mode `orders` is read live
-- from the head on, in BATCH mode up to its tail as it is when the job starts.

-- Watermarks are made per source subtask; a subtask that has no segment to read goes idle after
-- this long and stops holding the others' event time back.
SET 'table.exec.source.idle-timeout' = '5 s';

CREATE TABLE orders (
  customer STRING,
  amount DECIMAL(10, 2),
  ts TIMESTAMP(3),
  -- Events come in ts order within a segment; 5 s of slack for writers whose clocks or batches differ.
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'sluice',
  'controller' = 'tcp://127.0.0.1:9090',
  'stream' = 'examples/orders',
  'format' = 'json'
);

CREATE TABLE revenue (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  customer STRING,
  revenue DECIMAL(38, 2)
) WITH (
  'connector' = 'sluice',
  'controller' = 'tcp://127.0.0.1:9090',
  'stream' = 'examples/revenue',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.routing-key-fields' = 'customer'
);

-- The query, once: a tumbling one-minute event-time window per customer.
CREATE TEMPORARY VIEW revenue_per_minute AS
SELECT window_start, window_end, customer, SUM(amount) AS revenue
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, customer;
