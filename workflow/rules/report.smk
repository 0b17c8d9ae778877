# The report: tables and figures from every metrics file and training summary.


rule report_results:
    input:
        metrics=expand(
            "results/eval/{tag}/{mode}/metrics.json",
            tag=[BASE_TAG, *TRAINED_TAGS],
            mode=EVAL_MODES,
        ),
        train=expand(
            "results/train/{reward}/seed{seed}/train_summary.json",
            reward=REWARDS,
            seed=SEEDS,
        ),
        captions=expand(
            "results/captions/eval/{captioner}/summary.json", captioner=CAPTIONERS
        ),
    output:
        report=report(
            directory("results/report"),
            patterns=["{name}.png", "{name}.csv"],
            caption="../report/figures.rst",
            category="Report",
        ),
    log:
        "logs/report_results/report.log",
    benchmark:
        "logs/benchmarks/report_results/report.tsv"
    conda:
        conda_env("report")
    threads: 1
    resources:
        **job_resources("report"),
    params:
        cli=VISREASON,
        settings=PARAMS_ARGS,
        tracked=tracked("categories"),
    shell:
        "{params.cli} report --results results --out {output.report} {params.settings} > {log} 2>&1"
