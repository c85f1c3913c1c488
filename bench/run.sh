#!/usr/bin/env bash
# `make bench`: runs bench/loadgen against longpoll-chat (memory store, then SQLite store) and
# against nginx + nchan, all on 127.0.0.1, and prints a table; the repeated fan-out runs with
# both of loadgen's clients (`--client raw|hyper`). Not part of `make test`. bench/README.md
# says what each scenario measures.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_BIN=${SERVER_BIN:-target/release/longpoll-chat}
LOADGEN=bench/loadgen/target/release/loadgen
ulimit -n "$(ulimit -Hn)"

# Its own target dir, whatever CARGO_TARGET_DIR says: $LOADGEN is looked up there.
(cd bench/loadgen && CARGO_TARGET_DIR=target cargo build --release --quiet)

# Only the full run has the nchan peer; the *_ONLY runs do without it.
if [ -z "${IDENTITY_ONLY:-}${MULTI_ROOM_ONLY:-}${TYPING_ONLY:-}${SEARCH_ONLY:-}${PUSH_ONLY:-}" ] \
  && ! [ -e /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
    # Debian starts nginx on port 80 after installing it; the bench runs its own.
    service nginx stop >/dev/null 2>&1 || pkill -x nginx || true
  else
    echo "nginx + nchan missing: run 'apt-get install nginx libnginx-mod-nchan' as root" >&2
  fi
fi

work=$(mktemp -d)
results="$work/results.jsonl"
children=()
cleanup() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for URL [SECONDS]: until URL answers 2xx, for at most SECONDS (default 10).
wait_for() {
  for _ in $(seq 1 $((${2:-10} * 20))); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2
  return 1
}

loadgen() {
  "$LOADGEN" "$@" | tee -a "$work/out.txt" | grep -v '^JSON ' || true
}

# start_ours STORE: starts a server on STORE and waits for it to answer. SERVER_OPTIONS adds
# options to the server; START_SECS (default 10) is how long it may take to answer. Leaves its
# port in $ours_port, its pid in $ours_pid, and the time from its start to its first answer in
# $started_ms.
start_ours() {
  local start
  ours_port=$(free_port)
  start=$(date +%s%N)
  # Every load client is a guest on loopback: one address, past its default cap on held polls.
  # shellcheck disable=SC2086
  RUST_LOG=warn "$SERVER_BIN" --addr "127.0.0.1:$ours_port" --store "$1" --send-rate 0 \
    --max-polls-per-address 1000000 ${SERVER_OPTIONS:-} &
  ours_pid=$!
  children+=("$ours_pid")
  wait_for "http://127.0.0.1:$ours_port/health" "${START_SECS:-10}"
  started_ms=$((($(date +%s%N) - start) / 1000000))
}

stop_ours() {
  kill -TERM "$ours_pid"
  wait "$ours_pid" || true
}

# run_ours LABEL STORE [LOADGEN OPTIONS...]: loadgen against a server started on STORE.
run_ours() {
  local label=$1 store=$2
  shift 2
  start_ours "$store"
  loadgen --kind ours --addr "127.0.0.1:$ours_port" --pids "$ours_pid" --label "$label" "$@"
  stop_ours
}

# run_cluster LABEL [LOADGEN OPTIONS...]: a private redis-server and two instances on it; polls
# are held on the first, sends go to the second.
run_cluster() {
  local label=$1 redis_port a_port b_port pids=()
  shift
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --save "" \
    --appendonly yes --appendfsync always >/dev/null &
  children+=("$!")
  local redis_pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  for port_var in a_port b_port; do
    local port
    port=$(free_port)
    printf -v "$port_var" '%s' "$port"
    RUST_LOG=warn "$SERVER_BIN" --addr "127.0.0.1:$port" --store "redis://127.0.0.1:$redis_port/0" --send-rate 0 \
      --max-polls-per-address 1000000 &
    pids+=("$!")
    children+=("$!")
    wait_for "http://127.0.0.1:$port/health"
  done
  loadgen --kind ours --addr "127.0.0.1:$a_port" --send-addr "127.0.0.1:$b_port" \
    --pids "$(IFS=,; echo "${pids[*]}")" --label "$label" "$@"
  kill -TERM "${pids[@]}" "$redis_pid"
  wait "${pids[@]}" "$redis_pid" || true
}

run_nchan() {
  local port dir="$work/nginx"
  port=$(free_port)
  mkdir -p "$dir"
  sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" bench/nchan.conf >"$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
  local master=$!
  children+=("$master")
  wait_for "http://127.0.0.1:$port/nchan_status"
  local workers
  workers=$(pgrep -P "$master" | paste -sd, -)
  loadgen --kind nchan --addr "127.0.0.1:$port" --pids "$workers" --label nchan "$@"
  kill -TERM "$master"
  wait "$master" || true
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
# The machine may be shared: what else ran shows here.
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
# IDENTITY_ONLY=1 runs only the identity part below (bearer fan-outs and the sign-in burst),
# MULTI_ROOM_ONLY=1 only the multi-room part, TYPING_ONLY=1 only the typing part, SEARCH_ONLY=1
# only the search part, PUSH_ONLY=1 only the Web Push part at the end.
# Servers whose scenarios sign accounts up and in get limits the bench's sign-ups and sign-ins
# (100 at once) stay under, and its signed-in clients' polls (many per account).
sign_in_limits="--sign-in-per-name 100000 --sign-in-per-address 100000 --sign-up-per-address 100000 --hash-queue 1000 --max-polls-per-person 1000000"
if [ -z "${IDENTITY_ONLY:-}${MULTI_ROOM_ONLY:-}${TYPING_ONLY:-}${SEARCH_ONLY:-}${PUSH_ONLY:-}" ]; then
  # Memory is measured on a freshly started server, before anything else has grown its heap.
  run_ours ours-memory memory --scenarios memory
  run_ours ours-memory memory --scenarios latency,fanout,stream
  run_ours ours-sqlite "sqlite:$work/chat.db" --scenarios latency,stream
  # Issue 4's load: 100 listeners, 64 senders (one send in flight each) sending 40,000 messages.
  run_ours ours-sqlite "sqlite:$work/chat100.db" --scenarios stream --stream-clients 100 \
    --stream-senders 64 --stream-messages 40000
  # A million client ids come and go; idle ones are forgotten after 2 s, so memory stays flat.
  SERVER_OPTIONS="--client-idle-secs 2" run_ours ours-memory memory --scenarios churn
  if command -v redis-server >/dev/null; then
    run_cluster ours-redis-2x --scenarios cross,latency,stream
  else
    echo "redis-server unavailable: no cluster run" >&2
  fi
  if command -v nginx >/dev/null && [ -e /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
    run_nchan --scenarios memory
    run_nchan --scenarios latency,fanout,stream
    # The fan-out target compares two servers within 10-25 % of each other, while one run varies
    # about as much on this machine: FANOUT_PAIRS more fan-out runs per client, alternating
    # between the servers, then medians. The load generator shares the two cores with the server,
    # so its own CPU per answer moves the result: each pair runs with both client implementations
    # (the raw one of every other scenario, and hyper's), and each gets its own ratio.
    for _ in $(seq 1 "${FANOUT_PAIRS:-6}"); do
      for client in raw hyper; do
        run_ours ours-memory memory --scenarios fanout --client "$client"
        run_nchan --scenarios fanout --client "$client"
      done
    done
  else
    echo "nchan unavailable: no peer in this run" >&2
  fi

fi
if [ -z "${MULTI_ROOM_ONLY:-}${TYPING_ONLY:-}${SEARCH_ONLY:-}${PUSH_ONLY:-}" ]; then
  # Identities. Polls carrying a session token (`Authorization: Bearer`, checked on every poll)
  # against anonymous ones: the 10,000-poll fan-out alternating between the two, each on a fresh
  # server, BEARER_PAIRS (default 6) times; the bearer run signs 100 accounts up and in first and
  # its polls take their tokens in turn. Both runs of a pair get the same server options (sign-in
  # limits raised for the bench's sign-ins), so only the header differs. Then the wake-ups of
  # 1,000 held polls with no sign-in and while 100 sign-ins (Argon2id) run at once.
  for _ in $(seq 1 "${BEARER_PAIRS:-6}"); do
    SERVER_OPTIONS=$sign_in_limits run_ours ours-auth memory --scenarios fanout --fanout-clients 10000
    SERVER_OPTIONS=$sign_in_limits run_ours ours-auth memory --scenarios fanout --fanout-clients 10000 \
      --bearer-sessions 100
  done
  SERVER_OPTIONS=$sign_in_limits run_ours ours-auth memory --scenarios sign-in-burst
fi
# Issue 18: many rooms per poll. Clients following 10 of 100 rooms each with one POST
# /api/stream while 1,000 messages/s go to random rooms (multi-room-stream), against the same
# clients each holding one GET /api/poll on one of those rooms at the same send rate
# (multi-room-poll). Each run on a fresh server, since its memory per held poll is the growth
# of the server's RSS; MULTI_PAIRS (default 3) alternating pairs, then medians.
if [ -z "${IDENTITY_ONLY:-}${TYPING_ONLY:-}${SEARCH_ONLY:-}${PUSH_ONLY:-}" ]; then
  for _ in $(seq 1 "${MULTI_PAIRS:-3}"); do
    for via in poll stream; do
      # shellcheck disable=SC2086
      run_ours ours-memory memory --scenarios "multi-room-$via" ${MULTI_OPTIONS:-}
    done
  done
fi
# Presence and typing: 1,000 streams on one room asking for who is online and typing, 100 of
# them signed in as typists: quiet, a message every 200 ms with the typists idle (the baseline),
# the same while they signal typing every 3 s, then typing alone. Each run on a fresh server
# (its 100 sign-ups and sign-ins first), TYPING_RUNS (default 3) times, then medians;
# TYPING_OPTIONS passes loadgen options (e.g. `--typing-listeners 200 --typing-secs 5`).
if [ -z "${IDENTITY_ONLY:-}${MULTI_ROOM_ONLY:-}${SEARCH_ONLY:-}${PUSH_ONLY:-}" ]; then
  for _ in $(seq 1 "${TYPING_RUNS:-3}"); do
    # shellcheck disable=SC2086
    SERVER_OPTIONS=$sign_in_limits run_ours ours-memory memory --scenarios typing ${TYPING_OPTIONS:-}
  done
fi

# Search (issue 29): a million messages in 1,000 rooms on the SQLite store, written straight
# into a new file by bench/search_corpus.py (the server's migrations first), which the server's
# next start indexes all at once: that start is timed (search-start-indexing) against a start
# on the indexed file (search-start-indexed), and the file's parts are measured before and
# after (search-size-*). Then the `search` scenario on it (SEARCH_OPTIONS passes loadgen
# options, e.g. `--search-rounds 50`), and sends beside a million indexed messages and on an
# empty file: `latency` and `stream`, then `stream` with issue 4's load, each run on a fresh
# copy, SEARCH_PAIRS (default 3) times. With SEARCH_BASE_BIN (a server built before search:
# no index), each of those runs is paired with the same on that server (run labels
# base-sqlite*), alternating. SEARCH_MESSAGES_PER_ROOM (default 1,000) scales the corpus.
if [ -z "${IDENTITY_ONLY:-}${MULTI_ROOM_ONLY:-}${TYPING_ONLY:-}${PUSH_ONLY:-}" ]; then
  corpus=$work/search.db
  python3 bench/search_corpus.py generate --server "$SERVER_BIN" --db "$corpus" \
    --per-room "${SEARCH_MESSAGES_PER_ROOM:-1000}" | tee -a "$work/out.txt" | grep -v '^JSON '
  python3 bench/search_corpus.py sizes --db "$corpus" --scenario search-size-unindexed \
    | tee -a "$work/out.txt" | grep -v '^JSON '
  cp "$corpus" "$work/search-unindexed.db"
  # start_row SCENARIO: the last start's time as a result row, as loadgen prints them.
  start_row() {
    printf '%-16s %-22s start_ms=%s\n' ours-sqlite "$1" "$started_ms"
    echo "JSON {\"run\":\"ours-sqlite\",\"scenario\":\"$1\",\"start_ms\":$started_ms}" \
      >>"$work/out.txt"
  }
  # Starting on a million messages reads them (each room's last 1,000 are kept in memory); the
  # first start on the file also indexes them.
  START_SECS=1800 start_ours "sqlite:$corpus"
  stop_ours
  start_row search-start-indexing
  python3 bench/search_corpus.py sizes --db "$corpus" --scenario search-size-indexed \
    | tee -a "$work/out.txt" | grep -v '^JSON '
  cp "$corpus" "$work/search-indexed.db"
  # shellcheck disable=SC2086
  START_SECS=600 SERVER_OPTIONS="--search-rate-per-minute 0" \
    run_ours ours-sqlite "sqlite:$corpus" --scenarios search ${SEARCH_OPTIONS:-}
  start_row search-start-indexed
  # sends LABEL FILE: the send scenarios on a fresh copy of FILE (empty: a new file).
  sends() {
    rm -f "$work/sends.db" "$work/sends.db-wal" "$work/sends.db-shm"
    if [ -n "$2" ]; then cp "$2" "$work/sends.db"; fi
    START_SECS=600 run_ours "$1" "sqlite:$work/sends.db" --scenarios latency,stream
    rm -f "$work/sends.db" "$work/sends.db-wal" "$work/sends.db-shm"
    if [ -n "$2" ]; then cp "$2" "$work/sends.db"; fi
    START_SECS=600 run_ours "$1" "sqlite:$work/sends.db" --scenarios stream \
      --stream-clients 100 --stream-senders 64 --stream-messages 40000
  }
  for _ in $(seq 1 "${SEARCH_PAIRS:-3}"); do
    sends ours-sqlite-1m "$work/search-indexed.db"
    if [ -n "${SEARCH_BASE_BIN:-}" ]; then
      SERVER_BIN=$SEARCH_BASE_BIN sends base-sqlite-1m "$work/search-unindexed.db"
    fi
    sends ours-sqlite ""
    if [ -n "${SEARCH_BASE_BIN:-}" ]; then
      SERVER_BIN=$SEARCH_BASE_BIN sends base-sqlite ""
    fi
  done
fi

# Web Push beside sends (issue 28): 1,000 accounts subscribed to a push service inside the
# loadgen (plain http on 127.0.0.1, which only --push-allow-insecure allows) and at level `all`
# in one room; sequential sends to that room and to a room nobody listens to, in alternating
# blocks. Each run on a fresh server (the scenario's room names are fixed), PUSH_RUNS (default
# 3) times, then medians; PUSH_OPTIONS passes loadgen options (e.g. `--push-subscribers 100`).
# Its 1,000 sign-ups are past the default sign-ups per hour.
if [ -z "${IDENTITY_ONLY:-}${MULTI_ROOM_ONLY:-}${TYPING_ONLY:-}${SEARCH_ONLY:-}" ]; then
  for _ in $(seq 1 "${PUSH_RUNS:-3}"); do
    # shellcheck disable=SC2086
    SERVER_OPTIONS="$sign_in_limits --sign-up-per-hour 100000 --push-allow-insecure 127.0.0.1" \
      run_ours ours-memory memory --scenarios push ${PUSH_OPTIONS:-}
  done
fi

grep '^JSON ' "$work/out.txt" | cut -c6- >"$results"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print()
print("| run | scenario | results |")
print("|---|---|---|")
for row in rows:
    fields = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("run", "scenario"))
    print(f"| {row['run']} | {row['scenario']} | {fields} |")

# Medians of the repeated fan-out runs per client, and ours against nchan's.
from statistics import median
groups = {}
for row in rows:
    if row["scenario"].startswith("fanout-"):
        groups.setdefault((row["scenario"], row["client"], row["run"]), []).append(row)
if groups:
    keys = ["p50_ms", "p99_ms", "max_ms", "server_cpu_ms", "server_user_ms", "loadgen_cpu_ms",
            "first_round_p99_ms", "later_rounds_p99_ms", "first_round_server_cpu_ms", "setup_ms"]
    print()
    print("| scenario | client | run | runs | all delivered | "
          + " | ".join(f"median {k}" for k in keys) + " |")
    print("|---|---|---|---|---|" + "---|" * len(keys))
    # fanout-1000 before fanout-10000, anonymous before bearer, the raw client before hyper's,
    # ours before nchan before the identity pairs.
    runs = {"ours-memory": 0, "nchan": 1}
    order = lambda key: (int(key[0].rsplit("-", 1)[1]), "-bearer-" in key[0], key[1] != "raw",
                         runs.get(key[2], 2))
    for (scenario, client, run), group in sorted(groups.items(), key=lambda item: order(item[0])):
        delivered = all(row["delivered"] == row["expected"] for row in group)
        values = " | ".join(f"{median(row[k] for row in group):.2f}" for k in keys)
        print(f"| {scenario} | {client} | {run} | {len(group)} | {delivered} | {values} |")
    print()
    for scenario, client, _ in sorted({(s, c, "") for s, c, _ in groups}, key=order):
        ours = groups.get((scenario, client, "ours-memory"))
        nchan = groups.get((scenario, client, "nchan"))
        if ours and nchan:
            ratio = lambda key: median(r[key] for r in ours) / median(r[key] for r in nchan)
            print(f"{scenario} (client {client}): median p99 ours / nchan = "
                  f"{ratio('p99_ms'):.2f} (target <= 1); p50 {ratio('p50_ms'):.2f}, "
                  f"first round {ratio('first_round_p99_ms'):.2f}, "
                  f"later rounds {ratio('later_rounds_p99_ms'):.2f}; "
                  f"runs {len(ours)} / {len(nchan)}")
    # The identity pairs: polls with a session token against anonymous ones, same server.
    for scenario, client, run in sorted(groups, key=order):
        if "-bearer-" not in scenario:
            continue
        bearer = groups[(scenario, client, run)]
        anonymous = groups.get((scenario.replace("-bearer-", "-"), client, run))
        if anonymous:
            ratio = lambda key: median(r[key] for r in bearer) / median(r[key] for r in anonymous)
            print(f"{scenario} (client {client}): median p99 bearer / anonymous = "
                  f"{ratio('p99_ms'):.2f}; p50 {ratio('p50_ms'):.2f}, "
                  f"server CPU {ratio('server_cpu_ms'):.2f}, "
                  f"later rounds p99 {ratio('later_rounds_p99_ms'):.2f}; "
                  f"runs {len(bearer)} / {len(anonymous)}")

# The multi-room rows: medians per scenario (losses summed), then the stream beside its
# single-room baseline.
multi = {}
for row in rows:
    if row["scenario"].startswith("multi-room-"):
        multi.setdefault(row["scenario"], []).append(row)
if multi:
    counts = ["lost", "duplicated", "out_of_order", "unexpected", "resets", "unavailable"]
    keys = ["sends_per_s", "e2e_p50_ms", "e2e_p99_ms", "e2e_max_ms", "send_p99_ms",
            "kib_per_held_poll", "server_cpu_ms", "loadgen_cpu_ms", "setup_ms"]
    med = lambda group, key: median(r[key] for r in group if r[key] is not None) \
        if any(r[key] is not None for r in group) else float("nan")
    print()
    print("| scenario | runs | expected | " + " | ".join(counts) + " | "
          + " | ".join(f"median {k}" for k in keys) + " |")
    print("|---|---|---|" + "---|" * (len(counts) + len(keys)))
    for scenario, group in sorted(multi.items()):
        print(f"| {scenario} | {len(group)} | {group[0]['expected']} | "
              + " | ".join(str(sum(r[k] for r in group)) for k in counts) + " | "
              + " | ".join(f"{med(group, k):.2f}" for k in keys) + " |")
    streams = [s for s in multi if s.startswith("multi-room-stream-")]
    polls = [s for s in multi if s.startswith("multi-room-poll-")]
    for stream_name in streams:
        for poll_name in polls:
            st, po = multi[stream_name], multi[poll_name]
            total = lambda group: sum(r["lost"] + r["duplicated"] + r["out_of_order"] for r in group)
            print(f"{stream_name} / {poll_name}: e2e p99 {med(st, 'e2e_p99_ms'):.2f} / "
                  f"{med(po, 'e2e_p99_ms'):.2f} ms, p50 {med(st, 'e2e_p50_ms'):.2f} / "
                  f"{med(po, 'e2e_p50_ms'):.2f} ms; memory per held poll "
                  f"{med(st, 'kib_per_held_poll'):.2f} / {med(po, 'kib_per_held_poll'):.2f} KiB; "
                  f"lost + duplicated + out of order {total(st)} / {total(po)}; "
                  f"runs {len(st)} / {len(po)}")

# The typing rows: medians per phase over the runs (losses summed), then one line per room
# size: the fan-out with typing beside its idle baseline, and the wake-ups each phase cost.
typing = {}
for row in rows:
    if row["scenario"].startswith("typing-"):
        typing.setdefault(row["scenario"], []).append(row)
if typing:
    keys = ["fanout_p50_ms", "fanout_p99_ms", "fanout_max_ms", "answers_per_listener_s",
            "message_answers_per_listener_s", "live_only_per_listener_s",
            "live_answers_per_listener_s", "live_early_per_listener_s", "signal_p99_ms",
            "server_cpu_ms", "loadgen_cpu_ms"]
    med = lambda group, key: median(r[key] for r in group if r.get(key) is not None) \
        if any(r.get(key) is not None for r in group) else float("nan")
    print()
    print("| scenario | runs | expected | lost | duplicated | "
          + " | ".join(f"median {k}" for k in keys) + " |")
    print("|---|---|---|---|---|" + "---|" * len(keys))
    phases = ["quiet", "idle", "typing", "typing-alone"]

    def order(name):
        """(the run's name without its phase, the phase's place in `phases`)."""
        # "typing-alone" before "typing", which it ends with too.
        for phase in sorted(phases, key=len, reverse=True):
            if name.endswith("-" + phase):
                return name[: -len(phase) - 1], phases.index(phase)
        return name, len(phases)

    for scenario, group in sorted(typing.items(), key=lambda item: order(item[0])):
        print(f"| {scenario} | {len(group)} | {group[0]['expected']} | "
              f"{sum(r['lost'] for r in group)} | {sum(r['duplicated'] for r in group)} | "
              + " | ".join(f"{med(group, k):.2f}" for k in keys) + " |")
    for base in sorted({order(name)[0] for name in typing}):
        quiet, idle, typed, alone = (typing.get(f"{base}-{p}") for p in phases)
        if not (quiet and idle and typed and alone):
            continue
        lost = sum(r["lost"] + r["duplicated"] for r in idle + typed)
        ratio = lambda key: med(typed, key) / med(idle, key)
        print(f"{base}: fan-out p99 typing / idle = {ratio('fanout_p99_ms'):.2f} "
              f"({med(typed, 'fanout_p99_ms'):.1f} / {med(idle, 'fanout_p99_ms'):.1f} ms), "
              f"p50 {ratio('fanout_p50_ms'):.2f}; answers per listener per s: quiet "
              f"{med(quiet, 'answers_per_listener_s'):.2f}, idle "
              f"{med(idle, 'answers_per_listener_s'):.2f} (without a message "
              f"{med(idle, 'live_only_per_listener_s') + med(idle, 'other_answers_per_listener_s'):.2f}), "
              f"typing {med(typed, 'answers_per_listener_s'):.2f} (live only "
              f"{med(typed, 'live_only_per_listener_s'):.2f}), typing alone "
              f"{med(alone, 'live_only_per_listener_s'):.2f} live only (coalescing allows 5), "
              f"{med(alone, 'live_early_per_listener_s'):.2f} of them early; server CPU typing / "
              f"idle {ratio('server_cpu_ms'):.2f}; lost + duplicated {lost}; runs {len(typed)}")

# The sign-in burst: wake-ups while the sign-ins run against wake-ups without.
bursts = {row["scenario"]: row for row in rows if row["scenario"].startswith("sign-in-burst-")}
for name, quiet in bursts.items():
    if not name.endswith("-quiet"):
        continue
    base = name[: -len("-quiet")]
    during, sign_ins = bursts.get(base + "-during"), bursts.get(base + "-sign-ins")
    if during and sign_ins and quiet["p99_ms"] and quiet["p50_ms"] and during["p99_ms"]:
        print(f"{base}: p99 during {during['sign_ins']} sign-ins / quiet = "
              f"{during['p99_ms'] / quiet['p99_ms']:.2f} ({during['p99_ms']} / {quiet['p99_ms']} ms); "
              f"p50 {during['p50_ms'] / quiet['p50_ms']:.2f}; the sign-ins took "
              f"{sign_ins['burst_ms']} ms in all, p50 {sign_ins['p50_ms']} ms")

# The search part: the corpus and what indexing it cost, each query's latency per client
# count, then the sends' medians per store and build, ours (indexing) beside base (without).
by_name = {row["scenario"]: row for row in rows if row["scenario"].startswith("search-")}
corpus = by_name.get("search-corpus")
unindexed, indexed = by_name.get("search-size-unindexed"), by_name.get("search-size-indexed")
indexing, restart = by_name.get("search-start-indexing"), by_name.get("search-start-indexed")
if corpus and unindexed and indexed and indexing and restart:
    mib = lambda kib: f"{kib / 1024:,.1f} MiB"
    index_kib = indexed["search_messages_kib"] + indexed["search_fts_kib"]
    print()
    print(f"search: {corpus['messages']:,} messages in {corpus['rooms']:,} rooms; the first "
          f"start indexed them in {indexing['start_ms'] / 1000:.1f} s (a start on the indexed "
          f"file: {restart['start_ms'] / 1000:.1f} s); file {mib(unindexed['file_kib'])} "
          f"before, {mib(indexed['file_kib'])} after; index {mib(index_kib)} "
          f"(search_messages {mib(indexed['search_messages_kib'])}, FTS5 "
          f"{mib(indexed['search_fts_kib'])}) = {indexed['index_per_log']:.2f}x the log's "
          f"{mib(indexed['messages_kib'])}")
queries = {}
for name, row in by_name.items():
    if "query" in row:
        kind, clients = name[len("search-"):].rsplit("-x", 1)
        queries.setdefault(kind, {})[int(clients)] = row
if queries:
    counts = sorted({clients for per in queries.values() for clients in per})
    print()
    print("| search | query | results | "
          + " | ".join(f"{c} client{'s' if c > 1 else ''}: p50 / p99 / max, busy" for c in counts)
          + " |")
    print("|---|---|---|" + "---|" * len(counts))
    for kind, per in queries.items():
        first = per[counts[0]]
        cells = " | ".join(f"{per[c]['p50_ms']} / {per[c]['p99_ms']} / {per[c]['max_ms']}, "
                           f"{per[c]['busy']}" if c in per else "" for c in counts)
        print(f"| {kind} | {first['query']} | {first['results_min']}-{first['results_max']} | "
              f"{cells} |")
sends = {}
for row in rows:
    if row["run"] in ("ours-sqlite-1m", "base-sqlite-1m", "ours-sqlite", "base-sqlite") \
            and row["scenario"] in ("latency", "stream-50-max-4s", "stream-50-1000/s",
                                    "stream-100-max-64s", "stream-100-1000/s"):
        sends.setdefault((row["run"], row["scenario"]), []).append(row)
if any(run.endswith("-1m") for run, _ in sends):
    keys = {"latency": ["p50_ms", "p99_ms", "server_cpu_ms"]}
    stream_keys = ["sends_per_s", "e2e_p99_ms", "send_p99_ms", "server_cpu_ms"]
    print()
    print("| sends, SQLite | run | runs | lost + dup. | medians |")
    print("|---|---|---|---|---|")
    for (run, scenario), group in sorted(sends.items(), key=lambda item: (item[0][1], item[0][0])):
        lost = sum(r.get("lost", 0) + r.get("duplicated", 0) for r in group)
        fields = ", ".join(f"{k} {median(r[k] for r in group if r.get(k) is not None):.2f}"
                           for k in keys.get(scenario, stream_keys)
                           if any(r.get(k) is not None for r in group))
        print(f"| {scenario} | {run} | {len(group)} | {lost} | {fields} |")
    for store in ("-1m", ""):
        for scenario in sorted({s for _, s in sends}):
            ours, base = sends.get((f"ours-sqlite{store}", scenario)), \
                sends.get((f"base-sqlite{store}", scenario))
            if not (ours and base):
                continue
            key = "p99_ms" if scenario == "latency" else \
                "sends_per_s" if "-max-" in scenario else "e2e_p99_ms"
            ratio = median(r[key] for r in ours) / median(r[key] for r in base)
            print(f"{scenario}{' beside 1,000,000 messages' if store else ', empty store'}: "
                  f"median {key} indexing / without = {ratio:.2f}; runs {len(ours)} / {len(base)}")

# The Web Push rows: medians per room over the runs, then the push room beside the quiet one.
push = {}
for row in rows:
    if row["scenario"].startswith("push-") and not row["scenario"].endswith("-setup"):
        push.setdefault(row["scenario"], []).append(row)
if push:
    keys = ["p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "sends_per_s", "server_cpu_ms",
            "server_cpu_us_per_send",
            "loadgen_cpu_ms", "pushes_during", "pushes_caused", "pushes_expected", "wave_p50_ms",
            "wave_max_ms", "after_server_cpu_ms", "server_dropped", "server_failed"]
    med = lambda group, key: median(r[key] for r in group if r.get(key) is not None) \
        if any(r.get(key) is not None for r in group) else float("nan")
    print()
    print("| scenario | runs | " + " | ".join(f"median {k}" for k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for scenario, group in sorted(push.items()):
        print(f"| {scenario} | {len(group)} | " + " | ".join(f"{med(group, k):.2f}" for k in keys)
              + " |")
    for scenario, pushed in sorted(push.items()):
        if not scenario.endswith("-push-room"):
            continue
        quiet = push.get(scenario[: -len("push-room")] + "quiet-room")
        if not quiet:
            continue
        beside = push.get(scenario + "-beside", [])
        ratio = lambda key: med(pushed, key) / med(quiet, key)
        print(f"{scenario[: -len('-push-room')]}: send p99 push room / quiet room = "
              f"{ratio('p99_ms'):.2f} ({med(pushed, 'p99_ms'):.2f} / {med(quiet, 'p99_ms'):.2f} ms), "
              f"p50 {ratio('p50_ms'):.2f}; the quiet room's sends between the push room's: p99 "
              f"{med(beside, 'p99_ms'):.2f} ms, p50 {med(beside, 'p50_ms'):.2f} ms; "
              f"server CPU per send {ratio('server_cpu_us_per_send'):.2f}; "
              f"pushes caused / expected {sum(r['pushes_caused'] for r in pushed)} / "
              f"{sum(r['pushes_expected'] for r in pushed)}, dropped "
              f"{sum(r['server_dropped'] for r in pushed)}; runs {len(pushed)}")
PY
