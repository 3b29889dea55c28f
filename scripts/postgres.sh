#!/usr/bin/env bash
# Local/CI PostgreSQL for Vigil: a private cluster (not Debian's 'main' one) on
# 127.0.0.1, with role vigil/vigil and databases vigil + vigil_test.
#
# Usage: scripts/postgres.sh up|down|restart|status|logs|reset
#
#   up       install Debian's postgresql if missing, initdb once, start, wait until
#            ready, (re)ensure role and databases (idempotent)
#   down     pg_ctl stop -m fast (idempotent)
#   restart  down + up, keeping the data
#   status   print running/stopped; exit 0 if accepting connections, 1 otherwise
#   logs     tail -F the server log (LINES=n for more history)
#   reset    down + delete the whole cluster directory
#
# Where the cluster lives (the "cluster dir": data/, run/ socket dir, postgresql.log):
#   * VIGIL_PG_DIR if set;
#   * as a normal user: ${VIGIL_STATE_DIR:-$HOME/.local/state/vigil}/postgres, and the
#     server runs as you (no sudo needed once the package is installed);
#   * as root: PostgreSQL refuses to run as root, so the server runs as the `postgres`
#     OS user (via runuser). It must be able to reach the cluster dir, which rules out
#     anything under /root (mode 700). So: ${VIGIL_STATE_DIR:-$HOME/.local/state/vigil}/postgres
#     if the postgres user can traverse ${VIGIL_STATE_DIR:-...}, otherwise
#     /var/tmp/vigil/postgres. With the defaults, root therefore uses /var/tmp/vigil/postgres.
#   `scripts/postgres.sh status` prints the directory in use.
#
# Installing: when no initdb exists under /usr/lib/postgresql/*/bin, runs (as root, or
# via passwordless sudo) apt-get update && apt-get install -y postgresql. Before that it
# drops /etc/postgresql-common/createcluster.d/vigil.conf with create_main_cluster = false,
# so Debian does not create (and start) its own 'main' cluster on port 5432 that would
# take our port. A Debian cluster that already existed is never touched: if it (or
# anything else) holds our port, `up` fails and tells you to set VIGIL_PG_PORT.
#
# Environment:
#   VIGIL_PG_PORT   TCP port on 127.0.0.1, default 5432
#   VIGIL_PG_WAIT   seconds to wait for readiness, default 60
#   VIGIL_PG_DIR    cluster dir override (see above)
#
# Auth: scram-sha-256 password over TCP from 127.0.0.1/::1; over the unix socket in
# <cluster dir>/run (only reachable by the cluster's owner and root) trust, used by this
# script as superuser `postgres`. The settings trade crash safety for speed
# (fsync=off, synchronous_commit=off, full_page_writes=off): after an OS crash or
# power loss, `reset`. A plain server crash or kill -9 is fine.
#
# Clients: postgresql://vigil:vigil@127.0.0.1:${VIGIL_PG_PORT:-5432}/vigil (and /vigil_test)
set -euo pipefail

readonly PORT="${VIGIL_PG_PORT:-5432}"
readonly WAIT="${VIGIL_PG_WAIT:-60}"
readonly STATE_BASE="${VIGIL_STATE_DIR:-$HOME/.local/state/vigil}"
readonly ROOT_FALLBACK_DIR=/var/tmp/vigil/postgres
readonly APP_USER=vigil APP_PASSWORD=vigil
readonly APP_DBS=(vigil vigil_test)

usage() { echo "usage: $(basename "$0") up|down|restart|status|logs|reset" >&2; }
log() { echo "postgres: $*" >&2; }
die() { echo "postgres: ERROR: $*" >&2; exit 1; }

# --- helpers -----------------------------------------------------------------

is_root() { [[ $EUID -eq 0 ]]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
}

# run a command as the cluster owner: `postgres` when we are root, else ourselves
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

find_bindir() {  # highest installed major version, or nothing
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
    if [[ -z $best ]] || (( ${d//[!0-9]/} > ${best//[!0-9]/} )); then best=$d; fi
  done
  echo "$best"
}

install_postgres() {
  local -a sudo=()
  if ! is_root; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; \
install them (Debian/Ubuntu: sudo apt-get install -y postgresql) and retry"
    fi
  fi
  command -v apt-get >/dev/null 2>&1 \
    || die "PostgreSQL not installed and apt-get not available; install PostgreSQL server binaries"
  log "PostgreSQL not installed; installing Debian's postgresql package"
  # keep Debian from creating/starting its own 'main' cluster on 5432
  "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false  # scripts/postgres.sh (Vigil) runs its own cluster" \
    | "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/vigil.conf >/dev/null
  "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        postgresql >/dev/null; then
    die "apt-get install postgresql failed"
  fi
  # belt and braces: a 'main' cluster created anyway must not sit on our port
  if command -v pg_lsclusters >/dev/null 2>&1; then
    local ver name port status
    while read -r ver name port status _; do
      if [[ $port == "$PORT" && $status == online* ]]; then
        log "stopping freshly installed Debian cluster $ver/$name on port $port (and disabling its autostart)"
        "${sudo[@]}" pg_ctlcluster "$ver" "$name" stop || true
        echo manual | "${sudo[@]}" tee "/etc/postgresql/$ver/$name/start.conf" >/dev/null || true
      fi
    done < <(pg_lsclusters -h 2>/dev/null || true)
  fi
  [[ -n $(find_bindir) ]] || die "postgresql installed but no initdb found under /usr/lib/postgresql/*/bin"
}

resolve_dir() {
  if [[ -n ${VIGIL_PG_DIR:-} ]]; then
    echo "$VIGIL_PG_DIR"
  elif ! is_root; then
    echo "$STATE_BASE/postgres"
  else
    mkdir -p "$STATE_BASE"
    if id postgres >/dev/null 2>&1 && (cd / && runuser -u postgres -- test -x "$STATE_BASE") 2>/dev/null; then
      echo "$STATE_BASE/postgres"
    else
      echo "$ROOT_FALLBACK_DIR"
    fi
  fi
}

# globals set by setup_paths
BIN="" PGDIR="" DATA="" SOCKDIR="" LOG=""

setup_paths() {  # $1 = "install" to install missing binaries, else may leave BIN empty
  BIN=$(find_bindir)
  if [[ -z $BIN && ${1:-} == install ]]; then
    install_postgres
    BIN=$(find_bindir)
  fi
  PGDIR=$(resolve_dir)
  DATA="$PGDIR/data"
  SOCKDIR="$PGDIR/run"
  LOG="$PGDIR/postgresql.log"
  # a data dir from another major version needs that version's binaries
  if [[ -n $BIN && -f $DATA/PG_VERSION ]]; then
    local v
    v=$(<"$DATA/PG_VERSION")
    if [[ -x /usr/lib/postgresql/$v/bin/pg_ctl ]]; then
      BIN=/usr/lib/postgresql/$v/bin
    elif [[ ${1:-} == install ]]; then
      die "$DATA was created by PostgreSQL $v, which is not installed ($BIN is); run '$0 reset'"
    fi
  fi
}

take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname "$PGDIR")"
  exec 9>"$PGDIR.lock"
  flock -w 300 9 || die "another postgres.sh is still running (lock $PGDIR.lock)"
}

alive() {  # process exists and is not a zombie waiting to be reaped
  kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

running() {  # our cluster's postmaster is alive
  [[ -n $BIN && -f $DATA/postmaster.pid ]] || return 1
  as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
  alive "$(running_pid)"
}

running_port() { sed -n '4p' "$DATA/postmaster.pid" 2>/dev/null || true; }
running_pid() { sed -n '1p' "$DATA/postmaster.pid" 2>/dev/null || true; }

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 >/dev/null 2>&1; }

LOG_OFFSET=1  # print_log_tail shows the log from here on (set at each start)

print_log_tail() {
  if [[ -s $LOG ]]; then
    echo "---- last 40 lines of $LOG (this start) ----" >&2
    tail -c "+$LOG_OFFSET" "$LOG" | tail -n 40 >&2
    echo "---- end of log ----" >&2
  else
    echo "(no server log at $LOG)" >&2
  fi
}

pick_locale() {
  if locale -a 2>/dev/null | grep -qixE 'c\.utf-?8'; then
    echo "--locale=C.UTF-8"
  else
    echo "--no-locale"
  fi
}

init_cluster() {
  [[ -f $DATA/PG_VERSION ]] && return 0
  local sock="$SOCKDIR/.s.PGSQL.$PORT"
  (( ${#sock} < 100 )) || die "socket path $sock is too long for a unix socket; set VIGIL_PG_DIR to a shorter path"
  log "initializing cluster in $DATA ($("$BIN/postgres" --version))"
  mkdir -p "$PGDIR"
  if is_root; then
    chown postgres:postgres "$PGDIR"
  fi
  chmod 700 "$PGDIR"
  rm -rf "$DATA"
  as_pg mkdir -p "$SOCKDIR"
  as_pg chmod 700 "$SOCKDIR"
  local out
  if ! out=$(as_pg "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 "$(pick_locale)" \
              --auth-local=trust --auth-host=scram-sha-256 2>&1); then
    echo "$out" >&2
    rm -rf "$DATA"
    die "initdb failed"
  fi
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/postgres.sh (Vigil dev/CI cluster)
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
EOF
  as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# ---- Vigil dev/CI settings (scripts/postgres.sh); the port is given at start ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKDIR'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 200
timezone = 'UTC'
log_timezone = 'UTC'
# throwaway data: trade crash safety for speed
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

ensure_app_objects() {
  local -a psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U postgres -d postgres)
  local db sql
  sql="DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_USER') THEN
    CREATE ROLE $APP_USER LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
  ELSE
    ALTER ROLE $APP_USER LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
  END IF;
END
\$\$;"
  for db in "${APP_DBS[@]}"; do
    sql+="
SELECT 'CREATE DATABASE $db OWNER $APP_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')
\\gexec"
  done
  as_pg "${psql[@]}" <<<"$sql" >/dev/null || die "could not create role/databases"
  # prove that the app login works the way clients will use it
  PGPASSWORD=$APP_PASSWORD PGCONNECT_TIMEOUT=5 "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" \
    -U "$APP_USER" -d "${APP_DBS[0]}" -c 'select 1' >/dev/null \
    || die "password login as $APP_USER to 127.0.0.1:$PORT failed"
}

url() { echo "postgresql://$APP_USER:$APP_PASSWORD@127.0.0.1:$PORT/${APP_DBS[0]}"; }

# --- commands ----------------------------------------------------------------

cmd_up() {
  setup_paths install
  take_lock
  if running; then
    local rport
    rport=$(running_port)
    if [[ $rport != "$PORT" ]]; then
      die "our cluster ($DATA) is already running on port $rport, not $PORT; \
run '$0 down' first or set VIGIL_PG_PORT=$rport"
    fi
    local deadline=$((SECONDS + WAIT))
    while running && ! ready; do
      ((SECONDS < deadline)) || { print_log_tail; die "cluster is running but not ready after ${WAIT}s"; }
      sleep 0.5
    done
    if running; then
      ensure_app_objects
      log "already running (pid $(running_pid)), $(url)"
      return 0
    fi
    log "the running server went away; starting it again"
  fi

  if port_open "$PORT"; then
    echo "postgres: ERROR: port 127.0.0.1:$PORT is already in use by something that is not this cluster ($DATA):" >&2
    who_listens "$PORT" >&2
    die "stop it, or use another port, e.g. VIGIL_PG_PORT=5433 $0 up (and point VIGIL_DATABASE_URL at it)"
  fi

  init_cluster
  as_pg mkdir -p "$SOCKDIR"
  # a postmaster killed with SIGKILL stays a zombie until init reaps it, and while
  # its pid exists the new server refuses to start ("lock file already exists")
  local old_pid i
  old_pid=$(running_pid)
  if [[ -n $old_pid ]]; then
    for ((i = 0; i < 100; i++)); do
      kill -0 "$old_pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  log "starting on 127.0.0.1:$PORT (data $DATA)"
  LOG_OFFSET=$(( $(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1 ))
  local start_began=$SECONDS
  # fd 9 is our lock: keep it out of the server
  local out
  if ! out=$(as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$WAIT" -o "-p $PORT" start 2>&1 9>&-); then
    echo "$out" >&2
    print_log_tail
    if running; then
      log "not ready after ${WAIT}s; stopping it"
      as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
      die "postgres did not come up on 127.0.0.1:$PORT within ${WAIT}s (VIGIL_PG_WAIT); see $LOG"
    fi
    die "postgres failed to start after $((SECONDS - start_began))s; see the log above and $LOG"
  fi
  local deadline=$((SECONDS + WAIT))
  until ready; do
    ((SECONDS < deadline)) || { print_log_tail; die "pg_isready never succeeded on 127.0.0.1:$PORT"; }
    sleep 0.3
  done
  ensure_app_objects
  log "up (pid $(running_pid)), $(url) (also /vigil_test), log $LOG"
}

cmd_down() {
  setup_paths
  if [[ -z $BIN ]]; then
    log "not running (PostgreSQL not installed)"
    return 0
  fi
  take_lock
  if ! running; then
    log "not running"
    return 0
  fi
  log "stopping (pid $(running_pid), fast shutdown)"
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null; then
    log "fast shutdown timed out; using immediate shutdown"
    as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null \
      || die "could not stop the server; see $LOG"
  fi
  log "stopped"
}

cmd_status() {
  setup_paths
  if [[ -z $BIN ]]; then
    echo "postgres: stopped (PostgreSQL not installed)"
    return 1
  fi
  if running; then
    local rport
    rport=$(running_port)
    if [[ $rport == "$PORT" ]] && ready; then
      echo "postgres: running (pid $(running_pid)), $(url), dir $PGDIR"
      return 0
    fi
    echo "postgres: running (pid $(running_pid)) on port $rport but not ready on 127.0.0.1:$PORT, dir $PGDIR"
    return 1
  fi
  echo "postgres: stopped, dir $PGDIR"
  return 1
}

cmd_logs() {
  setup_paths
  [[ -f $LOG ]] || die "no log yet at $LOG"
  exec tail -n "${LINES:-100}" -F "$LOG"
}

cmd_reset() {
  cmd_down
  log "deleting $PGDIR"
  rm -rf "$PGDIR"
}

main() {
  [[ $# -eq 1 ]] || { usage; exit 2; }
  case $1 in
    up) cmd_up ;;
    down) cmd_down ;;
    restart) cmd_down; cmd_up ;;
    status) cmd_status ;;
    logs) cmd_logs ;;
    reset) cmd_reset ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
