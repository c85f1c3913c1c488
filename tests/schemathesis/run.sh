#!/usr/bin/env bash
# The schema-driven fuzz run of `make test-api-fuzz`: starts the release server (memory store,
# no send limit, a free port), waits for /health, runs schemathesis against its /openapi.json
# with every check that applies (positive and negative data), and stops the server whatever the
# outcome. Exits non-zero when schemathesis reports a failure or an error.
#
# Usage: tests/schemathesis/run.sh SERVER_BIN SCHEMATHESIS
#   FUZZ_MAX_EXAMPLES  cases per operation and phase (default 40)
#   FUZZ_SEED          hypothesis seed (default 1: CI runs are repeatable; any other to explore)
#   FUZZ_TIME_LIMIT    seconds after which the run is stopped and fails (default 300)
#
# Bounded: each operation gets at most FUZZ_MAX_EXAMPLES generated cases plus the coverage
# phase's boundary cases, and hooks.py wakes held polls (see there) but for three that hold for
# the shortest timeout, 5 s: a run takes about a minute. A poll may still be held for up to the
# longest timeout (60 s), hence the 70 s request timeout and the 65 s response-time limit.
set -euo pipefail

server_bin=${1:?usage: run.sh SERVER_BIN SCHEMATHESIS}
schemathesis=${2:?usage: run.sh SERVER_BIN SCHEMATHESIS}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server_pid=

# shellcheck disable=SC2317 # run by the EXIT trap, which ShellCheck 0.9 does not follow
stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT

LEPTOS_OUTPUT_NAME=longpoll-chat RUST_LOG=info \
  "$server_bin" --addr 127.0.0.1:0 --store memory --send-rate 0 --sign-in-per-name 100000 \
  --sign-in-per-address 100000 >"$work/server.log" 2>&1 &
server_pid=$!

# Port 0: the address the server bound is in its "listening" log line.
addr=
for _ in $(seq 200); do
  addr=$(sed -n 's/.* listening addr=\([^ ]*\).*/\1/p' "$work/server.log")
  [[ -n $addr ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log"
    echo "run.sh: the server exited before listening" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z $addr ]]; then
  cat "$work/server.log"
  echo "run.sh: the server did not log its address within 20 s" >&2
  exit 1
fi
base="http://$addr"
for _ in $(seq 200); do
  curl -fsS -o /dev/null "$base/health" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "$base/health"

# Every case is sent as a signed-in user, so the endpoints that need one are fuzzed past their
# 401 (schemathesis also sends cases without it, to check they are refused). The account's
# password is the run's own, never a secret.
password="fuzz-$RANDOM-$RANDOM"
curl -fsS -o /dev/null -X POST "$base/api/accounts" -H 'Content-Type: application/json' \
  -d "{\"name\":\"fuzzer\",\"password\":\"$password\"}"
token=$(curl -fsS -X POST "$base/api/sessions" -H 'Content-Type: application/json' \
  -d "{\"name\":\"fuzzer\",\"password\":\"$password\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# Run from the scratch directory: schemathesis keeps a cache of past failures in the working
# directory, which would otherwise land in the checkout.
cd "$work"
status=0
FUZZ_BASE_URL=$base SCHEMATHESIS_HOOKS="$here/hooks.py" timeout "${FUZZ_TIME_LIMIT:-300}" \
  "$schemathesis" run "$base/openapi.json" \
  --checks all \
  --mode all \
  --header "Authorization: Bearer $token" \
  --max-examples "${FUZZ_MAX_EXAMPLES:-40}" \
  --seed "${FUZZ_SEED:-1}" \
  --workers 4 \
  --request-timeout 70 \
  --max-response-time 65 \
  --generation-database none \
  --no-color || status=$?
if [[ $status -eq 124 ]]; then
  echo "run.sh: stopped after ${FUZZ_TIME_LIMIT:-300} s" >&2
fi
if [[ $status -ne 0 ]]; then
  echo "run.sh: schemathesis failed ($status); the server's log:" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$status"
