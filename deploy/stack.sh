#!/usr/bin/env bash
# DataAPI's local stack without Docker: a single-node KRaft Kafka broker, a MongoDB-wire
# server (mongod if on PATH, MONGODB_URI if set, else FerretDB with SQLite), the topics,
# and the three programs. Every process is tracked by a pidfile under the state dir.
#
#   deploy/stack.sh up     [--state-dir DIR] [--random-ports] [--build-dir DIR] [--no-build]
#                          [--no-apps] [--partitions N] [--fresh]
#   deploy/stack.sh down   [--state-dir DIR]
#   deploy/stack.sh status [--state-dir DIR]
#   deploy/stack.sh start|stop  kafka|db|ingress|ingestd|query  [--state-dir DIR]
#   deploy/stack.sh kill        ingress|ingestd|query           (SIGKILL, for fault tests)
#   deploy/stack.sh consumer-groups [--state-dir DIR] -- ARGS...  (Kafka's kafka-consumer-groups)
#   deploy/stack.sh topics [--state-dir DIR] -- ARGS...           (Kafka's kafka-topics)
#
# `up` writes DIR/stack.env (ports, URLs, brokers, MongoDB URI) for scripts and tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

cmd=${1:-}
[ -n "$cmd" ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
shift
target=""
case "$cmd" in start|stop|kill) target=${1:-}; shift || true ;; esac
tool_args=()

state="$DAPI_ROOT/.run"
build=""
random_ports=0 do_build=1 apps=1 partitions=6 fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --random-ports) random_ports=1; shift ;;
    --no-build) do_build=0; shift ;;
    --no-apps) apps=0; shift ;;
    --fresh) fresh=1; shift ;;
    --) shift; tool_args=("$@"); break ;;
    --partitions) partitions=$2; shift 2 ;;
    *) dapi_die "unknown argument $1" ;;
  esac
done
if [ "$fresh" = 1 ] && [ -d "$state" ]; then
  # Stop whatever a previous run left behind, then start from nothing.
  for p in ingress query ingestd kafka db; do dapi_stop_pidfile "$state/pids/$p.pid" 10; done
  rm -rf "$state"
fi
mkdir -p "$state"
state=$(cd "$state" && pwd)
# The build a stack runs is remembered, so that `start` restarts the same binaries.
if [ -z "$build" ]; then
  if [ -f "$state/build-dir" ]; then build=$(cat "$state/build-dir"); else build="$DAPI_ROOT/build"; fi
fi
build=$(mkdir -p "$build" && cd "$build" && pwd)
echo "$build" > "$state/build-dir"
mkdir -p "$state/pids" "$state/logs"
ports_env="$state/ports.env"
topic=${KAFKA_TOPIC:-dataapi.events}

choose_ports() {
  if [ -f "$ports_env" ]; then . "$ports_env"; return; fi
  if [ "$random_ports" = 1 ]; then
    KAFKA_PORT=$(dapi_free_port); CONTROLLER_PORT=$(dapi_free_port); DB_PORT=$(dapi_free_port)
    INGRESS_PORT=$(dapi_free_port); QUERY_PORT=$(dapi_free_port); ADMIN_PORT=$(dapi_free_port)
  else
    KAFKA_PORT=9092 CONTROLLER_PORT=9093 DB_PORT=27017 INGRESS_PORT=${PORT:-8080} QUERY_PORT=8081
    ADMIN_PORT=8082
  fi
  cat > "$ports_env" <<EOV
KAFKA_PORT=$KAFKA_PORT
CONTROLLER_PORT=$CONTROLLER_PORT
DB_PORT=$DB_PORT
INGRESS_PORT=$INGRESS_PORT
QUERY_PORT=$QUERY_PORT
ADMIN_PORT=$ADMIN_PORT
EOV
}

mongodb_uri() {
  if [ -n "${MONGODB_URI:-}" ]; then echo "$MONGODB_URI"; else echo "mongodb://127.0.0.1:$DB_PORT/"; fi
}

# Development tokens: random, stored hashed in tokens for the services, in plain text only in
# dev-tokens.env (readable by this user alone) for the person and the tests using the stack.
# A state directory from before the privacy role gets a privacy token beside its others.
make_tokens() {
  local role token var
  (umask 077
   [ -f "$state/tokens" ] || printf '# role hash (sha256 of the token)\n' > "$state/tokens"
   touch "$state/dev-tokens.env"
   for role in writer reader privacy; do
     var=$(tr a-z A-Z <<<"$role")_TOKEN
     grep -q "^$var=" "$state/dev-tokens.env" && continue
     token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
     printf '%s %s\n' "$role" "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" >> "$state/tokens"
     printf '%s=%s\n' "$var" "$token" >> "$state/dev-tokens.env"
   done)
}

# The master key that wraps the dialogs' data keys (sealing): random, readable by this user
# alone, kept across restarts (a new one could not unwrap the keys already stored).
make_master_key() {
  [ -f "$state/master-keys" ] && return 0
  (umask 077
   printf '# <id> <64 hex digits>; the last line wraps new data keys\nlocal-1 %s\n' \
     "$(python3 -c 'import secrets; print(secrets.token_hex(32))')" > "$state/master-keys")
}

write_env() {
  cat > "$state/stack.env" <<EOV
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
KAFKA_TOPIC=$topic
MONGODB_URI=$(mongodb_uri)
INGRESS_URL=http://127.0.0.1:$INGRESS_PORT
QUERY_URL=http://127.0.0.1:$QUERY_PORT
INGESTD_ADMIN_URL=http://127.0.0.1:$ADMIN_PORT
STATE_DIR=$state
BUILD_DIR=$build
DATAAPI_MASTER_KEY_FILE=$state/master-keys
EOV
  cat "$state/dev-tokens.env" >> "$state/stack.env"
}

running() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }

# Starts a command in the background as tracked process $1, logging to logs/$1.log.
spawn() {
  local name=$1; shift
  nohup "$@" >>"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! > "$state/pids/$name.pid"
}

start_kafka() {
  running kafka && return 0
  local dir="$state/kafka" props="$state/kafka/server.properties"
  mkdir -p "$dir/data"
  cat > "$props" <<EOP
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=$partitions
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
EOP
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster
    # An id starting with "-" would be read as an option (1 in 64); Kafka's own
    # Uuid.randomUuid draws again in that case, and so does this.
    cluster=$(python3 -c '
import base64, uuid
while True:
    c = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not c.startswith("-"):
        print(c)
        break')
    dapi_kafka_java kafka.tools.StorageTool format -t "$cluster" -c "$props" >>"$state/logs/kafka.log" 2>&1
  fi
  dapi_log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  spawn kafka "${DAPI_JAVA_BROKER[@]}" kafka.Kafka "$props"
  dapi_wait_port 127.0.0.1 "$KAFKA_PORT" "$(cat "$state/pids/kafka.pid")" 90 ||
    { tail -20 "$state/logs/kafka.log" >&2; dapi_die "Kafka did not start"; }
}

create_topics() {
  local t
  for t in "$topic" "$topic.dlq"; do
    dapi_kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
      --create --if-not-exists --topic "$t" --partitions "$partitions" --replication-factor 1 \
      >>"$state/logs/kafka-admin.log" 2>&1 || { tail -5 "$state/logs/kafka-admin.log" >&2; dapi_die "cannot create topic $t"; }
  done
}

start_db() {
  [ -n "${MONGODB_URI:-}" ] && return 0
  running db && return 0
  mkdir -p "$state/db"
  if command -v mongod >/dev/null; then
    dapi_log "starting mongod on 127.0.0.1:$DB_PORT"
    spawn db mongod --bind_ip 127.0.0.1 --port "$DB_PORT" --dbpath "$state/db" --quiet
  else
    [ -x "$DAPI_FERRETDB_BIN" ] || dapi_die "FerretDB is not built: run deploy/install.sh"
    dapi_log "starting FerretDB (SQLite) on 127.0.0.1:$DB_PORT"
    spawn db "$DAPI_FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$state/db/" \
      --listen-addr="127.0.0.1:$DB_PORT" --telemetry=disable --debug-addr=- \
      --state-dir="$state/db" --log-level=warn
  fi
  dapi_wait_port 127.0.0.1 "$DB_PORT" "$(cat "$state/pids/db.pid")" 30 ||
    { tail -20 "$state/logs/db.log" >&2; dapi_die "the database did not start"; }
}

app_bin() { echo "$build/$1/dataapi-$2"; }

start_app() {
  local name=$1
  running "$name" && return 0
  local brokers="127.0.0.1:$KAFKA_PORT" uri
  uri=$(mongodb_uri)
  # Sanitizer reports of the servers land next to their logs, where `down` looks for them.
  local asan=${ASAN_OPTIONS:-} ubsan=${UBSAN_OPTIONS:-print_stacktrace=1}
  export ASAN_OPTIONS="${asan:+$asan:}log_path=$state/logs/asan.$name"
  export UBSAN_OPTIONS="${ubsan:+$ubsan:}log_path=$state/logs/ubsan.$name"
  case "$name" in
    ingress)
      # shellcheck disable=SC2086
      spawn ingress "$(app_bin ingest ingress)" --port "$INGRESS_PORT" --kafka-brokers "$brokers" \
        --topic "$topic" --tokens-file "$state/tokens" --master-key-file "$state/master-keys" \
        --keys-uri "$uri" ${DAPI_INGRESS_ARGS:-}
      dapi_wait_http "http://127.0.0.1:$INGRESS_PORT/healthz" 30 || dapi_die "ingress did not start" ;;
    query)
      # shellcheck disable=SC2086
      spawn query "$(app_bin query query)" --port "$QUERY_PORT" --mongodb-uri "$uri" \
        --tokens-file "$state/tokens" ${DAPI_QUERY_ARGS:-}
      dapi_wait_http "http://127.0.0.1:$QUERY_PORT/healthz" 30 || dapi_die "query did not start" ;;
    ingestd)
      # shellcheck disable=SC2086
      spawn ingestd "$(app_bin ingest ingestd)" --kafka-brokers "$brokers" --topic "$topic" \
        --mongodb-uri "$uri" --admin-port "$ADMIN_PORT" --master-key-file "$state/master-keys" \
        ${DAPI_INGESTD_ARGS:-}
      dapi_wait_http "http://127.0.0.1:$ADMIN_PORT/healthz" 60 ||
        { tail -5 "$state/logs/ingestd.log" >&2; dapi_die "ingestd did not start"; } ;;
    *) dapi_die "unknown program $name" ;;
  esac
}

build_project() {
  dapi_log "building DataAPI into $build"
  cmake -S "$DAPI_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build" >/dev/null
}

case "$cmd" in
  up)
    choose_ports
    if [ "$do_build" = 1 ]; then
      "$here/install.sh" --run
      build_project
    fi
    start_db
    start_kafka
    create_topics
    make_tokens
    make_master_key
    write_env
    if [ "$apps" = 1 ]; then
      start_app ingestd
      start_app ingress
      start_app query
    fi
    dapi_log "up; environment and dev tokens in $state/stack.env (load them: . $state/stack.env)"
    cat "$state/stack.env"
    ;;
  down)
    for p in ingress query ingestd kafka db; do dapi_stop_pidfile "$state/pids/$p.pid" 20; done
    dapi_log "down"
    # A server that a sanitizer stopped or reported on leaves its report here.
    if ls "$state"/logs/asan.* "$state"/logs/ubsan.* >/dev/null 2>&1; then
      dapi_log "sanitizer reports:"; cat "$state"/logs/asan.* "$state"/logs/ubsan.* 2>/dev/null >&2 || true
      exit 3
    fi
    ;;
  status)
    for p in kafka db ingestd ingress query; do
      if running "$p"; then echo "$p running (pid $(cat "$state/pids/$p.pid"))"; else echo "$p stopped"; fi
    done
    ;;
  start)
    choose_ports
    case "$target" in
      kafka) start_kafka ;;
      db) start_db ;;
      ingress|ingestd|query) make_tokens; make_master_key; start_app "$target" ;;
      *) dapi_die "start what? kafka|db|ingress|ingestd|query" ;;
    esac ;;
  stop)
    [ -n "$target" ] || dapi_die "stop what? kafka|db|ingress|ingestd|query"
    dapi_stop_pidfile "$state/pids/$target.pid" 20 ;;
  kill)
    [ -f "$state/pids/$target.pid" ] && kill -KILL "$(cat "$state/pids/$target.pid")" 2>/dev/null || true
    rm -f "$state/pids/$target.pid" ;;
  consumer-groups)
    choose_ports
    dapi_kafka_java org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" "${tool_args[@]}" ;;
  topics)
    choose_ports
    dapi_kafka_java org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" "${tool_args[@]}" ;;
  *) dapi_die "unknown command $cmd" ;;
esac
