"""visreason: the whole study as one Snakemake workflow.

    snakemake                                   # the default scale, locally, on all cores
    snakemake --profile slurm                   # every job through sbatch
    snakemake --profile slurm --config scale=paper   # the study's scale

From the repository root, Snakemake applies the workflow profile profiles/default
(all cores, keep-going, rerun-incomplete) to every run; `--profile slurm` adds
the SLURM profile (slurm/config.yaml). params.yaml is the config. Every rule
calls the `visreason` command with `--params params.yaml --scale <scale>`, so the
commands and this DAG always see the same resolved settings. Only `scale` may be
overridden with `--config`; everything else is changed in params.yaml itself.
After a run, dvc.lock records every job found up to date (see onsuccess), so
`dvc status` and `dvc repro` agree with Snakemake.
"""

import os

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
    # Imported here, not at the top: importing MLflow takes 15-20 s, which every
    # `snakemake -n` would wait for.
    from visreason import tracking

    # One tag value for every run of this invocation (jobs inherit the
    # environment, through sbatch too), and one store for all jobs, created
    # before parallel jobs race to create it.
    os.environ.setdefault(tracking.PIPELINE_ENV, tracking.new_pipeline_id())
    print(
        f"MLflow: runs of this pipeline are tagged pipeline={os.environ[tracking.PIPELINE_ENV]}"
    )
    tracking.prepare_store(P)


onsuccess:
    record_in_dvc()


onerror:
    record_in_dvc()


include: "workflow/rules/common.smk"


check_placeholders()


wildcard_constraints:
    split="train|eval",
    reward="|".join(REWARDS),
    seed=r"\d+",
    tag="base|[a-z0-9_]+-seed\d+",
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
