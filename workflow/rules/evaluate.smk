# Evaluation: the base model and every trained model, in every input mode.
# Tags: `base`, or `<reward>-seed<seed>` for a trained model. One job per model runs
# every mode in turn: the libraries and the model load once, which on CPU is most of
# an evaluation's time.


rule evaluate_model:
    input:
        unpack(eval_inputs),
    output:
        samples=expand("results/eval/{{tag}}/{mode}/samples.jsonl", mode=EVAL_MODES),
        metrics=expand("results/eval/{{tag}}/{mode}/metrics.json", mode=EVAL_MODES),
    log:
        "logs/evaluate_model/{tag}.log",
    benchmark:
        "logs/benchmarks/evaluate_model/{tag}.tsv"
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
        modes=" ".join(EVAL_MODES),
        prompt=lambda wc: (BASE_PROMPT if wc.tag == BASE_TAG else split_tag(wc.tag)[0]),
        captions=(
            f"--captions results/captions/eval/{CAPTION_SOURCE}"
            if "image+caption" in EVAL_MODES
            else ""
        ),
        out="results/eval/{tag}",
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} evaluate --model {params.model} --data {input.data}"
        " --mode {params.modes} {params.captions} --prompt {params.prompt} --tag {wildcards.tag}"
        " --out {params.out} {params.settings} > {log} 2>&1"
