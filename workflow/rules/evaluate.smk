# Evaluation: the base model and every trained model, in every input mode.
# Tags: `base`, or `<reward>-seed<seed>` for a trained model.


rule evaluate_model:
    input:
        unpack(eval_inputs),
    output:
        samples="results/eval/{tag}/{mode}/samples.jsonl",
        metrics="results/eval/{tag}/{mode}/metrics.json",
    log:
        "logs/evaluate_model/{tag}-{mode}.log",
    benchmark:
        "logs/benchmarks/evaluate_model/{tag}-{mode}.tsv"
    conda:
        conda_env("evaluate")
    threads: res("evaluate", "threads")
    resources:
        **job_resources("evaluate"),
    params:
        cli=VISREASON,
        settings=PARAMS_ARGS,
        tracked=tracked("evaluate", "categories"),
        model=eval_model,
        prompt=lambda wc: (BASE_PROMPT if wc.tag == BASE_TAG else split_tag(wc.tag)[0]),
        captions=lambda wc: (
            f"--captions results/captions/eval/{CAPTION_SOURCE}"
            if wc.mode == "image+caption"
            else ""
        ),
        out="results/eval/{tag}/{mode}",
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} evaluate --model {params.model} --data {input.data}"
        " --mode {wildcards.mode} {params.captions} --prompt {params.prompt} --tag {wildcards.tag}"
        " --out {params.out} {params.settings} > {log} 2>&1"
