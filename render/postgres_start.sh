docker-entrypoint.sh postgres &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null' INT TERM
finish() {
  status=0
  while :; do
    wait "$pid"; status=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  exit "${1:-$status}"
}
until pg_isready -q -h 127.0.0.1 -U @POSTGRES_USER@ -d postgres; do
  kill -0 "$pid" 2>/dev/null || finish
  sleep 1
done
# The sync's statements carry passwords: the server must never write them to its log, not when one fails
# (log_min_error_statement logs a failed statement's text), nor when one succeeds (log_statement,
# log_min_duration_statement). Settings of these two sessions only.
PGOPTIONS='-c log_min_error_statement=panic -c log_statement=none -c log_min_duration_statement=-1'
export PGOPTIONS
# Connected to `postgres`, which always exists: the app's database may not (a restore cut short).
if ! psql -X -v ON_ERROR_STOP=1 -q -U @POSTGRES_USER@ -d postgres <<'SQL'
@ROLES@
SQL
then
  echo 'finance-report: password sync failed; stopping Postgres' >&2
  kill -INT "$pid" 2>/dev/null
  finish 1
fi
# The app's objects to the app's role. Not fatal: Postgres keeps serving (backups and restores still
# work); the app's migrations then fail on what it does not own, naming it.
if ! psql -X -v ON_ERROR_STOP=1 -q -U @POSTGRES_USER@ -d postgres <<'SQL'
@HANDOVER@
SQL
then
  echo 'finance-report: handing @POSTGRES_DB@ to @APP_ROLE@ failed (see the error above); Postgres keeps running' >&2
fi
finish
