#!/usr/bin/env bash
# The one test command. On a fresh machine it does all set-up, then runs every check:
#   1. a virtualenv (.venv, or $VIGIL_VENV) with Vigil and its dev extra installed;
#   2. real Kafka 4.0 (KRaft, from Maven Central) and PostgreSQL, via scripts/services.sh;
#   3. migrations on the test database;
#   4. ruff, mypy, and the whole pytest suite (unit + integration).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${VIGIL_VENV:-.venv}
python=${PYTHON:-python3}

step() { printf '\n==> %s\n' "$*"; }

step "python environment ($venv)"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'

step "Kafka and PostgreSQL"
bash scripts/services.sh up

export VIGIL_TEST_KAFKA="127.0.0.1:${VIGIL_KAFKA_PORT:-9092}"
export VIGIL_TEST_DATABASE_URL="postgresql+psycopg://vigil:vigil@127.0.0.1:${VIGIL_PG_PORT:-5432}/vigil_test"

step "migrations"
"$venv/bin/vigil" db upgrade --url "$VIGIL_TEST_DATABASE_URL"

step "lint and types"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"

step "tests"
"$venv/bin/python" -m pytest "$@"
