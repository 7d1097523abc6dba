#!/usr/bin/env bash
# run.sh streaming|batch: runs the example's query (orders.sql) live into the `revenue` stream
# (streaming.sql) or over the history of `orders` (batch.sql), with the SQL launcher. The launcher
# takes one script and fixes the runtime mode when the first table is made, so the mode is passed
# with --set and the two files are joined into one script. Run from the repository root.
set -euo pipefail
mode="${1:-}"
case "$mode" in
  streaming | batch) ;;
  *) echo "usage: $0 streaming|batch" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
script=$(mktemp --suffix=.sql)
trap 'rm -f "$script"' EXIT
cat "$here/orders.sql" "$here/$mode.sql" >"$script"
npm run --silent flink:sql -- --set "execution.runtime-mode=$mode" "$script"
