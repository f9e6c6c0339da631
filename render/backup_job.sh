#!/bin/sh
# fr-backup: the backup service of one env (render/backup_job.py; docs/backups.md).
#   fr-backup loop                         the container's process: catch up, then run on schedule
#   fr-backup run [REASON] [--no-prune] [--safety] [--accept-drop]
#                                          one backup now: dump, store, restore check, tag, check, prune;
#                                          --safety: the backup before a restore (tagged safety, a retention
#                                          of its own); --accept-drop: a sharp drop since the last verified
#                                          backup is wanted
#   fr-backup health [--report-only]       Docker health check: last run ok, successes recent enough (--report-only:
#                                          the same line and flags, always passes; runtime swarm)
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
DROP_MIN_ROWS=@DROP_MIN_ROWS@  # tables smaller than this are not compared: their churn says nothing
# What `run` does beyond a scheduled backup (set from its flags).
PRUNE=yes SAFETY=no ACCEPT_DROP=no

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
      --tag finance-report --tag "kind=$kind" --tag "run=$run" ${CLASS:+--tag "$CLASS"} --json >"$STATE/restic.out" 2>"$STATE/err"
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

# verify SNAPSHOT [compare]: restore it into a throwaway server on the scratch volume and check it (with
# compare: against the previous verified backup too); sets $report, $tables and $rows.
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
  [ "${2:-}" != compare ] || no_sharp_drop
}

# shrunk BEFORE NOW: NOW is more than BACKUP_MAX_DROP_PERCENT below BEFORE.
shrunk() { [ $(( $2 * 100 )) -lt $(( $1 * (100 - BACKUP_MAX_DROP_PERCENT) )) ]; }

# The restored database against the previous verified database snapshot's counts (its tags): the table
# count and the rows of each table it recorded. An emptied database restores fine, and verified it would
# push every good backup out of retention within weeks; a drop that is wanted is accepted by running the
# backup with --accept-drop once. Not for a safety backup: it must capture the state before a restore
# whatever it is, and its retention is its own.
no_sharp_drop() {
  # Against the newest regular verified backup: a safety backup is of whatever state the database was
  # in before a restore (often the damaged one), never a baseline.
  previous=$(newest_db verified) || return 1
  [ -n "$previous" ] || return 0  # the first backup: nothing to compare with
  prev_id=$(printf '%s\n' "$previous" | cut -d' ' -f3 | cut -c1-8)
  counts=$(printf '%s\n' "$previous" | cut -d' ' -f4- | tr ',' '\n' | tr -d '"')
  accept="if that is wanted, back up once with --accept-drop"
  before=$(printf '%s\n' "$counts" | sed -n 's/^tables=\([0-9]*\)$/\1/p')
  if [ -n "$before" ] && shrunk "$before" "$tables"; then
    note "the restored database has $tables tables, the previous verified backup ($prev_id) had $before: more than $BACKUP_MAX_DROP_PERCENT% fewer; $accept"
    return 1
  fi
  for pair in $(printf '%s\n' "$counts" | sed -n 's/^rows:\([A-Za-z0-9_]*\.[A-Za-z0-9_]*=[0-9]*\)$/\1/p'); do
    name=${pair%=*} before=${pair##*=}
    [ "$before" -ge "$DROP_MIN_ROWS" ] || continue
    now=$(q -c "SELECT count(*) FROM \"${name%%.*}\".\"${name#*.}\"" 2>/dev/null) || now=0
    if shrunk "$before" "$now"; then
      note "$name has $now rows, the previous verified backup ($prev_id) had $before: more than $BACKUP_MAX_DROP_PERCENT% fewer; $accept"
      return 1
    fi
  done
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
  if [ "$SAFETY" = yes ]; then CLASS=safety PASSED=safety-verified; else CLASS="" PASSED=verified; fi
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
  if [ "$SAFETY" = yes ] || [ "$ACCEPT_DROP" = yes ]; then verify "$db"; else verify "$db" compare; fi
  checked=$?
  stop_verify
  if [ "$checked" != 0 ]; then
    cp "$STATE/err" "$STATE/err.keep" 2>/dev/null
    restic tag --add verify-failed "$db" "$globals" >/dev/null 2>&1
    db=$(snapshot_id "$run" db) && [ -n "$db" ] || db=$snap
    mv "$STATE/err.keep" "$STATE/err" 2>/dev/null
    failed "restore check of $db"
    return 1
  fi
  log "restore check of $db passed: $report"
  # The counts the next backup is compared with, one tag per table named plainly.
  set -- --add "$PASSED" --add "bytes=$size" --add "tables=$tables"
  for pair in $rows; do
    case $pair in *[!A-Za-z0-9_.=]* | *.*.* | *=*=*) continue ;; esac
    set -- "$@" --add "rows:$pair"
  done
  restic tag "$@" "$db" >/dev/null 2>"$STATE/err" &&
    restic tag --add "$PASSED" "$globals" >/dev/null 2>"$STATE/err" || { failed "tagging $db verified"; return 1; }
  db=$(snapshot_id "$run" db) && [ -n "$db" ] || { note "the tagged snapshot of run $run is not listed"; failed "tagging $db verified"; return 1; }
  date -u +%s > "$STATE/last-verified"
  printf '%s run=%s snapshot=%s %s\n' "$(date -u +%s)" "$run" "$db" "$report" > "$STATE/last-report"
  restic check >/dev/null 2>"$STATE/err" || { failed "repository check"; return 1; }
  log "repository check passed"
  # Retention only now: after a verified backup, over verified snapshots of this env only. A safety
  # backup taken before a restore prunes nothing: the snapshot about to be restored stays.
  [ "$PRUNE" = no ] || retention || { failed retention; return 1; }
  heartbeat
  printf 'ok %s run=%s snapshot=%s %s\n' "$(date -u +%s)" "$run" "$db" "$report" > "$STATE/last-result"
  log "backup $run done: snapshot $db"
}

# Scheduled and on-demand backups keep backupKeepDaily dailies and backupKeepWeekly weeklies; safety
# backups (before a restore) are apart from them, so the day's next run cannot prune them, and each is
# kept backupKeepSafetyDays days from the newest one (restic's keep-within counts from the newest
# snapshot of the group, so a quiet month never empties it). Snapshots that failed their check are kept.
retention() {
  restic forget --host "$BACKUP_HOST" --tag verified --group-by host,paths \
    --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" --prune >"$STATE/forget.log" 2>"$STATE/err" &&
    restic forget --host "$BACKUP_HOST" --tag safety-verified --group-by host,paths \
      --keep-within "${BACKUP_KEEP_SAFETY_DAYS}d" --prune >>"$STATE/forget.log" 2>"$STATE/err"
}

cmd_run() {
  setup || exit 1
  lock || { log "$(why)"; return 1; }
  backup_once "${1:-on demand}"
  status=$?
  unlock
  return $status
}

# restic's JSON snapshot list on stdin, one line per snapshot: DATE TIME ID TAGS (TAGS: the JSON array's
# items, comma-separated, quoted), oldest first. restic 0.17+ nests a flat "summary" object: dropped first.
snapshot_lines() {
  sed 's/"summary":{[^}]*}//g' | tr '{' '\n' |
    sed -n 's/.*"time":"\([0-9-]*\)T\([0-9:]*\)[^"]*".*"tags":\[\([^]]*\)\].*"id":"\([0-9a-f]*\)".*/\1 \2 \4 \3/p' | sort
}

# newest_db TAG [TAG]: the newest database snapshot carrying one of the TAGs, as one line DATE TIME ID
# TAGS; empty when none.
newest_db() {
  restic snapshots --host "$BACKUP_HOST" --tag "$1,kind=db" ${2:+--tag "$2,kind=db"} --json \
    >"$STATE/snapshots.json" 2>"$STATE/err" || return 1
  snapshot_lines < "$STATE/snapshots.json" | tail -n 1
}
# The newest verified database snapshot, a safety one too (the newest good copy): the state a new
# container starts from, and `latest`. DATE TIME ID.
latest_verified() {
  newest=$(newest_db verified safety-verified) || return 1
  [ -z "$newest" ] || printf '%s\n' "$newest" | cut -d' ' -f1-3
}

# snapshot_id RUN KIND: the id of this run's KIND snapshot as it is now (`restic tag` rewrites a snapshot
# under a new id: the one stored is gone once tagged).
snapshot_id() {
  restic snapshots --host "$BACKUP_HOST" --tag "run=$1,kind=$2" --json 2>/dev/null | snapshot_lines | tail -n 1 | cut -d' ' -f3
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
  healthy=yes
  case $result in ok*) ;; *) healthy=no; echo "LAST BACKUP FAILED: see the result above" ;; esac
  if [ $(( now - b )) -gt "$MAX_AGE" ] || [ $(( now - v )) -gt "$MAX_AGE" ]; then
    healthy=no
    if [ "$v" = 0 ]; then age="never made"; else age="$(( (now - v) / 3600 ))h old"; fi
    echo "BACKUPS STALE: the last verified backup is $age; the schedule allows $(( MAX_AGE / 3600 ))h"
  fi
  # --report-only (runtime swarm): the line and its flags, never a failure (render/backup_job.py).
  [ "$healthy" = yes ] || [ "${1:-}" = --report-only ]
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
    reason=""
    for arg in "$@"; do  # flags in any place; the first other word is the reason (never a flag)
      case $arg in
        --no-prune) PRUNE=no ;;
        --safety) SAFETY=yes ;;
        --accept-drop) ACCEPT_DROP=yes ;;
        *) [ -n "$reason" ] || reason=$arg ;;
      esac
    done
    cmd_run "${reason:-on demand}" ;;
  health) cmd_health "${2:-}" ;;
  list) setup && load_secrets || { echo "list: $(why)" >&2; exit 1; }; restic snapshots --host "$BACKUP_HOST" --json ;;
  restore) shift; cmd_restore "$@" ;;
  check) cmd_check "${2:-latest}" ;;
  next-run) next_run "$2" ;;
  *) echo "usage: fr-backup loop|run [REASON] [--no-prune] [--safety] [--accept-drop]|health [--report-only]|list|restore SNAPSHOT DATABASE [--live]|check SNAPSHOT|next-run EPOCH" >&2; exit 2 ;;
esac
