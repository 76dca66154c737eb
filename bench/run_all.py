"""`make bench`: run every benchmark, one after the other, and end with one table of their
BENCH lines (name, project, floor, ratio, target, PASS/MISS).

    .venv/bin/python bench/run_all.py [--only NAME ...]

Every bench/bench_*.py runs, except:
- the ones that run on their own (ALONE: the 12-minute load run has `make bench-load`; the
  cost bench, see its docstring);
- the ones that need a PostgreSQL database of their own (OWN_DATABASE), unless
  BENCH_DATABASE_URL names one: each then gets that URL with its own suffix
  (e.g. postgres://postgres@127.0.0.1:5432/sf_bench -> sf_bench_board, sf_bench_signer);
  the ones that drop and recreate their database and empty a Redis database (RECREATED:
  bulk, code latency, messages, queue latency) also need BENCH_REDIS_URL.

Each script runs with a fresh var folder of its own (a temporary SIGNFLOW_VAR_DIR, removed
after a run that succeeded, kept and named after one that failed): keys, media and mail that an
earlier run or another SECRET_KEY left behind cannot break it, and a script that sets its own
SECRET_KEY makes its own keys. A script not given a database above gets the SQLite database of
that folder (migrated by the script), not the DATABASE_URL of the shell that runs `make bench`.

A script's output is shown as it comes; the lines that start with "BENCH" (bench/_report.py)
are collected. A script that fails or prints no BENCH line gets a row saying so. The exit
status is 1 when a script failed, 0 otherwise (a MISS is a result, not a failure).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ALONE = {"bench_load.py", "bench_cost.py"}
# script -> suffix of its database name under BENCH_DATABASE_URL (given as DATABASE_URL)
OWN_DATABASE = {
    "bench_board.py": "_board",
    "bench_signer.py": "_signer",
    "bench_webhooks.py": "_webhooks",
}
# Benches that drop and recreate the database and empty the Redis database they are given
# (--database, --redis): only with BENCH_DATABASE_URL and BENCH_REDIS_URL (a Redis database
# nothing else uses; they run one after the other, each empties it first).
RECREATED = {
    "bench_bulk.py": "_bulk",
    "bench_code_latency.py": "_code",
    "bench_e2e_sign.py": "_e2e",
    "bench_messages.py": "_messages",
    "bench_queue_latency.py": "_queue",
}
TIMEOUT_SECONDS = 3600
LINE = re.compile(
    r"^BENCH\s+(?P<name>\S+)\s+project=(?P<project>\S+\s+\S+)\s+floor=(?P<floor>\S+\s+\S+)\s+"
    r"ratio=(?P<ratio>\S+)\s+target(?P<target>\S+)\s+(?P<verdict>PASS|MISS)"
)


@dataclass
class Row:
    script: str
    name: str
    project: str = ""
    floor: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def scripts(only: list[str]) -> list[Path]:
    found = sorted(BENCH.glob("bench_*.py"))
    if only:
        return [path for path in found if path.stem in only or path.name in only]
    return [path for path in found if path.name not in ALONE]


# Where the shell's settings would point a script at files an earlier run left behind.
LEFTOVER_PATHS = ("SIGNFLOW_KEYS_DIR", "SIGNFLOW_LEGACY_KEYS_DIR", "MEDIA_ROOT")


def command(script: Path, var_dir: Path) -> tuple[list[str], dict[str, str]] | None:
    """The script's command line and environment (its var folder: `var_dir`), or None when it
    needs a database (or a Redis database) nobody configured."""
    env = {k: v for k, v in os.environ.items() if k not in LEFTOVER_PATHS}
    env.update(
        PYTHONPATH=str(ROOT),
        SIGNFLOW_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'signflow.sqlite3'}",
    )
    env.setdefault("DEBUG", "1")  # the benches need no secrets; a script sets DEBUG=0 itself
    argv = [sys.executable, str(script)]
    base = os.environ.get("BENCH_DATABASE_URL", "")
    redis = os.environ.get("BENCH_REDIS_URL", "")
    if script.name in OWN_DATABASE:
        if not base.startswith("postgres"):
            return None
        env["DATABASE_URL"] = base + OWN_DATABASE[script.name]
    elif script.name in RECREATED:
        if not (base.startswith("postgres") and redis):
            return None
        argv += ["--database", base + RECREATED[script.name], "--redis", redis]
    return argv, env


def run(script: Path) -> list[Row]:
    var_dir = Path(tempfile.mkdtemp(prefix=f"sf-{script.stem}-"))
    found = command(script, var_dir)
    if found is None:
        shutil.rmtree(var_dir)
        needs = "BENCH_DATABASE_URL" + (", BENCH_REDIS_URL" if script.name in RECREATED else "")
        return [Row(script.name, "-", verdict=f"SKIP (set {needs})")]
    argv, env = found
    print(f"\n=== {script.name} (var folder {var_dir})", flush=True)
    rows = _execute(script, argv, env)
    if any(row.verdict.startswith("FAILED") for row in rows):
        print(f"=== {script.name} failed; its var folder is kept: {var_dir}", flush=True)
    else:
        shutil.rmtree(var_dir, ignore_errors=True)
    return rows


def _execute(script: Path, argv: list[str], env: dict[str, str]) -> list[Row]:
    started = time.monotonic()
    rows: list[Row] = []
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for text in process.stdout:
        print(text, end="", flush=True)
        match = LINE.match(text)
        if match:
            rows.append(Row(script.name, **match.groupdict()))
    try:
        code = process.wait(timeout=max(1.0, TIMEOUT_SECONDS - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        process.kill()
        code = -9
    if code != 0:
        rows.append(Row(script.name, "-", verdict=f"FAILED (exit {code})"))
    elif not rows:
        rows.append(Row(script.name, "-", verdict="no BENCH line"))
    return rows


def table(rows: list[Row]) -> str:
    header = ("script", "name", "project", "floor", "ratio", "target", "result")
    cells = [header] + [
        (r.script, r.name, r.project, r.floor, r.ratio, r.target, r.verdict) for r in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="scripts to run (name or stem)")
    args = parser.parse_args()
    rows: list[Row] = []
    for script in scripts(args.only):
        rows.extend(run(script))
    print("\nSummary (" + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + ")")
    print(table(rows), flush=True)
    sys.exit(1 if any(r.verdict.startswith("FAILED") for r in rows) else 0)


if __name__ == "__main__":
    main()
