"""What `fuse build --resume` saves: a clean build, the same build killed (SIGKILL) partway, its resume.

Runs real `fuse build` processes on the databases of a roots file (Parquet output):

1. a clean build, timed;
2. the same build in a new folder, killed with SIGKILL once its resume journal records at least
   ``--kill-at`` of the clean build's rows (the time until the kill is printed);
3. ``--resume`` of it, timed; its set, rejection list and report counts are compared with the clean
   build's (every part byte for byte).

    python bench/fuse_build_resume.py --roots /data/roots.yaml --sources 300w_lp --workers 2
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN_KEYS = ("seconds", "output", "rejected_file", "settings", "resumed")


def fuse(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from cli import fuse; fuse()", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def digests(folder: Path, out: str) -> dict[str, str]:
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / out).iterdir())}
    found["rejected"] = hashlib.sha256((folder / f"{out}.rejected.jsonl").read_bytes()).hexdigest()
    return found


def counts(folder: Path, out: str) -> dict:
    report = json.loads((folder / f"{out}.report.json").read_text())
    return {k: v for k, v in report.items() if k not in RUN_KEYS}


def journal_rows(folder: Path, out: str) -> int:
    for path in folder.glob(f".{out}.fuse-build-*.tmp/build-journal.json"):
        try:
            return sum(part["rows"] for part in json.loads(path.read_text())["parts"])
        except (OSError, ValueError):
            return 0
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roots", required=True, type=Path)
    parser.add_argument("--sources", default="all")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the rows")
    parser.add_argument("--part-rows", type=int, default=2000)
    args = parser.parse_args()
    common = ["build", "--roots", str(args.roots.resolve()), "--sources", args.sources, "--workers",
              str(args.workers), "--part-rows", str(args.part_rows), "--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        clean = fuse(common + ["--out", "clean"], folder)
        out, err = clean.communicate()
        assert clean.returncode == 0, out + err
        clean_seconds = time.perf_counter() - started
        total = sum(json.loads((folder / "clean.report.json").read_text())["totals"][k]
                    for k in ("kept",))
        started = time.perf_counter()
        killed = fuse(common + ["--out", "killed"], folder)
        while journal_rows(folder, "killed") < args.kill_at * total:
            if killed.poll() is not None:
                raise SystemExit("the build ended before it could be killed: lower --kill-at")
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
        until_kill = time.perf_counter() - started
        done = journal_rows(folder, "killed")
        started = time.perf_counter()
        resumed = fuse(common + ["--out", "killed", "--resume"], folder)
        out, err = resumed.communicate()
        assert resumed.returncode == 0, out + err
        resume_seconds = time.perf_counter() - started
        same = digests(folder, "killed") == digests(folder, "clean") and \
            counts(folder, "killed") == counts(folder, "clean")
    print(f"{total} faces, {args.workers} workers, parts of {args.part_rows} rows")
    print(f"clean build                      {clean_seconds:7.1f} s")
    print(f"killed after                     {until_kill:7.1f} s  ({done} faces in complete parts, "
          f"{done / total:.0%})")
    print(f"--resume                         {resume_seconds:7.1f} s  "
          f"({resume_seconds / clean_seconds:.0%} of the clean build)")
    print(f"resumed output identical to the clean one: {same}")


if __name__ == "__main__":
    main()
