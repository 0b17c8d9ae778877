# Helpers shared by the rules (the command line, tracked params, job resources)
# and by the Snakefile (the profile's placeholders, dvc.lock after a run).
# Rules take these values through `params:`, so each job's command is complete
# provenance on its own (and `dvc.yaml` gets the same command).

import importlib.util
import os
import sys
from pathlib import Path

from snakemake.cli import get_profile_dir

from visreason.params import BASE_TAG, CAPTIONERS, run_tag, split_tag

SCALE = P["scale"]
# Every job runs `python -m visreason` with the repository's src/ as its path
# (relative: jobs run at the repository root), so the same command works in the
# calling environment, in envs/*.yaml and under DVC. Job output goes to log files:
# no third-party progress bars there (tqdm reads TQDM_DISABLE); visreason's own
# progress prints plain lines in logs.
JOB_ENV = "TQDM_DISABLE=1 PYTHONPATH=src"
VISREASON = f"{JOB_ENV} python -m visreason"
# Training on several GPUs runs through accelerate with DeepSpeed ZeRO-3 (the study
# fine-tunes all weights of the 7B model, which does not fit one GPU).
TRAIN_GPUS = P["resources"]["train"]["gpus"]
TRAIN_LAUNCHER = (
    f"{JOB_ENV} accelerate launch --num_processes {TRAIN_GPUS} --config_file configs/accelerate/zero3.yaml -m visreason"
    if TRAIN_GPUS > 1
    else VISREASON
)
# Every command reads the same params file at the same scale as this DAG.
PARAMS_ARGS = f"--params {PARAMS_FILE} --scale {SCALE}"

REWARDS = list(P["rewards"])
SEEDS = [int(s) for s in P["seeds"]]
TRAINED_TAGS = [run_tag(r, s) for r in REWARDS for s in SEEDS]
EVAL_MODES = list(P["evaluate"].get("modes", ["image", "text", "image+caption"]))
# The captioner whose captions the `image+caption` mode shows beside the image.
CAPTION_SOURCE = P["evaluate"].get("caption_source", "model")
# The prompt format the base model is evaluated with (it was trained on none).
BASE_PROMPT = P["evaluate"].get("base_prompt", "vanilla")

# `tiny` is built locally by a rule; anything else is a Hugging Face id or a path.
TINY = P["model"]["name"] == "tiny"
BASE_MODEL = "results/model/tiny" if TINY else P["model"]["name"]


def tracked(*keys):
    """The params.yaml values a rule depends on, keyed by dotted path.

    Given as the rule's `params.tracked`, so Snakemake reruns the job when one of
    them changes; `workflow/dvc_from_snakemake.py` turns the keys into the DVC
    stage's `params:`. Keys may hold wildcards (`rewards.{reward}`); `scales`
    always contributes only the active scale's table.
    """

    def values(wildcards):
        out = {}
        for key in ("scale", f"scales.{SCALE}", *keys):
            node = config
            for part in key.format(**wildcards).split("."):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            out[key.format(**wildcards)] = node
        return out

    return values


def res(stage, key):
    return P["resources"][stage][key]


def conda_env(stage):
    """The GPU environment for jobs that ask for GPUs, the CPU one otherwise."""
    return "../../envs/gpu.yaml" if res(stage, "gpus") > 0 else "../../envs/cpu.yaml"


def job_resources(stage):
    """Snakemake/SLURM resources; `gpu` only when GPUs are asked for (CPU nodes get no --gpus)."""
    out = {"mem_mb": res(stage, "mem_mb"), "runtime": res(stage, "runtime")}
    if res(stage, "gpus") > 0:
        out["gpu"] = res(stage, "gpus")
    return out


def base_model_input(wildcards=None):
    """The base model as an input of a job: the built folder for `tiny`, nothing otherwise."""
    return [BASE_MODEL] if TINY else []


def eval_model(wildcards):
    """The model folder (or Hugging Face id) that a tag evaluates."""
    if wildcards.tag == BASE_TAG:
        return BASE_MODEL
    reward, seed = split_tag(wildcards.tag)
    return f"results/train/{reward}/seed{seed}/final"


def eval_inputs(wildcards):
    inputs = {"data": "results/data/eval"}
    if wildcards.tag != BASE_TAG or TINY:
        inputs["model"] = eval_model(wildcards)
    if "image+caption" in EVAL_MODES:
        inputs["captions"] = f"results/captions/eval/{CAPTION_SOURCE}/summary.json"
    return inputs


# The value the shipped SLURM profile holds where a cluster's own must go.
PLACEHOLDER = "CHANGE_ME"


def profile_files():
    """The config files of the profiles given with --profile or $SNAKEMAKE_PROFILE (for messages)."""
    names = [v for v in os.environ.get("SNAKEMAKE_PROFILE", "").split(os.pathsep) if v]
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--profile" and i + 1 < len(argv):
            names.append(argv[i + 1])
        elif arg.startswith("--profile="):
            names.append(arg.split("=", 1)[1])
    found = (get_profile_dir(name) for name in names)
    return [Path(entry[1]) for entry in found if entry]


def check_placeholders():
    """Stop before the first sbatch if a default resource still holds a placeholder, naming file and key."""
    defaults = workflow.resource_settings.default_resources  # None through the API
    for arg in getattr(defaults, "args", None) or []:
        key, _, value = arg.partition("=")
        if PLACEHOLDER in value:
            files = [str(f) for f in profile_files() if value in f.read_text()]
            where = files[-1] if files else "--default-resources"
            raise WorkflowError(
                f"{where}: default-resources: '{key}' is still the placeholder {value}: "
                "set it to your cluster's value, or delete the line"
            )


def dvc_mirror():
    """workflow/dvc_from_snakemake.py as a module: the one definition of the DVC stages."""
    path = Path(workflow.basedir) / "workflow" / "dvc_from_snakemake.py"
    spec = importlib.util.spec_from_file_location("dvc_from_snakemake", path)
    mirror = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mirror)
    return mirror


def record_in_dvc():
    """Record in dvc.lock every job of this run that is now up to date (ran, or had nothing to do)."""
    dag = workflow.dag
    dvc_mirror().record_jobs([job for job in dag.jobs if dag.noneedrun_finished(job)])
