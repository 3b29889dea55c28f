#!/usr/bin/env bash
# Start/stop/report both backing services of Vigil for local dev and CI:
# Kafka (scripts/kafka.sh) and PostgreSQL (scripts/postgres.sh).
#
# Usage: scripts/services.sh up|down|restart|status|env
#
#   up       start both, one summary line each; exit 1 if either failed
#   down     stop both
#   restart  restart both, keeping data
#   status   one line each; exit 0 only if both are running
#   env      print the export lines only, for: eval "$(scripts/services.sh env)"
#
# Connection settings for the Vigil code (ports follow VIGIL_KAFKA_PORT / VIGIL_PG_PORT):
#   VIGIL_KAFKA_BOOTSTRAP=127.0.0.1:9092
#   VIGIL_DATABASE_URL=postgresql+psycopg://vigil:vigil@127.0.0.1:5432/vigil
#   (a second database, vigil_test, exists with the same owner)
# Everything else (VIGIL_CACHE_DIR, VIGIL_STATE_DIR, ...) is passed through to the
# two scripts; see their headers.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly KAFKA_BOOTSTRAP="127.0.0.1:${VIGIL_KAFKA_PORT:-9092}"
readonly DATABASE_URL="postgresql+psycopg://vigil:vigil@127.0.0.1:${VIGIL_PG_PORT:-5432}/vigil"

usage() { echo "usage: $(basename "$0") up|down|restart|status|env" >&2; }

env_lines() {
  echo "export VIGIL_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP"
  echo "export VIGIL_DATABASE_URL=$DATABASE_URL"
}

hint() {
  case $1 in
    kafka) echo "VIGIL_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" ;;
    postgres) echo "VIGIL_DATABASE_URL=$DATABASE_URL" ;;
  esac
}

# run `<svc>.sh <action>` for both services, one after the other (both may need apt
# on a fresh machine, and apt does not run twice at once); print one line each and,
# for a failure, that script's output
run_both() {
  local action=$1 svc rc=0 out
  for svc in postgres kafka; do
    if out=$("$SCRIPT_DIR/$svc.sh" "$action" 2>&1 </dev/null); then
      case $action in
        down) printf '%-9s stopped\n' "$svc" ;;
        *) printf '%-9s up        %s\n' "$svc" "$(hint "$svc")" ;;
      esac
    else
      rc=1
      printf '%-9s FAILED (%s.sh %s):\n' "$svc" "$svc" "$action"
      printf '%s\n' "$out" | sed 's/^/    /'
    fi
  done
  return "$rc"
}

cmd_status() {
  local svc rc=0 out
  for svc in postgres kafka; do
    if out=$("$SCRIPT_DIR/$svc.sh" status 2>&1); then
      printf '%-9s running   %s\n' "$svc" "$(hint "$svc")"
    else
      rc=1
      printf '%-9s %s\n' "$svc" "NOT RUNNING (${out#"$svc": })"
    fi
  done
  return "$rc"
}

main() {
  [[ $# -eq 1 ]] || { usage; exit 2; }
  case $1 in
    up|restart)
      run_both "$1" || { echo "services: not all services came up" >&2; exit 1; }
      ;;
    down) run_both down ;;
    status) cmd_status ;;
    env) env_lines ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
