# Helpers shared by the rules: the command line, tracked params, job resources.
import os

# Rules run `python -m visreason` with the repository's src/ first on the path,
# so the same command works in the calling environment and in envs/*.yaml.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in [str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")] if p
)
# Job output goes to log files: no third-party progress bars there (tqdm >= 4.66
# reads TQDM_* defaults); visreason's own progress prints plain lines in logs.
os.environ.setdefault("TQDM_DISABLE", "1")
SCALE = P["scale"]
VISREASON = f"python -m visreason"
# Training on several GPUs runs through accelerate with DeepSpeed ZeRO-3 (the study
# fine-tunes all weights of the 7B model, which does not fit one GPU).
TRAIN_GPUS = P["resources"]["train"]["gpus"]
TRAIN_LAUNCHER = (
    f"accelerate launch --num_processes {TRAIN_GPUS} --config_file configs/accelerate/zero3.yaml -m visreason"
    if TRAIN_GPUS > 1
    else VISREASON
)
PARAMS_ARGS = f"--params {PARAMS_FILE} --scale {SCALE}"

REWARDS = list(P["rewards"])
SEEDS = [int(s) for s in P["seeds"]]
TRAINED_TAGS = [f"{r}-seed{s}" for r in REWARDS for s in SEEDS]
EVAL_MODES = list(P["evaluate"].get("modes", ["image", "text", "image+caption"]))
CAPTIONERS = ["oracle", "model"]
# The captioner whose captions the `image+caption` mode shows beside the image.
CAPTION_SOURCE = P["evaluate"].get("caption_source", "model")
# The prompt format the base model is evaluated with (it was trained on none).
BASE_PROMPT = P["evaluate"].get("base_prompt", "vanilla")

# `tiny` is built locally by a rule; anything else is a Hugging Face id or a path.
TINY = P["model"]["name"] == "tiny"
BASE_MODEL = "results/model/tiny" if TINY else P["model"]["name"]


wildcard_constraints:
    split="train|eval",
    reward="|".join(REWARDS),
    seed=r"\d+",
    tag="base|[a-z_]+-seed\d+",
    mode=r"image|text|image\+caption",
    captioner="oracle|model",


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
    """The base model as a rule input: the built folder for `tiny`, nothing otherwise."""
    return [BASE_MODEL] if TINY else []


def eval_model(wildcards):
    """The model folder (or Hugging Face id) that a tag evaluates."""
    if wildcards.tag == "base":
        return BASE_MODEL
    reward, seed = wildcards.tag.rsplit("-seed", 1)
    return f"results/train/{reward}/seed{seed}/final"


def eval_inputs(wildcards):
    inputs = {"data": "results/data/eval"}
    if wildcards.tag != "base" or TINY:
        inputs["model"] = eval_model(wildcards)
    if wildcards.mode == "image+caption":
        inputs["captions"] = f"results/captions/eval/{CAPTION_SOURCE}/summary.json"
    return inputs
