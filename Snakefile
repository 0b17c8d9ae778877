"""visreason: the whole study as one Snakemake workflow.

    snakemake --cores all                           # default (CPU smoke) scale, locally
    snakemake --profile workflow/profiles/slurm     # every job through sbatch
    snakemake --config scale=paper --profile workflow/profiles/slurm   # the study's scale

params.yaml is the config. Every rule calls the `visreason` command with
`--params params.yaml --scale <scale>`, so the commands and this DAG always see
the same resolved settings. Only `scale` may be overridden with `--config`;
everything else is changed in params.yaml itself.
"""

from visreason import VisreasonError
from visreason.config import read_yaml, resolve
from visreason.params import load_params, validate

PARAMS_FILE = "params.yaml"
# Read the file as every command does before Snakemake's own loader, which gives a
# traceback on a binary or non-UTF-8 file and silently keeps the last of duplicated keys.
try:
    read_yaml(PARAMS_FILE)
except VisreasonError as err:
    raise WorkflowError(str(err)) from None


configfile: PARAMS_FILE


# The same validation every `visreason` command runs: a bad key stops here,
# named by its dotted path, before any job starts.
try:
    validate(config, source=PARAMS_FILE)
    P = resolve(config)
    _on_disk = load_params(PARAMS_FILE, P["scale"])
except VisreasonError as err:
    raise WorkflowError(str(err)) from None
if _on_disk != P:
    raise WorkflowError(
        f"--config/--configfile may only change `scale`; edit {PARAMS_FILE} for anything else "
        "(the jobs read it, so the DAG and the commands would disagree)"
    )


onstart:
    # One tracking store for all jobs: create it (and the experiment) before
    # parallel jobs race to (see visreason.tracking).
    from visreason.tracking import prepare_store

    prepare_store(P)


include: "workflow/rules/common.smk"


wildcard_constraints:
    split="train|eval",
    reward="|".join(REWARDS),
    seed=r"\d+",
    tag="base|[a-z0-9_]+-seed\d+",
    mode=r"image|text|image\+caption",
    captioner="oracle|model",


include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/captions.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        report=rules.report_results.output.report,
        audit=rules.audit_rewards.output.audit,
        previews=expand("results/data/preview-{split}.png", split=["train", "eval"]),
