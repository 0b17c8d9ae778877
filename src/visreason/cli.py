"""The `visreason` command: every argument declaration and handler of the package.

Each handler parses, calls one `run_*` function of a stage module, and prints one
line. The stage modules are imported inside the handlers, because they import
torch, transformers, TRL and MLflow (`import visreason.train` takes about 10 s),
which `visreason --help` and argument errors should not wait for. Everything the
parser itself needs (choices, defaults) comes from `visreason.params`, which is light.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import yaml

from visreason import VisreasonError, __version__
from visreason.config import train_settings
from visreason.files import read_json
from visreason.params import ANSWER_FORMATS, BACKENDS, CAPTIONERS, MODES, REWARD_DESIGNS, load_params
from visreason.records import SPLITS

# Metavars: COMMAND for subcommands, an upper-case noun for a value (DIR, FILE, N, ...);
# options with a fixed set of values list them instead.


def _params(args) -> dict:
    return load_params(args.params, args.scale)


def _add_params(parser: argparse.ArgumentParser) -> None:
    """The `--params` and `--scale` options of every command that reads params.yaml."""
    parser.add_argument(
        "--params",
        default="params.yaml",
        metavar="FILE",
        help="params file (default: %(default)s, in the working directory)",
    )
    parser.add_argument(
        "--scale",
        default=None,
        metavar="SCALE",
        help="a key of the file's `scales`, e.g. smoke or paper (default: its `scale`)",
    )


def _subcommands(parser: argparse.ArgumentParser, dest: str):
    return parser.add_subparsers(dest=dest, required=True, metavar="COMMAND")


# ---------------------------------------------------------------- config


def _config_show(args) -> int:
    params = _params(args)
    if args.reward is None:
        print(f"# {args.params} resolved at scale {params['scale']}")
        shown = params
    else:
        print(f"# the training job of {args.reward} at scale {params['scale']}: train, rewards.{args.reward} over it")
        shown = {"train": train_settings(params, args.reward)}
    print(yaml.safe_dump(shown, sort_keys=False), end="")
    return 0


def _add_config(sub) -> None:
    parser = sub.add_parser(
        "config", help="show the resolved settings", description="Show the settings a job runs with."
    )
    actions = _subcommands(parser, "config_command")
    show = actions.add_parser(
        "show",
        help="print the resolved settings of params.yaml, or of one training job",
        description="Print, as YAML, the params resolved at a scale (the scale merged over the settings, the "
        "category set split into in-domain and out-of-domain lists), or with --reward the settings of that "
        "design's training job: `train` with `rewards.<reward>` merged over it.",
    )
    show.add_argument("--reward", choices=REWARD_DESIGNS, default=None, help="a training job's design")
    _add_params(show)
    show.set_defaults(func=_config_show)


# ---------------------------------------------------------------- data


def _data_build(args) -> int:
    from visreason.data import run_build

    manifest = run_build(_params(args), args.split, args.out, args.exclude)
    print(f"wrote {manifest['num_records']} {args.split} records ({manifest['source']}) to {args.out}")
    return 0


def _data_preview(args) -> int:
    from visreason.data import preview

    print(f"wrote {preview(args.data, args.out, args.per_category)}")
    return 0


def _data_verify(args) -> int:
    from visreason.data import verify_dataset

    result = verify_dataset(args.data)
    print(f"{args.data}: {result['records']} records and {result['files']} files verified")
    return 0


def _add_data(sub) -> None:
    parser = sub.add_parser(
        "data",
        help="build, preview and verify puzzle datasets",
        description="Build puzzle datasets (generated, released folder or Hugging Face), preview and verify them.",
    )
    actions = _subcommands(parser, "data_command")

    build = actions.add_parser(
        "build",
        help="build the training or evaluation set that params.yaml asks for",
        description="Build a dataset folder atomically (records.jsonl, images/, manifest.json last) "
        "as params.yaml `data` says.",
    )
    build.add_argument(
        "--split", required=True, choices=SPLITS, help="train (data.train.preset) or eval (data.eval.source)"
    )
    build.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="dataset folder to write (replaced only when complete)"
    )
    build.add_argument(
        "--exclude",
        type=Path,
        default=None,
        metavar="DIR",
        help="dataset whose puzzle states the new one must not contain (the eval set)",
    )
    _add_params(build)
    build.set_defaults(func=_data_build)

    show = actions.add_parser(
        "preview",
        help="write a PNG contact sheet of a dataset",
        description="Write a PNG contact sheet: N puzzles per category with their question and answer.",
    )
    show.add_argument("--data", required=True, type=Path, metavar="DIR", help="dataset folder")
    show.add_argument("--out", required=True, type=Path, metavar="FILE", help="PNG file to write")
    show.add_argument(
        "--per-category", type=int, default=3, metavar="N", help="puzzles per category (default: %(default)s)"
    )
    show.set_defaults(func=_data_preview)

    check = actions.add_parser(
        "verify",
        help="re-hash a dataset against its manifest and re-solve every record",
        description="Check every file's sha256 against manifest.json and every answer against the exact solver.",
    )
    check.add_argument("--data", required=True, type=Path, metavar="DIR", help="dataset folder")
    check.set_defaults(func=_data_verify)


# ---------------------------------------------------------------- model


def _model_tiny(args) -> int:
    from visreason.models import build_tiny_model
    from visreason.warmup import WarmupSettings, warm_up

    params = _params(args)
    seed = params["model"]["tiny_seed"] if args.seed is None else args.seed
    settings = WarmupSettings.from_params(params["model"]["warmup"])
    path = build_tiny_model(args.out, seed=seed, warm_up=partial(warm_up, settings=settings, seed=seed))
    info = read_json(path / "visreason_model.json")
    print(f"tiny model: {path} ({info['parameters']:,} parameters, vocabulary {info['vocab_size']})")
    for prompt, rates in info["warmup"].get("start", {}).items():
        print(f"  after the warm-up, {prompt} prompt: " + ", ".join(f"{k} {v}" for k, v in rates.items()))
    return 0


def _add_model(sub) -> None:
    parser = sub.add_parser("model", help="build or inspect models", description="Model utilities.")
    actions = _subcommands(parser, "model_command")
    tiny = actions.add_parser(
        "tiny",
        help="build the tiny offline Qwen2.5-VL (random weights, then the warm-up of params model.warmup)",
        description="Build a tiny random-weight Qwen2.5-VL with a locally trained tokenizer, then warm it up "
        "(params model.warmup; steps 0: none), deterministically and offline. DIR is written atomically; "
        "DIR/visreason_model.json (with the warm-up's recipe and starting rates) is written last.",
    )
    tiny.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced atomically)")
    tiny.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="weight initialisation seed (default: params model.tiny_seed)",
    )
    _add_params(tiny)
    tiny.set_defaults(func=_model_tiny)


# ---------------------------------------------------------------- captions


def _captions(args) -> int:
    from visreason.captions import run_captions

    summary = run_captions(_params(args), data=args.data, captioner=args.captioner, out=args.out, model=args.model)
    fid = summary["fidelity"]
    cats = ", ".join(f"{c} {v['fidelity']:.2f}" for c, v in fid["per_category"].items())
    print(f"captions ({args.captioner}): mean fidelity {fid['mean']:.3f} [{cats}] -> {args.out}")
    return 0


def _add_captions(sub) -> None:
    p = sub.add_parser(
        "captions",
        help="caption every puzzle of a split (oracle or model) and score caption fidelity",
        description="Write into the --out folder captions.jsonl (one caption per puzzle, with the facts it "
        "states correctly) and summary.json (caption fidelity per category: the share of the state's facts the "
        "captions state).",
    )
    p.add_argument("--data", required=True, metavar="DIR", help="dataset folder written by `visreason data build`")
    p.add_argument(
        "--captioner", required=True, choices=CAPTIONERS, help="oracle (the puzzle engine's description) or model"
    )
    p.add_argument("--model", default=None, metavar="MODEL", help="model folder or claude:<model-id> (captioner model)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _add_params(p)
    p.set_defaults(func=_captions)


# ---------------------------------------------------------------- rewards


def _rewards_audit(args) -> int:
    from visreason.rewards_audit import run_audit

    result = run_audit(_params(args), args.out)
    out = Path(args.out)
    print(f"wrote {out} and {out.with_suffix('.json')}: {result['n_flags']} flags, {result['n_unexpected']} unexpected")
    return 0


def _add_rewards(sub) -> None:
    parser = sub.add_parser(
        "rewards", help="inspect the reward designs", description="Inspect the reward designs before training."
    )
    actions = _subcommands(parser, "rewards_command")
    audit = actions.add_parser(
        "audit",
        help="score every reward on probe completions and flag degenerate ones that score too well",
        description=(
            "Score every reward design on a bank of probe completions per category (correct, wrong, padded, "
            "tag spam, several answers, unclosed, empty, 100,000 characters, ...) and flag every degenerate "
            "probe that scores at least as high as the correct, well-formed completion. Writes a Markdown "
            "table and a JSON summary beside it, and logs to MLflow."
        ),
    )
    audit.add_argument(
        "--out",
        default="results/rewards/audit.md",
        metavar="FILE",
        help="Markdown table to write; audit.json goes beside it (default: %(default)s)",
    )
    _add_params(audit)
    audit.set_defaults(func=_rewards_audit)


# ---------------------------------------------------------------- train


def _train(args) -> int:
    from visreason.train import run_train

    summary = run_train(
        _params(args), reward=args.reward, seed=args.seed, data=args.data, model=args.model, out=args.out
    )
    if summary:
        rewards = ", ".join(f"{k}={v:.3f}" for k, v in summary["final_rewards"].items())
        print(f"visreason train: {summary['steps']} steps in {summary['wall_time_s']} s; final {rewards}")
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="GRPO training of one reward design (TRL)",
        description="Train the model with GRPO (TRL GRPOTrainer) under one reward design. The --out folder gets "
        "checkpoints/, final/ and train_summary.json (last). Rerunning the same command resumes from the newest "
        "checkpoint.",
    )
    p.add_argument("--reward", required=True, choices=REWARD_DESIGNS, help="reward design")
    p.add_argument(
        "--seed", type=int, required=True, metavar="N", help="training seed (data order, sampling, initialisation)"
    )
    p.add_argument(
        "--data", required=True, metavar="DIR", help="training dataset folder (records.jsonl, images/, manifest.json)"
    )
    p.add_argument("--model", required=True, metavar="MODEL", help="model folder or Hugging Face id")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output folder: checkpoints/, final/, train_summary.json"
    )
    _add_params(p)
    p.set_defaults(func=_train)


# ---------------------------------------------------------------- evaluate


def _evaluate(args) -> int:
    from visreason.evaluate import run_evaluate

    results = run_evaluate(
        _params(args),
        model=args.model,
        data=args.data,
        modes=args.mode,
        prompt=args.prompt,
        tag=args.tag,
        out=args.out,
        captions=args.captions,
        answer_format=args.answer_format,
        backend=args.backend,
    )
    for mode, metrics in results.items():
        acc, n = metrics["accuracy"]["mean"]["accuracy"], metrics["n"]
        print(f"evaluate {args.tag}/{mode}: mean accuracy {acc:.3f} over {n} puzzles -> {Path(args.out) / mode}")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a model (or claude:<model-id>) on a split",
        description="Generate answers for every puzzle of a split in each --mode, score them with the rewards' "
        "scorer, and write samples.jsonl and metrics.json into <--out>/<mode>/ (per-category accuracy with 95% "
        "Wilson intervals, in/out-of-domain means, reasoning-behaviour rates). Rerunning an interrupted "
        "evaluation resumes it.",
    )
    p.add_argument(
        "--model", required=True, metavar="MODEL", help="model folder, or claude:<model-id> for the Anthropic API"
    )
    p.add_argument("--data", required=True, metavar="DIR", help="dataset folder written by `visreason data build`")
    p.add_argument(
        "--mode",
        required=True,
        nargs="+",
        choices=MODES,
        help="one or more inputs, run in turn with the model loaded once: the image, the oracle description, "
        "image and caption, or a blank image",
    )
    p.add_argument(
        "--captions", default=None, metavar="DIR", help="`visreason captions` output folder (mode image+caption)"
    )
    p.add_argument("--prompt", required=True, choices=REWARD_DESIGNS, help="reward design whose prompt format to use")
    p.add_argument("--tag", required=True, metavar="TAG", help="run label: base or <reward>-seed<seed>")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: one subfolder per mode")
    p.add_argument(
        "--answer-format", choices=ANSWER_FORMATS, default=None, help="override params evaluate.answer_format"
    )
    p.add_argument("--backend", choices=BACKENDS, default=None, help="override params evaluate.backend")
    _add_params(p)
    p.set_defaults(func=_evaluate)


# ---------------------------------------------------------------- report


def _report(args) -> int:
    from visreason.report import run_report

    out = run_report(_params(args), args.results, args.out)
    print(f"report -> {out / 'report.md'}")
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="tables and figures from the evaluation and training outputs",
        description="Write report.md (Table 2 and 3 analogues, behaviour, caption fidelity) with PNG figures "
        "and CSV tables, the study's published numbers beside ours.",
    )
    p.add_argument(
        "--results", default="results", metavar="DIR", help="the pipeline's results folder (default: %(default)s)"
    )
    p.add_argument(
        "--out",
        default="results/report",
        metavar="DIR",
        help="output folder, replaced atomically (default: %(default)s)",
    )
    _add_params(p)
    p.set_defaults(func=_report)


# ---------------------------------------------------------------- the command

COMMANDS = [_add_config, _add_data, _add_model, _add_captions, _add_rewards, _add_train, _add_evaluate, _add_report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visreason",
        description="Reward design for GRPO on visual puzzles: data, captions, training, evaluation, report.",
    )
    parser.add_argument("--version", action="version", version=f"visreason {__version__}")
    sub = _subcommands(parser, "command")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except VisreasonError as err:
        print(f"visreason: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visreason: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
