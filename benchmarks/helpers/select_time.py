"""Time `rlvr select` (recipe r1-sft by default) over a synthetic lake (select_lake.py) in this
process: wall time, user/system CPU, peak RSS, load average, funnel with per-step seconds; the
JSON goes to stdout and, with --out, to a file (benchmarks/.work/ by convention).

    .venv/bin/python benchmarks/helpers/select_lake.py benchmarks/.work/lake1m --rows 1000000
    /usr/bin/time -v .venv/bin/python benchmarks/helpers/select_time.py benchmarks/.work/lake1m
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.helpers.select_lake import GEN
from engine.curate import load_recipe, select
from engine.lake import Lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--recipe", default="r1-sft")
    parser.add_argument("--name", default="bench")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lake = Lake.open(args.lake, create=False)
    shutil.rmtree(args.lake / "datasets" / args.name, ignore_errors=True)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    result = select(lake, [GEN], load_recipe(args.recipe), args.name)
    after = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "recipe": args.recipe,
        "input_rows": result.input_rows,
        "rows": result.rows,
        "wall_s": round(time.perf_counter() - wall, 2),
        "user_s": round(after.ru_utime - cpu.ru_utime, 2),
        "system_s": round(after.ru_stime - cpu.ru_stime, 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024),  # this process (children not counted)
        "children_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "ids_sha256": result.lineage["ids_sha256"],
        "funnel": [
            {"step": f.step, "kept": f.kept, "dropped": f.dropped, "s": round(f.seconds, 2)}
            for f in result.funnel
        ],
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
