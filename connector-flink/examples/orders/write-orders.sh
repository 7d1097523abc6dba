#!/usr/bin/env bash
# write-orders.sh [COUNT] [FIRST]: writes sample orders to examples/orders with `sluice write`, one
# JSON event per line, in event-time order: COUNT orders (default 200) 1.2 s of event time apart, the
# first being order number FIRST (default 0) at 2026-12-08 10:00:00 + FIRST * 1.2 s, by four
# customers. A second run with FIRST = the count so far carries the timeline on. Run from the
# repository root with a Sluice running (node dist/bin/sluice.js standalone); SLUICE_CONTROLLER picks
# another controller than tcp://127.0.0.1:9090.
set -euo pipefail
count="${1:-200}"
first="${2:-0}"
sluice=(node dist/bin/sluice.js)
"${sluice[@]}" scope create examples || true  # exists already on a second run
"${sluice[@]}" stream create examples/orders --segments 1 || true  # exists already on a second run
"${sluice[@]}" stream create examples/revenue --segments 2 || true  # exists already on a second run
node -e '
  const count = Number(process.argv[1]);
  const first = Number(process.argv[2]);
  const customers = ["alice", "bob", "carol", "dave"];
  const t0 = Date.UTC(2026, 11, 8, 10, 0, 0);
  const pad = (n, w) => String(n).padStart(w, "0");
  for (let i = first; i < first + count; i++) {
    const d = new Date(t0 + i * 1200);
    const ts = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ` +
      `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}`;
    const amount = ((i * 7919) % 5000 + 100) / 100;
    console.log(JSON.stringify({ customer: customers[(i * 3 + (i >> 2)) % 4], amount, ts }));
  }
' "$count" "$first" | "${sluice[@]}" write examples/orders
