"""`lecs instance list` over 1,000 instances, per fresh process, against raw sqlite3 reading
the same rows in a fresh Python process. Prints numbers; it is not a test.

Run: python bench/cli_list.py [--runs 15] [--instances 1000] [--repo DIR]

With `--repo DIR` a second checkout of lecs (another commit, e.g. one before the operation
journal) is timed in the same run, on an inventory its own `load_bulk` made, so that the two
can be compared under the same load: `git worktree add /tmp/old 854ef1b` first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RAW = ("import sqlite3, json, sys; c = sqlite3.connect(sys.argv[1]);"
       " rows = c.execute('SELECT * FROM instances ORDER BY name').fetchall();"
       " print(json.dumps(rows))")


def make_inventory(repo: Path, count: int) -> Path:
    home = Path(tempfile.mkdtemp(prefix="lecs-bench-list-")) / "home"
    subprocess.run([sys.executable, "-c",
                    f"from sample_data.demo import load_bulk; load_bulk({str(home)!r}, {count})"],
                   cwd=repo, check=True, stdin=subprocess.DEVNULL)
    return home


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repo", type=Path, help="a second lecs checkout to time alongside")
    args = parser.parse_args()
    subjects = {"lecs": REPO} | ({"other": args.repo.resolve()} if args.repo else {})
    homes = {name: make_inventory(repo, args.instances) for name, repo in subjects.items()}
    envs = {name: dict(os.environ, LECS_HOME=str(home), PYTHONPYCACHEPREFIX=str(
        home.parent / "pycache")) for name, home in homes.items()}
    commands = {name: [sys.executable, "-m", "app.main", "instance", "list", "--json"]
                for name in subjects}
    raw = [sys.executable, "-c", RAW, str(homes["lecs"] / "lecs.db")]
    for name in subjects:  # warm caches (and recover / register once)
        timed(commands[name], envs[name], subjects[name])
    timed(raw, envs["lecs"], REPO)
    times: dict[str, list[float]] = {name: [] for name in [*subjects, "raw"]}
    for _ in range(args.runs):  # interleaved: load on the machine hits every subject alike
        times["raw"].append(timed(raw, envs["lecs"], REPO))
        for name in subjects:
            times[name].append(timed(commands[name], envs[name], subjects[name]))
    print(f"`instance list --json` over {args.instances} instances, {args.runs} fresh processes:")
    base = statistics.median(times["raw"])
    for name, values in times.items():
        label = {"raw": "raw sqlite3 (python -c)", "lecs": f"lecs ({REPO.name})",
                 "other": f"lecs ({args.repo})"}[name]
        med = statistics.median(values)
        print(f"  {label:34s} median {med * 1000:6.1f} ms  min {min(values) * 1000:6.1f} ms"
              f"  ratio {med / base:5.2f}")


if __name__ == "__main__":
    main()
