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
until pg_isready -q -h 127.0.0.1 -U @POSTGRES_USER@ -d @POSTGRES_DB@; do
  kill -0 "$pid" 2>/dev/null || finish
  sleep 1
done
if ! psql -v ON_ERROR_STOP=1 -q -U @POSTGRES_USER@ -d @POSTGRES_DB@ <<'SQL'
@PASSWORD_SYNC@
SQL
then
  echo 'finance-report: password sync failed; stopping Postgres' >&2
  kill -INT "$pid" 2>/dev/null
  finish 1
fi
finish
