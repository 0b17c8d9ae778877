"""Read the pipeline's MLflow runs back and check that every stage job left one.

    python .ci/check_mlflow.py [--since EPOCH_MS]

Expects, for the resolved params.yaml: runs of the data, captions, train,
evaluate and report stages, one train run per reward x seed, and the standard
tags (git commit, stage, scale; reward and seed on training runs) on each.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from mlflow.tracking import MlflowClient

from visreason.params import load_params
from visreason.tracking import tracking_uri


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=int, default=0, help="only runs started after this time (ms since epoch)")
    args = parser.parse_args()
    params = load_params()
    client = MlflowClient(tracking_uri(params))
    exp = client.get_experiment_by_name(params["tracking"]["experiment"])
    if exp is None:
        print(f"no experiment {params['tracking']['experiment']!r} in {tracking_uri(params)}", file=sys.stderr)
        return 1
    runs = [r for r in client.search_runs([exp.experiment_id], max_results=50000) if r.info.start_time >= args.since]
    stages = Counter(r.data.tags.get("stage", "?") for r in runs)
    print(f"{len(runs)} runs in {tracking_uri(params)}: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
    problems = [f"no '{s}' run" for s in ("data", "captions", "train", "evaluate", "report") if not stages[s]]
    trained = {
        (r.data.tags.get("reward"), r.data.tags.get("seed")) for r in runs if r.data.tags.get("stage") == "train"
    }
    problems += [
        f"no train run for {r} seed {s}"
        for r in params["rewards"]
        for s in params["seeds"]
        if (r, str(s)) not in trained
    ]
    problems += [
        f"run {r.info.run_id} ({r.data.tags.get('stage')}) lacks tag {t}"
        for r in runs
        for t in ("git_commit", "stage", "scale")
        if not r.data.tags.get(t)
    ]
    problems += [
        f"run {r.info.run_id} ({r.data.tags.get('stage')}) ended {r.info.status}"
        for r in runs
        if r.info.status != "FINISHED"
    ]
    for p in problems:
        print(f"  problem: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
