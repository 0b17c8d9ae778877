# Helpers shared by the rules: the command line, tracked params, job resources.
# Rules take these values through `params:`, so each job's command is complete
# provenance on its own (and `dvc.yaml` gets the same command).

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
    if wildcards.mode == "image+caption":
        inputs["captions"] = f"results/captions/eval/{CAPTION_SOURCE}/summary.json"
    return inputs
