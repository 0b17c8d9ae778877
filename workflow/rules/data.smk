# Datasets: the evaluation split first, then the training split, which excludes
# every puzzle state of the evaluation split.


rule build_data:
    input:
        exclude=lambda wc: ["results/data/eval"] if wc.split == "train" else [],
    output:
        data=directory("results/data/{split}"),
    log:
        "logs/build_data/{split}.log",
    benchmark:
        "logs/benchmarks/build_data/{split}.tsv"
    conda:
        conda_env("data")
    threads: res("data", "threads")
    resources:
        **job_resources("data"),
    params:
        cli=VISREASON,
        settings=PARAMS_ARGS,
        tracked=tracked("data", "categories"),
        exclude=lambda wc: "--exclude results/data/eval" if wc.split == "train" else "",
    shell:
        "{params.cli} data build --split {wildcards.split} --out {output.data} {params.exclude}"
        " {params.settings} > {log} 2>&1"


rule preview_data:
    input:
        data="results/data/{split}",
    output:
        preview=report(
            "results/data/preview-{split}.png",
            caption="../report/preview.rst",
            category="Data",
            labels={"split": "{split}"},
        ),
    log:
        "logs/preview_data/{split}.log",
    benchmark:
        "logs/benchmarks/preview_data/{split}.tsv"
    conda:
        conda_env("data")
    threads: 1
    resources:
        **job_resources("data"),
    params:
        cli=VISREASON,
        tracked=tracked("data", "categories"),
    shell:
        "{params.cli} data preview --data {input.data} --out {output.preview} > {log} 2>&1"
