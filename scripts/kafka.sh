#!/usr/bin/env bash
# Local/CI Apache Kafka 4.0.1 broker for Vigil: a single KRaft node in combined
# (broker+controller) mode, run straight from Maven Central jars. No Docker, no
# Kafka tarball, no ZooKeeper.
#
# Usage: scripts/kafka.sh up|down|restart|status|logs|reset
#
#   up       fetch jars if needed, format storage once, start, wait until serving
#            (idempotent: an already running healthy broker is left alone)
#   down     SIGTERM, wait up to 30 s, then SIGKILL (idempotent)
#   restart  down + up, keeping the data
#   status   print running/stopped; exit 0 if running and serving, 1 otherwise
#   logs     tail -F the broker log (LINES=n for more history)
#   reset    down + delete the data dir (topics, offsets, cluster id)
#
# Where things live:
#   jars   ${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}/kafka-4.0.1/libs
#          (filled by `mvn dependency:copy-dependencies` on deploy/kafka/pom.xml;
#          a marker file holding the pom's sha256 says the copy is complete)
#   state  ${VIGIL_STATE_DIR:-$HOME/.local/state/vigil}/kafka
#          data/ server.properties log4j2.properties kafka.pid kafka.log(.1)
#
# Environment:
#   VIGIL_KAFKA_PORT             client (PLAINTEXT) port, default 9092
#   VIGIL_KAFKA_CONTROLLER_PORT  KRaft controller port, default 9093
#   VIGIL_KAFKA_HEAP             max heap, default 768m
#   VIGIL_KAFKA_WAIT             seconds to wait for readiness, default 90
#   VIGIL_KAFKA_JAVA_OPTS        extra JVM options (word-split)
#   JAVA                         java binary, default `java` on PATH (needs 17+)
#
# Clients: bootstrap servers = 127.0.0.1:${VIGIL_KAFKA_PORT:-9092}
set -euo pipefail

readonly KAFKA_VERSION=4.0.1
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR REPO_ROOT
readonly POM="$REPO_ROOT/deploy/kafka/pom.xml"
readonly LOG4J_SRC="$REPO_ROOT/deploy/kafka/log4j2.properties"

readonly CACHE_DIR="${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}/kafka-$KAFKA_VERSION"
readonly LIBS="$CACHE_DIR/libs"
readonly MARKER="$CACHE_DIR/fetch-complete"
readonly STATE="${VIGIL_STATE_DIR:-$HOME/.local/state/vigil}/kafka"
readonly DATA="$STATE/data"
readonly PROPS="$STATE/server.properties"
readonly LOG4J="$STATE/log4j2.properties"
readonly PIDFILE="$STATE/kafka.pid"
readonly LOG="$STATE/kafka.log"
readonly FORMAT_INFO="$STATE/format.info"

readonly PORT="${VIGIL_KAFKA_PORT:-9092}"
readonly CPORT="${VIGIL_KAFKA_CONTROLLER_PORT:-9093}"
readonly HEAP="${VIGIL_KAFKA_HEAP:-768m}"
readonly WAIT="${VIGIL_KAFKA_WAIT:-90}"
readonly JAVA="${JAVA:-java}"
readonly STOP_WAIT=30
# printed by kafka.server.KafkaRaftServer once the broker and controller are up
readonly READY_LINE='Kafka Server started'

usage() { echo "usage: $(basename "$0") up|down|restart|status|logs|reset" >&2; }
log() { echo "kafka: $*" >&2; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

# --- helpers -----------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
}

alive() {  # process exists and is not a zombie waiting to be reaped
  kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

cmdline_of() {
  if [[ -r /proc/$1/cmdline ]]; then tr '\0' ' ' <"/proc/$1/cmdline"; else ps -ww -o args= -p "$1"; fi
}

# pid of our broker if it is alive, else nothing (and a stale pid file is removed)
broker_pid() {
  [[ -f $PIDFILE ]] || return 0
  local pid
  pid=$(<"$PIDFILE")
  if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" \
     && cmdline_of "$pid" | grep -qF -- "$PROPS"; then
    echo "$pid"
  else
    rm -f "$PIDFILE"
  fi
}

running_port() {  # client port the running broker was started with
  sed -n 's|^listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\),.*|\1|p' "$PROPS" 2>/dev/null || true
}

serving() {  # broker fully started and listening
  port_open "$PORT" && [[ -f $LOG ]] && grep -qF "$READY_LINE" "$LOG"
}

print_log_tail() {
  if [[ -s $LOG ]]; then
    echo "---- last 40 lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2
    echo "---- end of log ----" >&2
  else
    echo "(no broker log at $LOG)" >&2
  fi
}

take_lock() {
  mkdir -p "$STATE"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE/.lock"
    flock -w 300 9 || die "another kafka.sh is still running (lock $STATE/.lock)"
  fi
}

check_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Kafka 4.0 needs Java 17+; set JAVA=...)"
  local v
  v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [[ -n $v && $v -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, found: $("$JAVA" -version 2>&1 | head -n1)"
}

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

# the marker holds the pom's sha256 on line 1, then the name of every fetched jar
libs_complete() {
  [[ -f $MARKER ]] || return 1
  local first=1 line
  while IFS= read -r line; do
    if ((first)); then
      [[ $line == "$(pom_sum)" ]] || return 1
      first=0
    else
      [[ -f $LIBS/$line ]] || return 1
    fi
  done <"$MARKER"
  ((!first)) && [[ -f $LIBS/kafka_2.13-$KAFKA_VERSION.jar ]]
}

fetch_jars() {
  [[ -f $POM ]] || die "missing $POM"
  if libs_complete; then
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      log "mvn not found; installing Debian's maven package"
      if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null; }; then
        die "could not install maven"
      fi
    else
      die "mvn (Maven 3) is needed to fetch the Kafka jars; install it and retry"
    fi
  fi
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS ..."
  mkdir -p "$CACHE_DIR"
  local tmp="$CACHE_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE_DIR/fetch.log" 2>&1; then
    tail -n 40 "$CACHE_DIR/fetch.log" >&2 || true
    rm -rf "$tmp"
    die "maven fetch failed (full output: $CACHE_DIR/fetch.log)"
  fi
  local j
  for j in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar" \
           "kafka-server-$KAFKA_VERSION.jar" "kafka-raft-$KAFKA_VERSION.jar"; do
    [[ -f $tmp/$j ]] || { rm -rf "$tmp"; die "maven fetch incomplete: $j missing"; }
  done
  if ! { compgen -G "$tmp/log4j-core-*.jar" && compgen -G "$tmp/log4j-slf4j-impl-*.jar"; } >/dev/null; then
    rm -rf "$tmp"
    die "maven fetch incomplete: log4j binding missing"
  fi
  rm -f "$MARKER"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  { pom_sum; (cd "$LIBS" && ls -1 -- *.jar); } >"$MARKER.tmp"
  mv "$MARKER.tmp" "$MARKER"
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

write_config() {
  mkdir -p "$STATE" "$DATA"
  cp "$LOG4J_SRC" "$LOG4J"
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh on every 'up' -- edits here are overwritten.
# Single-node KRaft, combined broker+controller, for local dev and CI only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA

# one node: every internal topic has a single replica
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1

# dev/test friendliness
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=3
group.initial.rebalance.delay.ms=0
# after a restart the controller keeps the previous broker incarnation registered
# until its session expires (default 9 s), delaying startup by that much; a shorter
# session makes 'restart' quick. Heartbeats stay in-process (combined mode).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000

# keep the disk footprint small
log.retention.hours=24
log.retention.bytes=268435456
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
EOF
}

check_format_ports() {
  # the controller's own address is baked into the formatted voter set
  [[ -f $DATA/meta.properties && -f $FORMAT_INFO ]] || return 0
  local fport
  fport=$(sed -n 's/^controller_port=//p' "$FORMAT_INFO")
  if [[ -n $fport && $fport != "$CPORT" ]]; then
    die "data in $DATA was formatted for controller port $fport, not $CPORT; \
run '$0 reset' (deletes the data) or set VIGIL_KAFKA_CONTROLLER_PORT=$fport"
  fi
}

format_storage() {
  if [[ -f $DATA/meta.properties ]]; then
    check_format_ports
    return 0
  fi
  local cid out
  cid=$("$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not generate a cluster id (got '$cid')"
  log "formatting storage in $DATA (cluster id $cid)"
  if ! out=$("$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J" kafka.tools.StorageTool \
            format --standalone -t "$cid" -c "$PROPS" 2>&1); then
    echo "$out" >&2
    die "kafka storage format failed"
  fi
  printf 'cluster_id=%s\ncontroller_port=%s\n' "$cid" "$CPORT" >"$FORMAT_INFO"
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + WAIT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      rm -f "$PIDFILE"
      print_log_tail
      die "broker process $pid exited during startup"
    fi
    if serving; then
      return 0
    fi
    sleep 0.5
  done
  print_log_tail
  log "broker (pid $pid) not serving on 127.0.0.1:$PORT after ${WAIT}s; stopping it"
  stop_pid "$pid"
  die "kafka did not come up within ${WAIT}s (VIGIL_KAFKA_WAIT); see the log above and $LOG"
}

# --- commands ----------------------------------------------------------------

cmd_up() {
  take_lock
  local pid
  pid=$(broker_pid)
  if [[ -n $pid ]]; then
    local rport
    rport=$(running_port)
    if [[ -n $rport && $rport != "$PORT" ]]; then
      die "our broker (pid $pid) is already running on port $rport, not $PORT; \
run '$0 down' first or set VIGIL_KAFKA_PORT=$rport"
    fi
    if serving; then
      log "already running (pid $pid), bootstrap 127.0.0.1:$PORT"
      return 0
    fi
    log "broker pid $pid is running but not serving yet; waiting up to ${WAIT}s"
    wait_ready "$pid"
    log "up (pid $pid), bootstrap 127.0.0.1:$PORT"
    return 0
  fi

  local p
  for p in "$PORT" "$CPORT"; do
    if port_open "$p"; then
      echo "kafka: ERROR: port 127.0.0.1:$p is already in use by something that is not this broker:" >&2
      who_listens "$p" >&2
      die "stop it, or pick free ports with VIGIL_KAFKA_PORT=... / VIGIL_KAFKA_CONTROLLER_PORT=..."
    fi
  done

  check_java
  fetch_jars
  write_config
  format_storage

  [[ -f $LOG ]] && mv -f "$LOG" "$LOG.1"
  local -a jvm=(-Xms256m "-Xmx$HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
                -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J")
  if [[ -n ${VIGIL_KAFKA_JAVA_OPTS:-} ]]; then
    local -a extra
    read -r -a extra <<<"$VIGIL_KAFKA_JAVA_OPTS"
    jvm+=("${extra[@]}")
  fi
  rm -f "$PIDFILE"
  # setsid + nohup: own session, survives the calling shell; `exec` keeps the pid
  # written by the inner bash equal to the java pid. fd 9 (our lock) is closed.
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
  (
    exec 9>&-
    cd "$STATE"
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
      "$JAVA" "${jvm[@]}" -cp "$LIBS/*" kafka.Kafka "$PROPS" </dev/null >>"$LOG" 2>&1 &
  )
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $PIDFILE ]] && break
    sleep 0.1
  done
  [[ -s $PIDFILE ]] || die "broker did not start (no pid file)"
  pid=$(<"$PIDFILE")
  log "started broker pid $pid; waiting up to ${WAIT}s for it to serve on 127.0.0.1:$PORT"
  wait_ready "$pid"
  log "up (pid $pid), bootstrap 127.0.0.1:$PORT, log $LOG"
}

stop_pid() {  # SIGTERM, wait up to STOP_WAIT, then SIGKILL
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_WAIT))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    log "still alive after ${STOP_WAIT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}

cmd_down() {
  take_lock
  local pid
  pid=$(broker_pid)
  if [[ -z $pid ]]; then
    log "not running"
    return 0
  fi
  log "stopping broker pid $pid (SIGTERM, up to ${STOP_WAIT}s)"
  stop_pid "$pid"
  log "stopped"
}

cmd_status() {
  local pid
  pid=$(broker_pid)
  if [[ -n $pid ]] && serving; then
    echo "kafka: running (pid $pid), bootstrap 127.0.0.1:$PORT"
    return 0
  elif [[ -n $pid ]]; then
    echo "kafka: running (pid $pid) on port $(running_port) but not serving on 127.0.0.1:$PORT (starting, unhealthy, or other port)"
    return 1
  fi
  echo "kafka: stopped"
  return 1
}

cmd_logs() {
  [[ -f $LOG ]] || die "no log yet at $LOG"
  exec tail -n "${LINES:-100}" -F "$LOG"
}

cmd_reset() {
  cmd_down
  log "deleting $DATA"
  rm -rf "$DATA" "$FORMAT_INFO"
}

main() {
  [[ $# -eq 1 ]] || { usage; exit 2; }
  case $1 in
    up) cmd_up ;;
    down) cmd_down ;;
    restart) check_format_ports; cmd_down; cmd_up ;;
    status) cmd_status ;;
    logs) cmd_logs ;;
    reset) cmd_reset ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
