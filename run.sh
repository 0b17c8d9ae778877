#!/usr/bin/env bash
# Install visreason and run the whole default pipeline (CPU, offline) with Snakemake.
#   bash run.sh                 -> results/report/report.md
#   bash run.sh --config scale=paper --profile workflow/profiles/slurm   (extra args go to snakemake)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# torch first, from the pinned version: a bare dependency would pull a multi-GB CUDA build.
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -c constraints.txt -e ".[workflow,dev]"
if [[ $# -eq 0 ]]; then
    set -- --cores all
fi
snakemake "$@"
echo "report: results/report/report.md"
