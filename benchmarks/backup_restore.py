"""Backup and restore of a synthetic database (1 GiB by default) through the backup service as the
program declares it, on the real-systems harness (its dockerd, OpenBao, an S3-protocol server on
loopback, a PostgreSQL server, the backup image stand-in; tests/integration/backup_stage.py).

Prints: the machine, the database size, the time of each step of one backup run (dump and upload,
restore check with its comparison to the previous verified backup, tagging, repository check,
retention), the dump size and the bytes stored in S3, a second (incremental) run, and the time of a
restore into a new database; and, in the same run, on the same database, from the same container with
the same role, a raw `pg_dump -Fc` to a file and a raw `pg_restore` of it, with the ratios backup run /
raw dump and restore / raw restore (the goal: at most 1.5x each). Figures, not pass/fail.

Needs root. Usage: FR_HARNESS_ID=bench uv run python benchmarks/backup_restore.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from render import backup_job as job
from render import vault_artifacts as va
from tests.integration.backup_stage import BackupStage, backup_image
from tests.integration.harness import Docker, OpenBao, S3Server

ROW_BYTES = 1000  # one row of `ledger_lines`: a mix of numbers and text, as the app's tables hold
ON_DISK = 0.87  # Postgres compresses the text of a row to about this share of ROW_BYTES (pglz)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = (
        int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        // 1024
    )
    restic = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.split()[1]
    return (
        f"{os.cpu_count()} vCPU {cpu}, {mem} MiB RAM, {platform.system()} {platform.release()}; restic {restic}, "
        f"PostgreSQL {Path(sorted(Path('/usr/lib/postgresql').glob('*'))[-1]).name} (stand-in image), S3: moto "
        "on loopback"
    )


def run_once(stage: BackupStage, reason: str) -> tuple[float, str]:
    start = time.monotonic()
    code, _out, err = stage.job("run", reason, timeout=7200)
    if code != 0:
        raise SystemExit(f"backup failed: {err[-2000:]}")
    return time.monotonic() - start, err


def timeline(err: str) -> str:
    stamps = [
        (datetime.fromisoformat(m.group(1).replace("Z", "+00:00")), m.group(2))
        for m in re.finditer(r"^(\S+) fr-backup: (.*)$", err, re.M)
    ]
    names = {
        r"^stored ": "dump + upload",
        r"^restore check of \S+ passed": "restore check (+ comparison)",
        r"^repository check passed": "tag + restic check",
        r"^backup \S+ done": "retention + heartbeat",
    }
    stamps = stamps[next(i for i, (_, text) in enumerate(stamps) if re.match(r"^backup \S+ \(", text)) :]
    out, previous = [], stamps[0][0]
    for when, text in stamps[1:]:
        key = next((k for k in names if re.search(k, text)), None)
        if key:
            out.append(f"    {names[key]:<42} {(when - previous).total_seconds():6.0f} s")
            previous = when
    return "\n".join(out)


def run_seconds(err: str) -> float:
    """A run's duration from its own log: its first line to its `done` line (1 s resolution)."""
    stamps = [
        datetime.fromisoformat(m.group(1).replace("Z", "+00:00")) for m in re.finditer(r"^(\S+) fr-backup: ", err, re.M)
    ]
    begin = next(
        i
        for i, m in enumerate(re.finditer(r"^\S+ fr-backup: (.*)$", err, re.M))
        if re.match(r"backup \S+ \(", m.group(1))
    )
    done = max(
        i
        for i, m in enumerate(re.finditer(r"^\S+ fr-backup: (.*)$", err, re.M))
        if re.match(r"backup \S+ done", m.group(1))
    )
    return (stamps[done] - stamps[begin]).total_seconds()


def in_container(stage: BackupStage, script: str) -> float:
    """`script` in the backup container with the job's own credentials and role (its rendered env file),
    as the job runs pg_dump and pg_restore: seconds it took."""
    start = time.monotonic()
    proc = stage.docker.run(
        "exec",
        stage.cid,
        "sh",
        "-c",
        f"set -a; . {va.secrets_mount_path(job.SERVICE)}/{job.ENV_FILE}; set +a; {script}",
        check=False,
        timeout=7200,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{script[:60]} failed: {proc.stderr.decode(errors='replace')[-1000:]}")
    return time.monotonic() - start


def ratio(what: str, seconds: float, raw: float) -> str:
    verdict = "within" if seconds <= 1.5 * raw else "ABOVE"
    return f"{what}: {seconds:.0f} s / {raw:.0f} s = {seconds / raw:.2f}x ({verdict} the 1.5x goal)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    docker, bao, s3 = Docker(), OpenBao(), S3Server()
    stage = None
    try:
        docker.start()
        bao.start()
        s3.start()
        agent, image = docker.build_agent_image(), backup_image(docker.api())
        stage = BackupStage(docker, bao, s3, agent, image, "bench", overrides={"backupMemoryMb": "1024"})
        rows = int(args.size_mb * 1024 * 1024 / (ROW_BYTES * ON_DISK))
        began = time.monotonic()
        stage.sql(
            "finance_report",
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version "
            "VALUES ('bench')",
        )
        # Random hex text: about as compressible as real text (2:1), so the stored size is not flattered.
        memo = " || ' ' || ".join(["md5(random()::text)"] * (ROW_BYTES // 40))
        stage.sql(
            "finance_report",
            "CREATE TABLE ledger_lines AS SELECT g AS id, now() - g * interval '1 minute' AS at, (g % 9973) "
            "* 1.01 AS amount, "
            f"{memo} AS memo FROM generate_series(1, {rows}) g",
        )
        db_bytes = stage.sql("postgres", "SELECT pg_database_size('finance_report')")[0][0]
        print(f"machine: {machine()}")
        print(f"database: {db_bytes / 2**20:.0f} MiB ({rows} rows) generated in {time.monotonic() - began:.0f} s")

        stage.start()
        began = time.monotonic()
        stage.wait_first_backup(seconds=7200)  # the service's own first backup at start
        print(f"first (full) backup at service start, until healthy: {time.monotonic() - began:.0f} s")
        print(timeline(stage.logs()))
        full_run = run_seconds(stage.logs())

        # The same database, the same container, tools and role: a raw custom-format dump to a file on the
        # scratch volume (pg_dump's default compression) and its restore into a new database.
        raw = f"{job.SCRATCH}/tmp/raw.dump"
        raw_dump = in_container(stage, f"exec pg_dump -Fc --no-password -f {raw}")
        raw_size = int(stage.docker.run("exec", stage.cid, "sh", "-c", f"wc -c < {raw}").stdout)
        raw_restore = in_container(
            stage,
            'psql -X -q -d postgres -c "CREATE DATABASE finance_report_raw OWNER $DB_OWNER" && '
            f'exec pg_restore --exit-on-error --no-owner --role="$DB_OWNER" -d finance_report_raw {raw}',
        )
        stage.docker.run("exec", stage.cid, "rm", "-f", raw)
        stage.sql("postgres", "DROP DATABASE finance_report_raw")
        print(
            f"raw pg_dump -Fc to a file: {raw_dump:.0f} s ({raw_size / 2**20:.0f} MiB); raw pg_restore of it: "
            f"{raw_restore:.0f} s"
        )
        print(f"S3 repository after it: {sum(len(v) for v in s3.objects().values()) / 2**20:.0f} MiB")
        seconds, err = run_once(stage, "benchmark")
        incremental_run = seconds
        snapshot = max((s for s in stage.snapshots() if "kind=db" in s["tags"]), key=lambda s: s["time"])
        dump = int(next(t for t in snapshot["tags"] if t.startswith("bytes="))[6:])
        stored = sum(len(v) for v in s3.objects().values())
        print(
            f"backup run (dump of {dump / 2**20:.0f} MiB, second run: deduplicated against the first): {seconds:.0f} s"
        )
        print(timeline(err))
        print(
            f"S3 repository after two runs: {stored / 2**20:.0f} MiB in {len(s3.objects())} objects (restic: "
            "zstd-compressed, encrypted)"
        )

        stage.sql("finance_report", "UPDATE ledger_lines SET amount = amount + 1 WHERE id % 100 = 0")
        seconds, err = run_once(stage, "after 1% of the rows changed")
        print(
            f"backup run after 1% of the rows changed: {seconds:.0f} s; S3 now "
            f"{sum(len(v) for v in s3.objects().values()) / 2**20:.0f} MiB"
        )

        start = time.monotonic()
        code, _out, err = stage.job("restore", "latest", "finance_report_bench_restore", timeout=7200)
        if code != 0:
            raise SystemExit(f"restore failed: {err[-2000:]}")
        restore = time.monotonic() - start
        print(f"restore into a new database (restic dump | pg_restore): {restore:.0f} s")
        restored = stage.sql("finance_report_bench_restore", "SELECT count(*) FROM ledger_lines")[0][0]
        print(f"restored rows: {restored} of {rows}")
        print(ratio("full backup run / raw dump", full_run, raw_dump))
        print(ratio("incremental backup run / raw dump", incremental_run, raw_dump))
        print(ratio("restore / raw restore", restore, raw_restore))
        print(
            "a backup run is a dump and a restore (its check) and more: at best (raw dump + raw restore) / raw dump "
            f"= {(raw_dump + raw_restore) / raw_dump:.2f}x"
        )
    finally:
        if stage is not None:
            stage.remove()
            stage.stop()
        docker.stop()
        s3.stop()
        bao.stop()


if __name__ == "__main__":
    main()
