#!/bin/sh
# fr-backup: the backup service of one env (render/backup_job.py; README "Backups and restore").
#   fr-backup loop                         the container's process: catch up, then run on schedule
#   fr-backup run [REASON] [--no-prune]    one backup now: dump, store, restore check, tag, check, prune
#   fr-backup health                       Docker health check: last run ok, successes recent enough
#   fr-backup list                         this env's snapshots, as restic's JSON
#   fr-backup restore SNAPSHOT|latest DATABASE [--live]
#   fr-backup check SNAPSHOT|latest        the restore check alone, on an existing snapshot
#   fr-backup next-run EPOCH               when the schedule runs next after EPOCH
# Settings are the container's (non-secret) environment; credentials are read from the file the backup
# vault-agent renders into @SECRETS@, never from arguments or the container's configuration.
# `step && step || { fail; }` means: fail when either step fails (SC2015 is a note about exactly that).
# shellcheck disable=SC2015
set -u
umask 077
SECRETS=@SECRETS@
SCRATCH=@SCRATCH@
STATE=$SCRATCH/state
VERIFY=$SCRATCH/verify
DUMP=/@DUMP@
GLOBALS=/@GLOBALS@
export RESTIC_CACHE_DIR="$SCRATCH/cache" TMPDIR="$SCRATCH/tmp"
STEP=$(( BACKUP_INTERVAL_HOURS * 3600 ))
MAX_AGE=$(( 2 * STEP ))  # health fails after two intervals without success (one missed run)

log() { printf '%s fr-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
# Why the last failing step failed, in one line: its first error line (psql follows one with context
# lines), else its last line.
why() {
  { grep -m 1 -E 'ERROR|FATAL|Fatal|error:' "$STATE/err" || tail -n 1 "$STATE/err"; } 2>/dev/null | tr -d '\r' | cut -c1-300
}
note() { printf '%s\n' "$*" > "$STATE/err"; }

setup() { mkdir -p "$STATE" "$SCRATCH/cache" "$SCRATCH/tmp"; }

load_secrets() {
  if [ ! -s "$SECRETS/@ENV_FILE@" ]; then note "$SECRETS/@ENV_FILE@ was not rendered"; return 1; fi
  set -a
  # shellcheck source=/dev/null  # rendered by the backup vault-agent at run time
  . "$SECRETS/@ENV_FILE@"
  set +a
}

lock() {
  if mkdir "$STATE/lock" 2>/dev/null; then echo $$ > "$STATE/lock/pid"; return 0; fi
  holder=$(cat "$STATE/lock/pid" 2>/dev/null || true)
  if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then note "another backup or restore is running (pid $holder)"; return 1; fi
  rm -rf "$STATE/lock" && mkdir "$STATE/lock" && echo $$ > "$STATE/lock/pid"
}
unlock() { rm -rf "$STATE/lock"; }

failed() {
  printf 'failed %s %s: %s\n' "$(date -u +%s)" "$1" "$(why)" > "$STATE/last-result"
  log "backup FAILED at $1: $(why)"
  return 1
}

# Opens the repository; creates it only when it does not exist yet. Any other error (credentials,
# network, wrong password) stops here, so a wrong setting never starts a second repository.
open_repo() {
  if restic cat config >/dev/null 2>"$STATE/err"; then
    restic unlock >/dev/null 2>&1  # locks left by a run that was killed
    return 0
  fi
  # S3's NoSuchKey on the config file, as restic 0.14 (Debian) and 0.17+ (the image) report it.
  grep -q -e "key does not exist" -e "repository does not exist" "$STATE/err" || return 1
  restic init >/dev/null 2>"$STATE/err" || return 1
  log "created the repository $RESTIC_REPOSITORY"
}

# store FILE KIND RUN COMMAND...: COMMAND's output becomes snapshot FILE; sets $snap and $bytes.
# A command that fails (midway or not) or prints nothing leaves no snapshot behind.
store() {
  file=$1 kind=$2 run=$3
  shift 3
  rm -f "$STATE/dump.rc"
  { "$@" 2>"$STATE/dump.err"; echo $? > "$STATE/dump.rc"; } |
    restic backup --stdin --stdin-filename "${file#/}" --host "$BACKUP_HOST" \
      --tag finance-report --tag "kind=$kind" --tag "run=$run" --json >"$STATE/restic.out" 2>"$STATE/err"
  stored=$?
  snap=$(sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p' "$STATE/restic.out" | tail -n 1)
  bytes=$(sed -n 's/.*"total_bytes_processed":\([0-9]*\).*/\1/p' "$STATE/restic.out" | tail -n 1)
  dumped=$(cat "$STATE/dump.rc" 2>/dev/null || echo 1)
  if [ "$stored" != 0 ] || [ -z "$snap" ]; then
    # restic failed (the dump then fails too, on a closed pipe): restic's error says why. An empty
    # stdin is refused by restic itself ("snapshot is empty": restic/restic#1791, still so in #3760);
    # said as the empty dump it is. The 0-byte check below covers a restic that stores it anyway.
    [ -z "$snap" ] || restic forget "$snap" >/dev/null 2>&1
    if grep -q "snapshot is empty" "$STATE/err"; then note "the $kind dump was empty"; return 1; fi
    [ -s "$STATE/err" ] || note "restic backup exited with $stored"
    return 1
  fi
  if [ "$dumped" != 0 ]; then
    if [ -s "$STATE/dump.err" ]; then cp "$STATE/dump.err" "$STATE/err"; else note "$1 exited with $dumped"; fi
    restic forget "$snap" >/dev/null 2>&1
    return 1
  fi
  if [ "${bytes:-0}" -le 0 ]; then
    note "the $kind dump was empty"
    restic forget "$snap" >/dev/null 2>&1
    return 1
  fi
}

stop_verify() {
  if [ -f "$VERIFY/data/postmaster.pid" ]; then pg_ctl -D "$VERIFY/data" -m immediate -w stop >/dev/null 2>&1; fi
  rm -rf "$VERIFY"
}

# dump_to_pg_restore SNAPSHOT PG_RESTORE_ARGS...: streams the snapshot's dump into pg_restore, which
# stops at its first error; on failure $STATE/err holds the reason.
dump_to_pg_restore() {
  piped=$1
  shift
  rm -f "$STATE/dump.rc"
  { restic dump "$piped" "$DUMP" 2>"$STATE/dump.err"; echo $? > "$STATE/dump.rc"; } |
    pg_restore --exit-on-error "$@" 2>"$STATE/err"
  restored=$?
  dumped=$(cat "$STATE/dump.rc" 2>/dev/null || echo 1)
  # A restic that died on the closed pipe left its lock in the repository, which would refuse the
  # tagging that follows; its process is gone, so the lock is stale and unlock removes just it
  # (restic internal/restic/lock.go, Stale: same host, no such PID).
  [ "$dumped" = 0 ] || restic unlock >/dev/null 2>&1
  # When pg_restore stops first, restic is cut off (SIGPIPE: 141, or "broken pipe") with nothing to
  # say: pg_restore's error is the reason. Any other restic failure (a damaged pack) is restic's.
  if [ "$dumped" != 0 ] && [ "$dumped" != 141 ] && ! grep -q "broken pipe" "$STATE/dump.err" 2>/dev/null; then
    if [ -s "$STATE/dump.err" ]; then cp "$STATE/dump.err" "$STATE/err"; else note "restic dump exited with $dumped"; fi
    return 1
  fi
  [ "$restored" = 0 ] || { [ -s "$STATE/err" ] || note "pg_restore exited with $restored"; return 1; }
  [ "$dumped" = 0 ] || { note "restic dump exited with $dumped"; return 1; }
}

# verify SNAPSHOT: restore it into a throwaway server on the scratch volume and check it; sets $report.
verify() {
  stop_verify
  mkdir -p "$VERIFY" || return 1
  initdb -D "$VERIFY/data" -U postgres --auth=trust >"$STATE/err" 2>&1 || return 1
  # Unix socket in the scratch directory only: nothing on any network can reach this server.
  pg_ctl -D "$VERIFY/data" -l "$VERIFY/server.log" -w -t 120 \
    -o "-c listen_addresses= -c unix_socket_directories=$VERIFY -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
    start >"$STATE/err" 2>&1 || { tail -n 3 "$VERIFY/server.log" >> "$STATE/err" 2>/dev/null; return 1; }
  psql -X -q -h "$VERIFY" -U postgres -d postgres -c "CREATE DATABASE verify" >/dev/null 2>"$STATE/err" || return 1
  dump_to_pg_restore "$1" -h "$VERIFY" -U postgres -d verify --no-owner --no-privileges || return 1
  q() { psql -X -h "$VERIFY" -U postgres -d verify -v ON_ERROR_STOP=1 -tA "$@"; }
  versions=$(q -c "SELECT count(*) FROM public.alembic_version" 2>"$STATE/err") || { note "the restored database has no alembic_version table"; return 1; }
  [ "$versions" = 1 ] || { note "alembic_version holds $versions rows, expected 1"; return 1; }
  tables=$(q -c "@TABLES_SQL@" 2>"$STATE/err") || return 1
  rows=$(printf '%s\n\\gexec\n' "@LARGEST_SQL@" | q 2>"$STATE/err" | tr '\n' ' ') || return 1
  report="tables=$tables largest: ${rows% }"
}

heartbeat() {
  [ -n "${HEARTBEAT_URL:-}" ] || return 0
  # wget's own messages are not logged: the URL is a secret and may appear in them. `timeout`, not
  # wget -T: Debian's static busybox 1.35 wget crashes with -T.
  timeout 20 wget -q -O /dev/null "$HEARTBEAT_URL" >/dev/null 2>&1 || log "heartbeat call failed (exit $?)"
}

backup_once() {
  run=$(date -u +%Y%m%dT%H%M%SZ)
  log "backup $run ($1): $PGDATABASE on $PGHOST to $RESTIC_REPOSITORY"
  load_secrets || { failed secrets; return 1; }
  open_repo || { failed repository; return 1; }
  # Roles without their passwords: the job's role is no superuser (it may not read them), and Postgres
  # sets every role's password from Vault at start anyway.
  store "$GLOBALS" globals "$run" pg_dumpall --globals-only --no-role-passwords --no-password || { failed "dump of the globals"; return 1; }
  globals=$snap
  store "$DUMP" db "$run" pg_dump --format=custom --compress=0 --no-password || {
    restic forget "$globals" >/dev/null 2>&1
    failed "dump of $PGDATABASE"
    return 1
  }
  db=$snap size=$bytes
  date -u +%s > "$STATE/last-backup"
  log "stored $run: snapshot $db ($size bytes), globals $globals; restore check"
  verify "$db"
  checked=$?
  stop_verify
  if [ "$checked" != 0 ]; then
    cp "$STATE/err" "$STATE/err.keep" 2>/dev/null
    restic tag --add verify-failed "$db" "$globals" >/dev/null 2>&1
    mv "$STATE/err.keep" "$STATE/err" 2>/dev/null
    failed "restore check of $db"
    return 1
  fi
  printf '%s run=%s snapshot=%s %s\n' "$(date -u +%s)" "$run" "$db" "$report" > "$STATE/last-report"
  log "restore check of $db passed: $report"
  restic tag --add verified --add "bytes=$size" --add "tables=$tables" "$db" >/dev/null 2>"$STATE/err" &&
    restic tag --add verified "$globals" >/dev/null 2>"$STATE/err" || { failed "tagging $db verified"; return 1; }
  date -u +%s > "$STATE/last-verified"
  restic check >/dev/null 2>"$STATE/err" || { failed "repository check"; return 1; }
  # Retention only now: after a verified backup, over verified snapshots of this env only. A safety
  # backup taken before a restore prunes nothing: the snapshot about to be restored stays.
  [ "${2:-}" = --no-prune ] || restic forget --host "$BACKUP_HOST" --tag verified --group-by host,paths \
    --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" --prune >"$STATE/forget.log" 2>"$STATE/err" || { failed retention; return 1; }
  heartbeat
  printf 'ok %s run=%s snapshot=%s %s\n' "$(date -u +%s)" "$run" "$db" "$report" > "$STATE/last-result"
  log "backup $run done"
}

cmd_run() {
  setup || exit 1
  lock || { log "$(why)"; return 1; }
  backup_once "${1:-on demand}" "${2:-}"
  status=$?
  unlock
  return $status
}

# The newest verified database snapshot: the state a new container starts from, and `latest`.
latest_verified() {
  # One line per snapshot: restic 0.17+ nests a flat "summary" object, dropped first.
  restic snapshots --host "$BACKUP_HOST" --tag verified,kind=db --json >"$STATE/snapshots.json" 2>"$STATE/err" || return 1
  sed 's/"summary":{[^}]*}//g' "$STATE/snapshots.json" | tr '{' '\n' | sed -n 's/.*"time":"\([0-9-]*\)T\([0-9:]*\)[^"]*".*"id":"\([0-9a-f]*\)".*/\1 \2 \3/p' | sort | tail -n 1
}

recover_state() {
  [ -s "$STATE/last-verified" ] && return 0
  load_secrets && open_repo || return 1
  latest=$(latest_verified) || return 1
  [ -n "$latest" ] || { note "no verified backup in the repository yet"; return 1; }
  at=$(date -u -d "${latest% *}" +%s) || return 1
  echo "$at" > "$STATE/last-backup"
  echo "$at" > "$STATE/last-verified"
  printf 'ok %s snapshot=%s (found in the repository)\n' "$at" "${latest##* }" > "$STATE/last-result"
}

# The series BACKUP_TIME + k * interval is counted from BACKUP_TIME on the epoch's day, not today's: one
# fixed series, so a restart on another day plans the same run, and every gap is the interval (an
# interval dividing 24 runs at BACKUP_TIME every day).
next_run() {
  h=${BACKUP_TIME%%:*} m=${BACKUP_TIME#*:}
  base=$(( ${h#0} * 3600 + ${m#0} * 60 ))
  off=$(( ($1 - base) % STEP ))
  [ "$off" -ge 0 ] || off=$(( off + STEP ))
  echo $(( $1 - off + STEP ))
}

cmd_loop() {
  setup || exit 1
  unlock  # a new container: a lock in the scratch volume is a previous container's
  stop_verify
  trap 'log "stopping"; stop_verify; unlock; exit 0' TERM INT
  recover_state || log "no earlier backup: $(why)"
  last=$(cat "$STATE/last-verified" 2>/dev/null || echo 0)
  if [ $(( $(date -u +%s) - last )) -ge "$STEP" ]; then cmd_run "catch-up at start"; fi
  while :; do
    now=$(date -u +%s)
    next=$(next_run "$now")
    log "next backup at $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ)"
    sleep $(( next - now )) &
    wait $!
    cmd_run scheduled
  done
}

cmd_health() {
  now=$(date -u +%s)
  b=$(cat "$STATE/last-backup" 2>/dev/null || echo 0)
  v=$(cat "$STATE/last-verified" 2>/dev/null || echo 0)
  result=$(cat "$STATE/last-result" 2>/dev/null || echo "none yet")
  echo "last_backup=$b last_verified=$v max_age=$MAX_AGE now=$now result: $result"
  case $result in ok*) ;; *) exit 1 ;; esac
  [ $(( now - b )) -le "$MAX_AGE" ] && [ $(( now - v )) -le "$MAX_AGE" ]
}

cmd_restore() {
  snapshot=${1:-} target=${2:-} mode=${3:-}
  case $target in
    '' | *[!a-z0-9_]* | [!a-z]*) echo "restore: database name $target: expected lowercase letters, digits and _" >&2; return 2 ;;
  esac
  setup && load_secrets || { echo "restore: $(why)" >&2; return 1; }
  lock || { echo "restore: $(why)" >&2; return 1; }
  restore_into "$snapshot" "$target" "$mode"
  status=$?
  unlock
  return $status
}

restore_into() {
  if [ "$1" = latest ]; then
    latest=$(latest_verified) || { echo "restore: $(why)" >&2; return 1; }
    set -- "${latest##* }" "$2" "$3"
    [ -n "$1" ] || { echo "restore: no verified backup in $RESTIC_REPOSITORY" >&2; return 1; }
  fi
  # Owned by the app's role, as the live database; pg_restore creates every object as that role too (the
  # job's role is its member), whoever owned it in the dump.
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$2\" OWNER \"$DB_OWNER\"" >/dev/null 2>"$STATE/err" || { echo "restore: $(why)" >&2; return 1; }
  if ! dump_to_pg_restore "$1" -d "$2" --no-owner --role="$DB_OWNER"; then
    echo "restore: snapshot $1 could not be restored: $(why)" >&2
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$2\"" >/dev/null 2>&1
    return 1
  fi
  if [ "$3" != --live ]; then echo "restored snapshot $1 into database $2"; return 0; fi
  # The live database is renamed, never dropped: the operator drops it once the restore is confirmed.
  kept="${PGDATABASE}_before_$(date -u +%Y%m%d%H%M%S)"
  exists=$(echo "SELECT count(*) FROM pg_database WHERE datname = :'db'" | psql -X -tA -d postgres -v db="$PGDATABASE" 2>"$STATE/err") || { echo "restore: $(why)" >&2; return 1; }
  if [ "$exists" = 1 ]; then
    swap="ALTER DATABASE \"$PGDATABASE\" RENAME TO \"$kept\";"
    moved=" (the previous database is kept as $kept)"
  else
    swap="" moved=" ($PGDATABASE did not exist)"
  fi
  # Named before anything moves: whatever happens next, the operator knows where each database is.
  log "swapping $2 in as $PGDATABASE$moved"
  # Both renames in one transaction (PostgreSQL runs ALTER DATABASE RENAME in a transaction block, unlike
  # CREATE and DROP DATABASE): a swap that fails or is cut off renames nothing. Sessions of the app's
  # role are ended first (a rename waits 5 s for others to leave); the job may not end a superuser's.
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$PGDATABASE" >/dev/null 2>"$STATE/err" <<SQL || { echo "restore: swapping $2 in as $PGDATABASE failed and renamed nothing ($PGDATABASE is as it was, the restored copy is $2): $(why)" >&2; return 1; }
BEGIN;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = :'db' AND pid <> pg_backend_pid() AND pg_has_role(usesysid, 'MEMBER');
$swap
ALTER DATABASE "$2" RENAME TO "$PGDATABASE";
COMMIT;
SQL
  echo "restored snapshot $1 into $PGDATABASE$moved"
}

# check SNAPSHOT|latest: the restore check of an existing snapshot (an operator's rehearsal; tests).
cmd_check() {
  setup && load_secrets || { echo "check: $(why)" >&2; return 1; }
  lock || { echo "check: $(why)" >&2; return 1; }
  snapshot=$1
  if [ "$snapshot" = latest ]; then
    latest=$(latest_verified) || { unlock; echo "check: $(why)" >&2; return 1; }
    snapshot=${latest##* }
    [ -n "$snapshot" ] || { unlock; echo "check: no verified backup in $RESTIC_REPOSITORY" >&2; return 1; }
  fi
  verify "$snapshot"
  checked=$?
  stop_verify
  unlock
  if [ "$checked" = 0 ]; then echo "restore check of $snapshot passed: $report"; else echo "check: restore check of $snapshot failed: $(why)" >&2; fi
  return $checked
}

case ${1:-} in
  loop) cmd_loop ;;
  run) shift
    # `run --no-prune` without a reason: the flag is not the reason
    if [ "${1:-}" = --no-prune ]; then cmd_run "on demand" --no-prune; else cmd_run "${1:-on demand}" "${2:-}"; fi ;;
  health) cmd_health ;;
  list) setup && load_secrets || { echo "list: $(why)" >&2; exit 1; }; restic snapshots --host "$BACKUP_HOST" --json ;;
  restore) shift; cmd_restore "$@" ;;
  check) cmd_check "${2:-latest}" ;;
  next-run) next_run "$2" ;;
  *) echo "usage: fr-backup loop|run [REASON] [--no-prune]|health|list|restore SNAPSHOT DATABASE [--live]|check SNAPSHOT|next-run EPOCH" >&2; exit 2 ;;
esac
