# The base model. `model.name: tiny` builds a small random-weight Qwen2.5-VL
# offline; any other name (a Hugging Face id or a local path) is used as is.


rule build_model:
    output:
        model=directory("results/model/tiny"),
    log:
        "logs/build_model/tiny.log",
    benchmark:
        "logs/benchmarks/build_model/tiny.tsv"
    conda:
        conda_env("model")
    threads: res("model", "threads")
    resources:
        **job_resources("model"),
    params:
        cli=VISREASON,
        settings=PARAMS_ARGS,
        tracked=tracked("model"),
    shell:
        "{params.cli} model tiny --out {output.model} {params.settings} > {log} 2>&1"
