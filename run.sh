#!/usr/bin/env bash
# Install visreason and run the whole default pipeline (CPU, offline) with Snakemake.
#   bash run.sh                   -> results/report/report.md
#   bash run.sh --profile slurm   (extra arguments go to snakemake)
# Snakemake applies the workflow profile profiles/default (all cores, keep-going,
# rerun-incomplete); after the run the Snakefile records it in dvc.lock, so
# `dvc status` and `dvc repro` agree with it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# torch first, from the pinned version: a bare dependency would pull a multi-GB CUDA build.
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -c constraints.txt -e ".[workflow,dev]"
snakemake "$@"
echo "report: results/report/report.md"
