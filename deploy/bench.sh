#!/usr/bin/env bash
# The benchmark suite (docs/benchmarks.md): builds a release build, starts a stack of its
# own on free 127.0.0.1 ports, runs B1-B5, each next to its ceiling in the same run, and
# prints a table of what it measured (it asserts no time). Stops everything it started.
# Every tool prints its result as a JSON line; each goes into $build/bench-results.jsonl
# with what the step knows beside it, and bench/results.py makes the table from that file.
#
# Sizes and durations come from the environment (defaults are the issue's sizes):
#   BENCH_SECONDS=15      each wrk run (B1, B3) and the freshness probe (B4)
#   BENCH_CONNS=64        wrk connections for B1;  BENCH_CONNS_HIGH=256  its second row
#   BENCH_POST_DIALOGS=100000  dialogs B1's POSTs spread over (each first posted once)
#   BENCH_BATCH_LINES=100 lines a POST /batch (B1b);  BENCH_BATCH_CONNS=16  its connections
#   BENCH_WRITER_EVENTS=200000  events a B1w run of the Python Writer;  BENCH_WRITER_PROCS=4
#   BENCH_DIALOGS=20000   B2/B3 dialogs;  BENCH_EVENTS=200000  B2 message events
#   BENCH_TEXT=100        bytes of text per message
#   BENCH_QUERY_CONNS=1   wrk connections for B3 (a page is two scans at once on FerretDB)
#   BENCH_QUERY_SECONDS=60  each B3 run (over 120, also the time a page may take)
#   BENCH_REF_DIALOGS=5000  B3r's one-message dialogs;  BENCH_REF_SECONDS=20  each B3r run
#   BENCH_STEPS="b1 b1b b1i b2 b3 b3r b4"  which to run (b1b: POST /batch against single POSTs;
#                         b1i: instructions a request under callgrind;
#                         b3 needs b2's data; b3r stores its own; b4 alone needs BENCH_B4_RATE)
#   BENCH_B4_RATE         B4's background POSTs/s (default: half of B2's rate)
#   BENCH_INGESTD_ARGS    extra arguments for B2's ingestd (to try a lever)
#   BENCH_BROKERS=1       3: every step against a three-broker cluster (replication 3, min ISR 2)
#   BENCH_B2_CEILING=1    0: skip B2's ceiling (it takes as long as the drain; for B3-only sizes)
# Usage: deploy/bench.sh            (BENCH_DIALOGS=2000 BENCH_EVENTS=20000 for a quick run)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

secs=${BENCH_SECONDS:-15}
conns=${BENCH_CONNS:-64}
conns_high=${BENCH_CONNS_HIGH:-256}
dialogs=${BENCH_DIALOGS:-20000}
events=${BENCH_EVENTS:-200000}
text=${BENCH_TEXT:-100}
qconns=${BENCH_QUERY_CONNS:-1}
qsecs=${BENCH_QUERY_SECONDS:-60}
build=${BENCH_BUILD_DIR:-$DAPI_ROOT/build-bench}
state="$build/bench-stack"
run="b$(date +%s)"
results="$build/bench-results.jsonl"
extra_pids=()

"$here/install.sh" >&2
cmake -S "$DAPI_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=OFF -DDAPI_BENCH=ON >/dev/null
cmake --build "$build" >&2

# What spawn started, also from a subshell ($(spawn ...) cannot add to extra_pids): the
# pids are kept in a file too, and all of them are stopped on exit, however it comes.
cleanup() {
  for p in "${extra_pids[@]}" $(cat "$state/spawned.pids" 2>/dev/null); do
    kill "$p" 2>/dev/null || true
  done
  rm -f "$state/spawned.pids"
  "$here/stack.sh" down --state-dir "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [ -n "${MONGODB_URI:-}" ]; then db="MongoDB at \$MONGODB_URI"
elif command -v mongod >/dev/null; then db="mongod $(mongod --version | head -1)"
else db="FerretDB 1.24.2 (SQLite, _id index fix)"; fi
"$here/stack.sh" up --fresh --state-dir "$state" --random-ports --build-dir "$build" \
  --brokers "${BENCH_BROKERS:-1}" --no-build >/dev/null
. "$state/stack.env"
export LUA_PATH="$DAPI_ROOT/bench/?.lua;;"
: > "$results"

log() { printf '[bench] %s\n' "$*" >&2; }
# A topic of 6 partitions, replicated as the stack's topics are (the brokers' defaults).
bench_topic() { "$here/stack.sh" topics --state-dir "$state" -- --create --topic "$1" \
  --partitions "${2:-6}" >>"$state/logs/kafka-admin.log" 2>&1; }
results_py() { python3 "$DAPI_ROOT/bench/results.py" "$@"; }
record() { results_py add "$results" "$@"; } # record ID [JSON] [KEY=VALUE...]
field() { results_py get "$1" "$2"; }       # field NAME JSON
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
wrk_run() { # wrk_run URL SCRIPT CONNS [RATE] -> its JSON result, with conns
  local threads=$(($3 < 2 ? $3 : 2)) out
  out=$(BENCH_RATE=${4:-0} BENCH_THREADS=$threads \
    wrk -t"$threads" -c"$3" -d"${secs}s" --timeout "${timeout:-120}s" -s "$2" "$1" | grep '^{')
  printf '%s\n' "${out%\}},\"conns\":$3}"
}

# Starts a program of this build in the background, logging to the stack's logs.
spawn() { # spawn NAME PROGRAM ARGS...
  local name=$1; shift
  "$@" >>"$state/logs/$name.log" 2>&1 &
  extra_pids+=($!)
  echo $! >>"$state/spawned.pids"
  echo $!
}

# ---- B1: ingress POST throughput, and latency at half of it ----------------------------
# warm_up URL SCRIPT CONNS: 5 s runs at full speed, at least 6, then until two in a row
# agree within 5 % (at most 16). A fresh broker's JIT is still compiling its produce
# path: the ingress ran 7,000-18,000 req/s in its first tens of seconds, 20,000-24,000
# once warm.
within_5pc() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not 0.95 * a < b < 1.05 * a)' "$1" "$2"; }
half_of() { python3 -c 'import sys; print(int(float(sys.argv[1]) / 2))' "$1"; }
warm_up() {
  local prev=0 rate i
  for i in $(seq 16); do
    rate=$(field rps "$(secs=5 wrk_run "$1" "$2" "$3")")
    log "  warm-up run $i: $rate req/s"
    [ "$i" -ge 6 ] && within_5pc "$prev" "$rate" && return 0
    prev=$rate
  done
}

# post_runs ID URL TOKEN PREFIX [first]: records ID.max, ID.half and ID.high: full speed
# and half of it at $conns, full speed at $conns_high, once warm. With `first`, a
# first-message pass comes before them (ID.first): one POST to each of post.lua's dialogs
# (bench/first.lua), so that with sealing every data key is created there, measured on its
# own, and the runs after it measure messages to known dialogs.
post_runs() {
  local id=$1 max post="$DAPI_ROOT/bench/post.lua"
  shift
  export BENCH_TOKEN=$2 BENCH_PREFIX=$3
  [ "${4:-}" = first ] &&
    record "$id.first" "$(first_pass "$1")" dialogs="${BENCH_POST_DIALOGS:-100000}"
  warm_up "$1" "$post" "$conns"
  max=$(wrk_run "$1" "$post" "$conns")
  record "$id.max" "$max"
  record "$id.half" "$(wrk_run "$1" "$post" "$conns" "$(half_of "$(field rps "$max")")")"
  record "$id.high" "$(wrk_run "$1" "$post" "$conns_high")"
}

# POSTs an ingress at URL has answered on /data/{c}/{d}, whatever their status.
posts_answered() {
  results_py metric "$1" dataapi_http_requests_total 'route=/data/\*/\*' method=POST
}

# first_pass URL -> the JSON result of bench/first.lua over every dialog of post.lua. wrk's
# main thread sleeps out its -d even when the script's threads stopped, so it is
# interrupted (it reports on SIGINT) once the ingress answered them all; the script times
# the pass itself. At most 300 s.
first_pass() {
  local out="$state/first-pass.out" w i
  BENCH_THREADS=2 wrk -t2 -c"$conns" -d300s --timeout 120s -s "$DAPI_ROOT/bench/first.lua" "$1" \
    >"$out" &
  w=$!
  for ((i = 0; i < 3000; i++)); do
    [ "$(posts_answered "$1")" -ge "${BENCH_POST_DIALOGS:-100000}" ] && break
    kill -0 "$w" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$w" 2>/dev/null || true
  wait "$w" || true
  grep '^{' "$out"
}

# An ingress of this build on topic $1 with extra arguments: its pid in B1_PID, its port in
# B1_PORT, ready.
bench_ingress() { # bench_ingress TOPIC NAME ARGS...
  local topic=$1 name=$2
  shift 2
  B1_PORT=$(dapi_free_port)
  # wrk's connections all come from 127.0.0.1: no per-address limit here
  B1_PID=$(spawn "$name" "$build/ingest/dataapi-ingress" --port "$B1_PORT" --kafka-brokers \
    "$KAFKA_BROKERS" --topic "$topic" --tokens-file "$state/tokens" --log-level warn \
    --max-connections-per-ip 0 "$@")
  extra_pids+=("$B1_PID")
  dapi_wait_http "http://127.0.0.1:$B1_PORT/readyz" 30
}

# first_message_ms PORT: records the mean ms of a POST to a dialog never seen (its data key
# is created: one key-store round trip) and to one whose key is cached, 200 sequential
# POSTs each.
first_message_ms() {
  local i new=() known=() body='{"text":"hello","language":"EN"}' ms=()
  for ((i = 0; i < 200; i++)); do
    new+=(-o /dev/null "http://127.0.0.1:$1/data/c1/$run-first-$i")
    known+=(-o /dev/null "http://127.0.0.1:$1/data/c1/$run-known")
  done
  for which in new known; do
    local -n urls=$which
    ms+=("$(curl -s -w '%{time_total}\n' -H "Authorization: Bearer $WRITER_TOKEN" \
      -H 'Content-Type: application/json' --data-binary "$body" "${urls[@]}" |
      python3 -c 'import sys; t = [float(x) for x in sys.stdin]; print(1000 * sum(t) / len(t))')")
  done
  record b1.first_ms new_ms="${ms[0]}" known_ms="${ms[1]}"
}

b1() {
  local port pid topic="bench.$run.b1" i
  port=$(dapi_free_port)
  pid=$(spawn ceiling-http "$build/bench/dapi-ceiling-http" "$port" 2)
  dapi_wait_port 127.0.0.1 "$port" "$pid" 10
  log "B1 ceiling: minimal libmicrohttpd 202 server, wrk -c$conns ${secs}s, at half its rate, then -c$conns_high"
  post_runs b1.ceiling "http://127.0.0.1:$port" "" "$run-ceil"
  kill "$pid"
  # The durable ceiling and the ingresses of this build on a topic of their own, so that no
  # consumer competes for the CPU and B4 does not start behind a backlog.
  bench_topic "$topic"
  port=$(dapi_free_port)
  pid=$(spawn ceiling-durable "$build/bench/dapi-ceiling-durable" "$port" "$KAFKA_BROKERS" "$topic" 2)
  dapi_wait_port 127.0.0.1 "$port" "$pid" 10
  log "B1 durable ceiling: libmicrohttpd + the ingress's producer, 202 after Kafka's acknowledgement, nothing else"
  post_runs b1.durable "http://127.0.0.1:$port" "" "$run-durable"
  kill "$pid"
  # Sealing (as deployed), then --no-seal.
  bench_ingress "$topic" bench-ingress --master-key-file "$DATAAPI_MASTER_KEY_FILE" \
    --keys-uri "$MONGODB_URI"
  pid=$B1_PID
  log "B1 ingress: POST /data, sealed, durable 202 (acks=all), wrk -c$conns ${secs}s, at half its rate, then -c$conns_high"
  post_runs b1.sealed "http://127.0.0.1:$B1_PORT" "$WRITER_TOKEN" "$run" first
  record b5.ingress kib="$(peak_kib "$pid")"
  first_message_ms "$B1_PORT"
  local sealed_port=$B1_PORT sealed_pid=$pid
  bench_ingress "$topic" bench-ingress-clear --no-seal
  pid=$B1_PID
  log "B1 ingress --no-seal: the same runs"
  post_runs b1.clear "http://127.0.0.1:$B1_PORT" "$WRITER_TOKEN" "$run-clear" first
  # This machine drifts by tens of percent within minutes (the ceilings above): the
  # comparison is made of runs taken in turn, both ingresses warm, the median of each.
  log "B1 sealed and --no-seal in turn, 3 runs each"
  for i in 1 2 3; do
    record b1.turn.sealed "$(BENCH_TOKEN=$WRITER_TOKEN BENCH_PREFIX=$run wrk_run \
      "http://127.0.0.1:$sealed_port" "$DAPI_ROOT/bench/post.lua" "$conns")"
    record b1.turn.clear "$(BENCH_TOKEN=$WRITER_TOKEN BENCH_PREFIX=$run-clear wrk_run \
      "http://127.0.0.1:$B1_PORT" "$DAPI_ROOT/bench/post.lua" "$conns")"
  done
  kill "$pid" "$sealed_pid"
}

# ---- B1b: POST /batch against single POSTs, in the same run --------------------------
# batch_lines_failed URL: lines the ingress answered failed or rejected (its metrics).
batch_lines_failed() {
  results_py metric "$1" dataapi_batch_lines_total 'result=failed|rejected'
}

b1b() {
  local topic="bench.$run.b1b" url i half
  local bconns=${BENCH_BATCH_CONNS:-16} lines=${BENCH_BATCH_LINES:-100}
  bench_topic "$topic"
  bench_ingress "$topic" bench-ingress-batch --master-key-file "$DATAAPI_MASTER_KEY_FILE" \
    --keys-uri "$MONGODB_URI"
  url="http://127.0.0.1:$B1_PORT"
  export BENCH_TOKEN=$WRITER_TOKEN BENCH_PREFIX=$run-b1b BENCH_BATCH_LINES=$lines
  log "B1b: POST /batch ($lines message lines, $bconns connections) and single POSTs ($conns connections) in turn, sealed, after both warmed up"
  warm_up "$url" "$DAPI_ROOT/bench/post.lua" "$conns"
  warm_up "$url" "$DAPI_ROOT/bench/batch.lua" "$bconns"
  local batch_rates=()
  for i in 1 2 3; do
    record b1b.single "$(wrk_run "$url" "$DAPI_ROOT/bench/post.lua" "$conns")"
    batch=$(wrk_run "$url" "$DAPI_ROOT/bench/batch.lua" "$bconns")
    record b1b.batch "$batch" lines="$lines"
    batch_rates+=("$(field rps "$batch")")
  done
  # half of the median batch rate
  half=$(printf '%s\n' "${batch_rates[@]}" | sort -g | sed -n 2p)
  record b1b.half "$(wrk_run "$url" "$DAPI_ROOT/bench/batch.lua" "$bconns" "$(half_of "$half")")" \
    lines="$lines"
  b1w "$url" "$lines"
  record b1b.lines_bad lines="$(batch_lines_failed "$url")"
  kill "$B1_PID"
}

# b1w URL LINES: the Python client's Writer against raw POST /batch of the same lines on
# the same ingress, in turn, at one connection (one Writer) and at BENCH_WRITER_PROCS (one
# Writer a process), three times each.
b1w() {
  local k i events=${BENCH_WRITER_EVENTS:-200000}
  for k in 1 "${BENCH_WRITER_PROCS:-4}"; do
    log "B1w: $k Writer(s) ($events events, $2-line batches) and raw POST /batch at $k connection(s), in turn"
    for i in 1 2 3; do
      record b1w.raw "$(wrk_run "$1" "$DAPI_ROOT/bench/batch.lua" "$k")" lines="$2" procs="$k"
      record b1w.writer "$(python3 "$DAPI_ROOT/bench/writer.py" "$1" "--token=$WRITER_TOKEN" \
        --events "$events" --processes "$k" --lines "$2" --prefix "$run-b1w" \
        --dialogs "${BENCH_POST_DIALOGS:-100000}")" procs="$k"
    done
  done
}

# ---- B1i: instructions a request, counted by callgrind ---------------------------------
# Seconds drift on this machine (the same ceiling binary answered 110,000 and 152,000 req/s
# an hour apart); instruction counts do not. Each server runs under callgrind for N1 and
# then for N2 POSTs (curl, 4 connections); the row is the difference over N2 - N1, so
# start-up and shut-down cancel out. All threads of the process count (librdkafka's too);
# the kernel's work does not.
posts() { # posts PORT TOKEN COUNT: COUNT POSTs over 4 keep-alive connections; prints 2xx
  local i cfg="$state/posts.curl"
  for ((i = 0; i < $3; i++)); do
    printf 'url = "http://127.0.0.1:%s/data/c%d/%s-i%d"\noutput = /dev/null\n' "$1" \
      $((i % 50)) "$run" "$i"
  done >"$cfg"
  curl -s --no-progress-meter --parallel --parallel-max 4 -w '%{http_code}\n' -K "$cfg" \
    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    --data-binary "{\"text\":\"$(head -c "$text" /dev/zero | tr '\0' x)\",\"language\":\"en\"}" |
    grep -c '^2'
}

instructions() { # instructions COUNT TOKEN PROGRAM ARGS... ({port}: its port) -> total Ir
  local n=$1 token=$2 port out pid ok a args=()
  shift 2
  port=$(dapi_free_port)
  out="$state/callgrind.$port.out"
  for a in "$@"; do args+=("${a//\{port\}/$port}"); done
  valgrind --tool=callgrind --callgrind-out-file="$out" "${args[@]}" \
    >>"$state/logs/callgrind.log" 2>&1 &
  pid=$!
  dapi_wait_port 127.0.0.1 "$port" "$pid" 60
  sleep 2 # the ingress fetches its topic's metadata once it listens
  ok=$(posts "$port" "$token" "$n")
  kill -TERM "$pid"
  wait "$pid" || true
  [ "$ok" = "$n" ] || log "  only $ok of $n POSTs answered 2xx under callgrind"
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

per_request() { # per_request TOKEN PROGRAM ARGS... -> instructions a request
  local lo hi n1=400 n2=2400
  lo=$(instructions "$n1" "$@")
  hi=$(instructions "$n2" "$@")
  echo $(((hi - lo) / (n2 - n1)))
}

b1i() {
  local ceil ing topic="bench.$run.b1i"
  if ! command -v valgrind >/dev/null; then
    record b1i skipped="valgrind not installed"
    return 0
  fi
  log "B1i: instructions a POST under callgrind, ceiling and ingress"
  ceil=$(per_request "" "$build/bench/dapi-ceiling-http" "{port}" 2)
  bench_topic "$topic"
  ing=$(per_request "$WRITER_TOKEN" "$build/ingest/dataapi-ingress" --port "{port}" \
    --kafka-brokers "$KAFKA_BROKERS" --topic "$topic" --tokens-file "$state/tokens" \
    --log-level warn --master-key-file "$DATAAPI_MASTER_KEY_FILE" --keys-uri "$MONGODB_URI")
  record b1i ingress="$ing" ceiling="$ceil" posts=2000
}

# ---- B2: events applied per second from a pre-filled topic -----------------------------
applied() { # applied ADMIN_URL -> records applied or dead-lettered so far
  echo $(($(results_py metric "$1" dataapi_events_applied_total 2>/dev/null || echo 0) +
    $(results_py metric "$1" dataapi_dlq_total 2>/dev/null || echo 0)))
}

reads() { # reads ADMIN_URL -> KEY=VALUE: where dialogs came from, the time spent in batches
  local u=$1
  echo "reads_cache=$(results_py metric "$u" dataapi_dialog_reads_total source=cache)" \
    "reads_store=$(results_py metric "$u" dataapi_dialog_reads_total source=store)" \
    "batch_s=$(results_py metric "$u" dataapi_batch_duration_seconds_sum)" \
    "load_s=$(results_py metric "$u" dataapi_store_duration_seconds_sum op=load)" \
    "write_s=$(results_py metric "$u" dataapi_store_duration_seconds_sum op=write)"
}

# cpu_ticks PID...: user + system clock ticks the processes have used (0 for one gone).
cpu_ticks() {
  local p t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}

b2() {
  local topic="bench.$run" admin pid t0 t1 fill total=$((events + dialogs)) reads
  local db_pid kafka_pid db0 kafka0 rss=0
  db_pid=$(cat "$state/pids/db.pid" 2>/dev/null || echo 0)
  kafka_pid=$(cat "$state"/pids/kafka*.pid 2>/dev/null || echo 0) # every broker
  bench_topic "$topic"
  log "B2 fill: $events messages over $dialogs dialogs + $dialogs consents into $topic"
  fill=$("$build/bench/dapi-bench-fill" "$KAFKA_BROKERS" "$topic" "$run" "$dialogs" "$events" "$text")
  record b2.fill "$fill"
  admin=$(dapi_free_port)
  db_idle
  # shellcheck disable=SC2086
  db0=$(cpu_ticks "$db_pid") kafka0=$(cpu_ticks $kafka_pid)
  t0=$(date +%s%N)
  pid=$(spawn bench-ingestd "$build/ingest/dataapi-ingestd" --kafka-brokers "$KAFKA_BROKERS" \
    --topic "$topic" --group "bench-$run" --mongodb-uri "$MONGODB_URI" --database bench \
    --admin-port "$admin" --log-level warn --master-key-file "$DATAAPI_MASTER_KEY_FILE" \
    ${BENCH_INGESTD_ARGS:-})
  log "B2 ingest: dataapi-ingestd draining $topic into database bench"
  until [ "$(applied "http://127.0.0.1:$admin")" -ge "$total" ]; do
    kill -0 "$pid" 2>/dev/null || dapi_die "bench ingestd died (see $state/logs/bench-ingestd.log)"
    rss=$(peak_kib "$pid")
    sleep 0.5
  done
  t1=$(date +%s%N)
  reads=$(reads "http://127.0.0.1:$admin")
  # shellcheck disable=SC2086 # reads is KEY=VALUE words
  record b2.drain events="$total" dialogs="$dialogs" ns=$((t1 - t0)) \
    ingestd_ticks="$(cpu_ticks "$pid")" db_ticks=$(($(cpu_ticks "$db_pid") - db0)) \
    kafka_ticks=$(($(cpu_ticks $kafka_pid) - kafka0)) hz="$(getconf CLK_TCK)" $reads
  rss=$(peak_kib "$pid")
  record b5.ingestd kib="$rss"
  kill "$pid"
  B2_RATE=$((total * 1000000000 / (t1 - t0)))
  if [ "${BENCH_B2_CEILING:-1}" = 1 ]; then
    log "B2 ceiling: raw bulk upserts of the same events"
    record b2.ceiling "$("$build/bench/dapi-bench-ceiling-ingest" "$MONGODB_URI" bench ceiling \
      "$run" "$dialogs" "$events" "$text" 32)"
  fi
}

# Waits (at most 5 min) until the database uses under a fifth of a core: FerretDB finishes
# a scan whose client has gone, so a run's last requests would otherwise still load the
# next step's start.
db_idle() {
  local pid t0 t1
  pid=$(cat "$state/pids/db.pid" 2>/dev/null) || return 0
  for _ in $(seq 300); do
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || return 0
    sleep 1
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || return 0
    [ $((t1 - t0)) -lt 20 ] && return 0
  done
  log "the database is still busy after 5 min"
}

# ---- B3: GET /data shapes over the dialogs B2 stored -----------------------------------
# Each row's notes give the server's plan of that page (dapi-bench-explain: the query
# service's own find command, explained): on MongoDB an IXSCAN and no in-memory SORT.
# page_ceiling DB QUERY: the page's own find command (dapi-bench-ceiling-page) through the
# driver on one connection, for as long as a B3 run (at most 60 s) -> its RESULT line.
page_ceiling() {
  "$build/bench/dapi-bench-ceiling-page" "$MONGODB_URI" "$1" dialogs "$2" \
    "$((qsecs < 60 ? qsecs : 60))" 2>>"$state/logs/bench-ceiling-page.log" || echo '{"failed":true}'
}

b3() {
  local port pid cursor deep shape path res plan ceil qtimeout=$((qsecs > 120 ? qsecs : 120))
  port=$(dapi_free_port)
  pid=$(spawn bench-query "$build/query/dataapi-query" --port "$port" --mongodb-uri "$MONGODB_URI" \
    --database bench --tokens-file "$state/tokens" --query-timeout "${qtimeout}s" --log-level warn \
    --max-connections-per-ip 0)
  dapi_wait_http "http://127.0.0.1:$port/healthz" 30
  deep=$((dialogs / 2 < 100000 ? dialogs / 2 : 100000))
  cursor=$(curl -fsS -H "Authorization: Bearer $READER_TOKEN" \
    "http://127.0.0.1:$port/data?limit=100&offset=$((deep - 100))" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("nextCursor") or "")')
  for shape in "first page|/data?limit=100" \
    "by language|/data?limit=100&language=DE" \
    "by customer|/data?limit=100&customerId=$run-c0007" \
    "offset $deep|/data?limit=100&offset=$deep" \
    "cursor at $deep|/data?limit=100&cursor=$cursor"; do
    path=${shape#*|}
    plan=$("$build/bench/dapi-bench-explain" "$MONGODB_URI" bench dialogs "${path#*\?}" \
      2>>"$state/logs/bench-explain.log") || plan='{"plan":"explain failed (logs/bench-explain.log)"}'
    db_idle
    log "B3 ${shape%%|*}: wrk -c$qconns ${qsecs}s GET $path"
    res=$(secs=$qsecs timeout=$qtimeout BENCH_TOKEN=$READER_TOKEN wrk_run "http://127.0.0.1:$port$path" "$DAPI_ROOT/bench/get.lua" "$qconns")
    db_idle
    ceil=$(page_ceiling bench "${path#*\?}")
    record b3.page "$res" "$plan" shape="${shape%%|*}" seconds="$qsecs" ceiling:="$ceil"
  done
  record b5.query kib="$(peak_kib "$pid")"
  b3_export "$port" "$pid"
  kill "$pid"
}

# ---- B3r: the first page over the reference implementation's data --------------------
# ref_fill URL N PREFIX: N consented one-message dialogs (EN and DE in turn, $text bytes of
# text) through the ingress's POST /batch, 50 dialogs (100 lines) a request.
ref_fill() {
  local body="$state/ref-batch.ndjson" b t
  t=$(head -c "$text" /dev/zero | tr '\0' x)
  for ((b = 0; b < $2; b += 50)); do
    awk -v p="$3" -v s="$b" -v e="$((b + 50 < $2 ? b + 50 : $2))" -v t="$t" 'BEGIN {
      for (i = s; i < e; i++) {
        printf "{\"customerId\":\"%s-c%d\",\"dialogId\":\"%s-d%d\",\"text\":\"%s\",\"language\":\"%s\"}\n", p, i % 1000, p, i, t, (i % 2 ? "DE" : "EN")
        printf "{\"dialogId\":\"%s-d%d\",\"consent\":true}\n", p, i
      } }' >"$body"
    curl -fsS -o /dev/null -H "Authorization: Bearer $WRITER_TOKEN" \
      -H 'Content-Type: application/x-ndjson' --data-binary @"$body" "$1/batch"
  done
}

# The issue's side-by-side measure: 5,000 consented one-message dialogs (the reference
# implementation's data), stored through POST /batch by an ingress and an ingestd of their
# own into database bench_ref; the first page at 1 and 4 connections, with the total by
# scan (auto on FerretDB) and by count, against the page's own find through the driver.
b3r() {
  local n=${BENCH_REF_DIALOGS:-5000} topic="bench.$run.ref" admin ingestd_pid i mode c
  local rsecs=${BENCH_REF_SECONDS:-20} by
  bench_topic "$topic"
  bench_ingress "$topic" bench-ingress-ref --master-key-file "$DATAAPI_MASTER_KEY_FILE" \
    --keys-uri "$MONGODB_URI"
  admin=$(dapi_free_port)
  ingestd_pid=$(spawn bench-ingestd-ref "$build/ingest/dataapi-ingestd" --kafka-brokers \
    "$KAFKA_BROKERS" --topic "$topic" --group "bench-ref-$run" --mongodb-uri "$MONGODB_URI" \
    --database bench_ref --admin-port "$admin" --log-level warn \
    --master-key-file "$DATAAPI_MASTER_KEY_FILE")
  log "B3r fill: $n consented one-message dialogs through POST /batch into database bench_ref"
  ref_fill "http://127.0.0.1:$B1_PORT" "$n" "$run-ref"
  for ((i = 0; i < 600; i++)); do
    [ "$(applied "http://127.0.0.1:$admin")" -ge $((2 * n)) ] && break
    sleep 0.5
  done
  log "B3r: $(applied "http://127.0.0.1:$admin") events applied; batch lines failed or rejected: $(batch_lines_failed "http://127.0.0.1:$B1_PORT")"
  kill "$B1_PID" "$ingestd_pid"
  for mode in auto count; do
    local qport qpid
    qport=$(dapi_free_port)
    qpid=$(spawn "bench-query-ref-$mode" "$build/query/dataapi-query" --port "$qport" \
      --mongodb-uri "$MONGODB_URI" --database bench_ref --tokens-file "$state/tokens" \
      --query-timeout 120s --log-level info --max-connections-per-ip 0 --total "$mode")
    dapi_wait_http "http://127.0.0.1:$qport/healthz" 30
    for c in 1 4; do
      db_idle
      log "B3r first page, --total $mode, wrk -c$c ${rsecs}s"
      by=$(grep -m1 '"page_total"' "$state/logs/bench-query-ref-$mode.log" |
        results_py get by 2>/dev/null || echo "?")
      record b3r.page "$(secs=$rsecs timeout=120 BENCH_TOKEN=$READER_TOKEN wrk_run \
        "http://127.0.0.1:$qport/data?limit=100" "$DAPI_ROOT/bench/get.lua" "$c")" \
        total="$mode" dialogs="$n" by="$by"
    done
    kill "$qpid"
  done
  db_idle
  record b3r.ceiling "$("$build/bench/dapi-bench-ceiling-page" "$MONGODB_URI" bench_ref \
    dialogs "limit=100" "$rsecs" 2>>"$state/logs/bench-ceiling-page.log" || echo '{"failed":true}')"
}

# b3_export PORT PID: GET /data/export of every consented dialog to a client that reads as
# fast as it can (curl into wc), against the export's own query through the driver with
# nothing rendered (dapi-bench-ceiling-export); the query service's resident memory before
# and at its peak during the stream.
b3_export() {
  local t0 t1 n ceil rss0 hwm scope="during the export"
  db_idle
  rss0=$(awk '/VmRSS/ {print $2}' "/proc/$2/status")
  # resets the peak (VmHWM) to the current size, where the kernel lets us
  echo 5 2>/dev/null >"/proc/$2/clear_refs" || scope="over all of B3"
  log "B3 export: GET /data/export, every consented dialog, read as fast as possible"
  t0=$(date +%s%N)
  n=$(curl -fsS -H "Authorization: Bearer $READER_TOKEN" "http://127.0.0.1:$1/data/export" | wc -l)
  t1=$(date +%s%N)
  hwm=$(peak_kib "$2")
  db_idle
  ceil=$("$build/bench/dapi-bench-ceiling-export" "$MONGODB_URI" bench dialogs "" \
    2>>"$state/logs/bench-ceiling-export.log") || ceil='{"failed":true}'
  record b3.export dialogs="$n" ns=$((t1 - t0)) rss_kib="$rss0" hwm_kib="$hwm" scope="$scope" \
    ceiling:="$ceil"
}

# ---- B4: freshness under half of B2's rate as background load --------------------------
b4() {
  local bg=${BENCH_B4_RATE:-$((B2_RATE / 2))}
  db_idle
  log "B4: probes 5/s for ${secs}s, background POSTs at $bg/s (half of B2's rate)"
  BENCH_TOKEN=$WRITER_TOKEN BENCH_PREFIX=$run-b4 BENCH_RATE=$bg BENCH_THREADS=1 \
    wrk -t1 -c16 -d"$((secs + 10))s" -s "$DAPI_ROOT/bench/post.lua" "$INGRESS_URL" >/dev/null &
  extra_pids+=($!)
  sleep 5 # the probes measure the steady state under that load, not its start
  record b4 "$("$build/bench/dapi-bench-freshness" "$INGRESS_URL" "$QUERY_URL" "$WRITER_TOKEN" \
    "$READER_TOKEN" 5 "$secs" 4 || true)" background="$bg"
}

B2_RATE=0
for step in ${BENCH_STEPS:-b1 b1b b1i b2 b3 b3r b4}; do "$step"; done
results_py table "$results" "DataAPI benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), database: $db" |
  tee "$build/bench-table.md"
