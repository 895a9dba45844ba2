#!/usr/bin/env bash
# DataAPI's local stack without Docker: KRaft Kafka (one broker, or a cluster of N on
# 127.0.0.1), a MongoDB-wire server (mongod if on PATH, MONGODB_URI if set, else FerretDB
# with SQLite), the topics, and the three programs. Every process is tracked by a pidfile
# under the state dir.
#
#   deploy/stack.sh up     [--state-dir DIR] [--random-ports] [--build-dir DIR] [--no-build]
#                          [--no-apps] [--partitions N] [--fresh] [--brokers N [--cuttable]]
#   deploy/stack.sh down   [--state-dir DIR]
#   deploy/stack.sh status [--state-dir DIR]
#   deploy/stack.sh start|stop  kafka|kafka-I|db|ingress|ingestd|query  [--state-dir DIR]
#   deploy/stack.sh kill        kafka-I|ingress|ingestd|query   (SIGKILL, for fault tests)
#   deploy/stack.sh cut|heal    kafka-N   (--cuttable: the last broker's links to the others)
#   deploy/stack.sh consumer-groups [--state-dir DIR] -- ARGS...  (Kafka's kafka-consumer-groups)
#   deploy/stack.sh topics [--state-dir DIR] -- ARGS...           (Kafka's kafka-topics)
#   deploy/stack.sh quorum [--state-dir DIR] -- ARGS...           (Kafka's kafka-metadata-quorum)
#
# --brokers N (N >= 3 for a real cluster): brokers kafka-1..kafka-N, each a KRaft broker
# and controller voter; topics replicated 3 times (min(N, 3)) with min.insync.replicas 2,
# unclean leader election off, internal topics replicated alike, a silent broker fenced
# after 3 s. `start|stop kafka` acts on every broker. DAPI_KAFKA_BROKER_PROPS (at `up`) adds
# broker settings, KEY=VALUE words (e.g. broker.session.timeout.ms=9000), kept for later
# restarts. --cuttable routes the links between the last broker and the others (its
# replication and quorum traffic, both ways) through dapi-relayd, so that `cut` partitions
# it from them while clients still reach it; for fault tests only.
# `up` writes DIR/stack.env (ports, URLs, brokers, MongoDB URI) for scripts and tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

cmd=${1:-}
[ -n "$cmd" ] || { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
shift
target=""
case "$cmd" in start|stop|kill|cut|heal) target=${1:-}; shift || true ;; esac
tool_args=()

state="$DAPI_ROOT/.run"
build=""
random_ports=0 do_build=1 apps=1 partitions=6 fresh=0 brokers="" cuttable=0
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
    --brokers) brokers=$2; shift 2 ;;
    --cuttable) cuttable=1; shift ;;
    *) dapi_die "unknown argument $1" ;;
  esac
done
if [ "$fresh" = 1 ] && [ -d "$state" ]; then
  # Stop whatever a previous run left behind, then start from nothing.
  for p in "$state"/pids/*.pid; do dapi_stop_pidfile "$p" 10; done
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

# ports.env keeps every port of the stack (and how many brokers), so that a restart finds
# them again. Broker I listens for clients on KAFKA_PORT_I (KAFKA_PORT is broker 1's), for
# its controller on CONTROLLER_PORT_I and, in a cluster, for the other brokers on
# BROKER_PORT_I; a cuttable cluster adds FROMCUT_PORT_I (the listener the last broker
# reaches the others on) and the relays' RELAY_* ports.
choose_ports() {
  if [ ! -f "$ports_env" ]; then
    local n=${brokers:-1} i
    [ "$n" -ge 1 ] 2>/dev/null || dapi_die "--brokers wants a number"
    [ "$cuttable" = 0 ] || [ "$n" -ge 2 ] || dapi_die "--cuttable needs --brokers 2 or more"
    pick() { if [ "$random_ports" = 1 ]; then dapi_free_port; else echo "$1"; fi; }
    {
      echo "BROKERS=$n"
      echo "CUTTABLE=$cuttable"
      echo "KAFKA_PORT=$(pick 9092)"
      echo "CONTROLLER_PORT=$(pick 9093)"
      for ((i = 2; i <= n; i++)); do
        echo "KAFKA_PORT_$i=$(pick $((9090 + 2 * i)))"
        echo "CONTROLLER_PORT_$i=$(pick $((9091 + 2 * i)))"
      done
      for ((i = 1; n > 1 && i <= n; i++)); do echo "BROKER_PORT_$i=$(pick $((9190 + 2 * i)))"; done
      for ((i = 1; cuttable && i <= n; i++)); do
        echo "FROMCUT_PORT_$i=$(pick $((9191 + 2 * i)))"
        echo "RELAY_OUT_BROKER_$i=$(pick $((9290 + 2 * i)))"
        echo "RELAY_OUT_CONTROLLER_$i=$(pick $((9291 + 2 * i)))"
      done
      if [ "$cuttable" = 1 ]; then
        echo "RELAY_IN_BROKER=$(pick 9390)"
        echo "RELAY_IN_CONTROLLER=$(pick 9391)"
      fi
      echo "DB_PORT=$(pick 27017)"
      echo "INGRESS_PORT=$(pick "${PORT:-8080}")"
      echo "QUERY_PORT=$(pick 8081)"
      echo "ADMIN_PORT=$(pick 8082)"
    } > "$ports_env"
  fi
  load_ports
  [ -z "$brokers" ] || [ "$brokers" = "$BROKERS" ] ||
    dapi_die "$state was made with $BROKERS broker(s): use --fresh for $brokers"
}

# Reads ports.env if there is one, writing nothing: what status, stop and kill need (a
# state dir never started is a one-broker stack with nothing running).
load_ports() {
  BROKERS=1 CUTTABLE=0
  [ -f "$ports_env" ] || return 0
  . "$ports_env"
  KAFKA_PORT_1=$KAFKA_PORT CONTROLLER_PORT_1=$CONTROLLER_PORT
}

port_of() { local v="$1_PORT_$2"; echo "${!v}"; } # port_of KAFKA|CONTROLLER|BROKER|FROMCUT I
relay_port() { local v="RELAY_$1"; echo "${!v}"; }  # relay_port IN_BROKER | OUT_CONTROLLER_I

broker_name() { if [ "$BROKERS" = 1 ]; then echo kafka; else echo "kafka-$1"; fi; }
broker_names() { local i; for ((i = 1; i <= BROKERS; i++)); do broker_name "$i"; done; }
bootstrap() { # every broker's client address, comma-separated
  local i out=""
  for ((i = 1; i <= BROKERS; i++)); do out+="${out:+,}127.0.0.1:$(port_of KAFKA "$i")"; done
  echo "$out"
}
replicas() { if [ "$BROKERS" -ge 3 ]; then echo 3; else echo "$BROKERS"; fi; }
min_isr() { if [ "$(replicas)" -ge 2 ]; then echo 2; else echo 1; fi; }

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
KAFKA_BROKERS=$(bootstrap)
KAFKA_BROKER_COUNT=$BROKERS
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

# The voters' controller addresses as broker $1 reaches them: in a cuttable cluster, the
# last broker and the others reach each other's controllers through the relays.
voters() {
  local i=$1 j port out=""
  for ((j = 1; j <= BROKERS; j++)); do
    port=$(port_of CONTROLLER "$j")
    if [ "$CUTTABLE" = 1 ] && [ "$i" = "$BROKERS" ] && [ "$j" != "$BROKERS" ]; then
      port=$(relay_port "OUT_CONTROLLER_$j")
    elif [ "$CUTTABLE" = 1 ] && [ "$i" != "$BROKERS" ] && [ "$j" = "$BROKERS" ]; then
      port=$(relay_port IN_CONTROLLER)
    fi
    out+="${out:+,}$j@127.0.0.1:$port"
  done
  echo "$out"
}

# server.properties of broker $1. Clients use PLAINTEXT; in a cluster the brokers replicate
# over BROKER, which a cuttable cluster's last broker is reached on through a relay; it
# reaches the others on FROMCUT, whose advertised addresses are relays too.
broker_properties() {
  local i=$1 k c b
  k=$(port_of KAFKA "$i") c=$(port_of CONTROLLER "$i")
  echo "process.roles=broker,controller"
  echo "node.id=$i"
  echo "controller.quorum.voters=$(voters "$i")"
  echo "controller.listener.names=CONTROLLER"
  echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,FROMCUT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [ "$BROKERS" = 1 ]; then
    echo "listeners=PLAINTEXT://127.0.0.1:$k,CONTROLLER://127.0.0.1:$c"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$k"
    echo "inter.broker.listener.name=PLAINTEXT"
  elif [ "$CUTTABLE" = 0 ]; then
    b=$(port_of BROKER "$i")
    echo "listeners=PLAINTEXT://127.0.0.1:$k,BROKER://127.0.0.1:$b,CONTROLLER://127.0.0.1:$c"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$k,BROKER://127.0.0.1:$b"
    echo "inter.broker.listener.name=BROKER"
  else
    local f adv_b adv_f ibl=BROKER
    b=$(port_of BROKER "$i") f=$(port_of FROMCUT "$i") adv_b=$b adv_f=$f
    if [ "$i" = "$BROKERS" ]; then adv_b=$(relay_port IN_BROKER) ibl=FROMCUT
    else adv_f=$(relay_port "OUT_BROKER_$i"); fi
    echo "listeners=PLAINTEXT://127.0.0.1:$k,BROKER://127.0.0.1:$b,FROMCUT://127.0.0.1:$f,CONTROLLER://127.0.0.1:$c"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$k,BROKER://127.0.0.1:$adv_b,FROMCUT://127.0.0.1:$adv_f"
    echo "inter.broker.listener.name=$ibl"
  fi
  cat <<EOP
log.dirs=$state/$(broker_name "$i")/data
num.partitions=$partitions
auto.create.topics.enable=false
default.replication.factor=$(replicas)
min.insync.replicas=$(min_isr)
unclean.leader.election.enable=false
offsets.topic.replication.factor=$(replicas)
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$(replicas)
transaction.state.log.min.isr=$(min_isr)
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
EOP
  # A broker that stops heartbeating is fenced after 3 s, not Kafka's 9 s: until then every
  # acks=all write to a partition it follows waits (docs/operations.md, "A Kafka cluster").
  if [ "$BROKERS" -gt 1 ]; then
    echo "broker.session.timeout.ms=3000"
    echo "broker.heartbeat.interval.ms=500"
  fi
  # Extra broker settings, kept from `up` so that a broker restarted later gets them too.
  cat "$state/kafka-extra.properties" 2>/dev/null || true
}

# One id for every broker of the stack, kept beside them. An id starting with "-" would be
# read as an option (1 in 64); Kafka's own Uuid.randomUuid draws again in that case, and so
# does this.
cluster_id() {
  [ -f "$state/kafka-cluster-id" ] || python3 -c '
import base64, uuid
while True:
    c = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not c.startswith("-"):
        print(c)
        break' > "$state/kafka-cluster-id"
  cat "$state/kafka-cluster-id"
}

# spawn_broker I: formats broker I's storage the first time and starts it.
spawn_broker() {
  local i=$1 name dir
  name=$(broker_name "$i") dir="$state/$(broker_name "$i")"
  running "$name" && return 0
  mkdir -p "$dir/data"
  broker_properties "$i" > "$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    dapi_kafka_java kafka.tools.StorageTool format -t "$(cluster_id)" -c "$dir/server.properties" \
      >>"$state/logs/$name.log" 2>&1
  fi
  dapi_log "starting $name on 127.0.0.1:$(port_of KAFKA "$i")"
  spawn "$name" "${DAPI_JAVA_BROKER[@]}" kafka.Kafka "$dir/server.properties"
}

# The relays of a cuttable cluster (tests/reliability/relayd.c, from the build's tests).
start_relay() {
  [ "$CUTTABLE" = 1 ] || return 0
  running relay && return 0
  local bin="$build/tests/reliability/dapi-relayd" n=$BROKERS j links=()
  [ -x "$bin" ] || dapi_die "--cuttable needs $bin (a build with the tests: deploy/test.sh)"
  links=("$(relay_port IN_BROKER):$(port_of BROKER "$n")"
         "$(relay_port IN_CONTROLLER):$(port_of CONTROLLER "$n")")
  for ((j = 1; j < n; j++)); do
    links+=("$(relay_port "OUT_BROKER_$j"):$(port_of FROMCUT "$j")"
            "$(relay_port "OUT_CONTROLLER_$j"):$(port_of CONTROLLER "$j")")
  done
  spawn relay "$bin" "${links[@]}"
}

# start_kafka [I]: broker I, or every broker; all are started before any is waited for (a
# cluster's brokers answer only once a majority of the voters runs).
start_kafka() {
  local i from=${1:-1} to=${1:-$BROKERS}
  start_relay
  for ((i = from; i <= to; i++)); do spawn_broker "$i"; done
  for ((i = from; i <= to; i++)); do
    dapi_wait_port 127.0.0.1 "$(port_of KAFKA "$i")" "$(cat "$state/pids/$(broker_name "$i").pid")" 90 ||
      { tail -20 "$state/logs/$(broker_name "$i").log" >&2; dapi_die "$(broker_name "$i") did not start"; }
  done
}

# Kafka's tools, through every broker (DAPI_KAFKA_TOOL_BOOTSTRAP: through those only; a broker
# cut off from the others answers with what it last knew).
kafka_tool() {
  local class=$1; shift
  dapi_kafka_java "$class" --bootstrap-server "${DAPI_KAFKA_TOOL_BOOTSTRAP:-$(bootstrap)}" "$@"
}

# The topics, replicated as the cluster allows; in a cluster, tried again until every
# broker has registered (a replication factor of 3 needs three).
create_topics() {
  local t i
  for t in "$topic" "$topic.dlq"; do
    for ((i = 0; ; i++)); do
      kafka_tool org.apache.kafka.tools.TopicCommand --create --if-not-exists --topic "$t" \
        --partitions "$partitions" --replication-factor "$(replicas)" \
        --config "min.insync.replicas=$(min_isr)" >>"$state/logs/kafka-admin.log" 2>&1 && break
      [ "$i" -lt 30 ] || { tail -5 "$state/logs/kafka-admin.log" >&2; dapi_die "cannot create topic $t"; }
      sleep 2
    done
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
  local brokers uri
  brokers=$(bootstrap) uri=$(mongodb_uri)
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

# broker_index NAME: I of kafka-I (a cluster's broker), else nothing.
broker_index() {
  local i=${1#kafka-}
  [ "$1" != "$i" ] && [ "$BROKERS" -gt 1 ] && [ "$i" -ge 1 ] 2>/dev/null && [ "$i" -le "$BROKERS" ] &&
    echo "$i"
}
# The pidfiles of a target: `kafka` is every broker.
pidfiles_of() {
  local name
  if [ "$1" = kafka ]; then for name in $(broker_names); do echo "$state/pids/$name.pid"; done
  else echo "$state/pids/$1.pid"; fi
}
check_target() {
  case "$1" in
    kafka|db|ingress|ingestd|query) return 0 ;;
    relay) [ "$CUTTABLE" = 1 ] && return 0 ;;
    *) [ -n "$(broker_index "$1")" ] && return 0 ;;
  esac
  dapi_die "$cmd what? kafka$([ "$BROKERS" -gt 1 ] && echo "|kafka-1..kafka-$BROKERS")|db|ingress|ingestd|query"
}

case "$cmd" in
  up)
    choose_ports
    if [ "$do_build" = 1 ]; then
      "$here/install.sh" --run
      build_project
    fi
    if [ -n "${DAPI_KAFKA_BROKER_PROPS:-}" ]; then
      printf '%s\n' $DAPI_KAFKA_BROKER_PROPS > "$state/kafka-extra.properties"
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
    dapi_stop_pidfiles 20 "$state/pids/ingress.pid" "$state/pids/query.pid" "$state/pids/ingestd.pid"
    dapi_stop_pidfiles 30 "$state"/pids/kafka*.pid
    dapi_stop_pidfiles 10 "$state/pids/relay.pid" "$state/pids/db.pid"
    dapi_log "down"
    # A server that a sanitizer stopped or reported on leaves its report here.
    if ls "$state"/logs/asan.* "$state"/logs/ubsan.* >/dev/null 2>&1; then
      dapi_log "sanitizer reports:"; cat "$state"/logs/asan.* "$state"/logs/ubsan.* 2>/dev/null >&2 || true
      exit 3
    fi
    ;;
  status)
    load_ports
    for p in $(broker_names) $([ "$CUTTABLE" = 1 ] && echo relay) db ingestd ingress query; do
      if running "$p"; then echo "$p running (pid $(cat "$state/pids/$p.pid"))"; else echo "$p stopped"; fi
    done
    ;;
  start)
    choose_ports
    check_target "$target"
    case "$target" in
      kafka) start_kafka ;;
      kafka-*) start_kafka "$(broker_index "$target")" ;;
      relay) start_relay ;;
      db) start_db ;;
      *) make_tokens; make_master_key; start_app "$target" ;;
    esac ;;
  stop)
    load_ports
    check_target "$target"
    # shellcheck disable=SC2046
    dapi_stop_pidfiles 30 $(pidfiles_of "$target") ;;
  kill)
    load_ports
    check_target "$target"
    for f in $(pidfiles_of "$target"); do
      [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    done ;;
  cut|heal)
    load_ports
    [ "$CUTTABLE" = 1 ] && [ "$target" = "kafka-$BROKERS" ] ||
      dapi_die "$cmd kafka-$BROKERS: only the last broker of a cluster made with --cuttable"
    running relay || dapi_die "the relays do not run: start relay"
    kill "-$([ "$cmd" = cut ] && echo USR1 || echo USR2)" "$(cat "$state/pids/relay.pid")"
    dapi_log "$target: links to the other brokers $([ "$cmd" = cut ] && echo cut || echo healed)" ;;
  consumer-groups)
    choose_ports
    kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "${tool_args[@]}" ;;
  topics)
    choose_ports
    kafka_tool org.apache.kafka.tools.TopicCommand "${tool_args[@]}" ;;
  quorum)
    choose_ports
    kafka_tool org.apache.kafka.tools.MetadataQuorumCommand "${tool_args[@]}" ;;
  *) dapi_die "unknown command $cmd" ;;
esac
