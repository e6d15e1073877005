#!/bin/bash
# Readers' latency at 16 connections, idle and while a 1M-row import writes.
# usage: scripts/bench-readers.sh sqlite|pg STATEMENT_FILE  (wrk and a release build needed;
# the file: ../shared/bench/gen/gen_statements.py --format camt053 --transactions 1000000 --accounts 1 --seed 1)
set -u
B=$1
FILE=$2
BIN="$(cd "$(dirname "$0")/.." && pwd)/target/release/saldo"
D=$(mktemp -d)
DB=""
if [ "$B" = pg ]; then db=saldo_readers_$$; createdb -h 127.0.0.1 -U postgres $db; DB="--db postgres://postgres@127.0.0.1:5432/$db"; fi
export HOME=$D
for i in $(seq 1 20); do $BIN --data-dir $D $DB account add --name "Asset $i" --kind savings --currency EUR --value $((i * 1000)) > /dev/null; done
TOKEN=$($BIN --data-dir $D $DB token create bench --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
$BIN --data-dir $D $DB serve --listen 127.0.0.1:18099 > /dev/null 2>&1 &
SERVER=$!
sleep 2
for path in accounts networth; do
  echo "== $B idle /api/v1/$path"
  wrk -t2 -c16 -d15s --latency -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18099/api/v1/$path | grep -E "50%|99%|Requests/sec|Non-2xx"
done
START=$(date +%s.%N)
( $BIN --data-dir $D $DB import --currency EUR "$FILE" > /tmp/readers-import-$B.log 2>&1; date +%s.%N > /tmp/readers-import-end ) &
IMPORT=$!
sleep 2
for path in accounts networth; do
  echo "== $B during import /api/v1/$path"
  wrk -t2 -c16 -d6s --latency -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18099/api/v1/$path | grep -E "50%|99%|Requests/sec|Non-2xx"
  if kill -0 $IMPORT 2>/dev/null; then echo "(import still running)"; else echo "(import had finished)"; fi
done
if kill -0 $IMPORT 2>/dev/null; then echo "import still running after the measurements"; else echo "import finished during the measurements"; fi
wait $IMPORT; tail -1 /tmp/readers-import-$B.log; echo "import took $(python3 -c "print(round($(cat /tmp/readers-import-end) - $START, 1))") s"
kill $SERVER; wait $SERVER 2>/dev/null
[ "$B" = pg ] && dropdb -h 127.0.0.1 -U postgres $db
rm -rf $D
