# Captions of the evaluation puzzles: the oracle (the exact text rendering of the
# state) and the base model's own description, scored for fact fidelity.


rule caption_puzzles:
    input:
        data="results/data/{split}",
        model=lambda wc: base_model_input() if wc.captioner == "model" else [],
    output:
        captions="results/captions/{split}/{captioner}/captions.jsonl",
        summary=report(
            "results/captions/{split}/{captioner}/summary.json",
            caption="../report/captions.rst",
            category="Captions",
            labels={"split": "{split}", "captioner": "{captioner}"},
        ),
    log:
        "logs/caption_puzzles/{split}-{captioner}.log",
    benchmark:
        "logs/benchmarks/caption_puzzles/{split}-{captioner}.tsv"
    conda:
        conda_env("captions")
    threads: res("captions", "threads")
    resources:
        **job_resources("captions"),
    params:
        cli=VISREASON,
        settings=PARAMS_ARGS,
        tracked=tracked("captions", "model", "data", "categories"),
        model=lambda wc: f"--model {BASE_MODEL}" if wc.captioner == "model" else "",
        out="results/captions/{split}/{captioner}",
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} captions --data {input.data} --captioner {wildcards.captioner}"
        " {params.model} --out {params.out} {params.settings} > {log} 2>&1"
