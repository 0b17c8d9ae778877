# GRPO training: one job per reward design x seed. Checkpoints under
# checkpoints/ are not outputs, so Snakemake keeps them between attempts and a
# retried (e.g. preempted) job resumes from the newest one.


rule audit_rewards:
    output:
        audit=report(
            "results/rewards/audit.md",
            caption="../report/audit.rst",
            category="Rewards",
        ),
    log:
        "logs/audit_rewards/audit.log",
    benchmark:
        "logs/benchmarks/audit_rewards/audit.tsv"
    conda:
        conda_env("report")
    threads: 1
    resources:
        **job_resources("report"),
    params:
        cli=VISREASON,
        settings=PARAMS_ARGS,
        # The audit probes the reward functions themselves (code), not the
        # per-design training settings under `rewards.<name>`.
        tracked=tracked("categories"),
    shell:
        "{params.cli} rewards audit --out {output.audit} {params.settings} > {log} 2>&1"


rule train_model:
    input:
        data="results/data/train",
        model=base_model_input,
    output:
        final=directory("results/train/{reward}/seed{seed}/final"),
        summary="results/train/{reward}/seed{seed}/train_summary.json",
    log:
        "logs/train_model/{reward}-seed{seed}.log",
    benchmark:
        "logs/benchmarks/train_model/{reward}-seed{seed}.tsv"
    # Training is the long chain of the DAG (each run then unlocks its evaluation):
    # started before the evaluations and captions that are ready beside it, it keeps
    # every core busy until the last evaluation, instead of leaving a lone run at the end.
    priority: 1
    conda:
        conda_env("train")
    threads: res("train", "threads")
    resources:
        **job_resources("train"),
    params:
        cli=TRAIN_LAUNCHER,
        settings=PARAMS_ARGS,
        tracked=tracked("train", "model", "rewards.{reward}"),
        out="results/train/{reward}/seed{seed}",
        # Resume state: never deleted by Snakemake, `persist` in DVC, not cached.
        checkpoints="results/train/{reward}/seed{seed}/checkpoints",
        model=BASE_MODEL,
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} train --reward {wildcards.reward} --seed {wildcards.seed}"
        " --data {input.data} --model {params.model} --out {params.out} {params.settings} > {log} 2>&1"
