"""`visreason report` on small synthetic pipeline outputs whose numbers are computed by hand.

The fixture is nine categories of ten puzzles. Puzzle i of every category is answered
correctly by:
- base (image): i = 0 (10%); text: clock i < 6, others i = 0; blank: none;
- mixture seed 0: i < 2, seed 1: i < 4 (per puzzle 1, 1, .5, .5, 0...: 30%); blank: seed 0 i = 0;
- vanilla seed 0: i < 3 (30%), a run that made no update;
- random seeds 0 and 1: i = 0 (10%);
- an external model `claude37` (thinking): image i < 3, text i < 6.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from visreason import VisreasonError
from visreason.files import sha256_file
from visreason.params import load_params
from visreason.report import build_report, cell
from visreason.report_inputs import CategorySet, Est, window
from visreason.stats import wilson, window_rise

CATS = [
    "clock",
    "maze",
    "move_box",
    "n_queens",
    "number_slide",
    "tower_of_hanoi",
    "water_jugs",
    "checker_move",
    "rotting_kiwi",
]
N = 10  # puzzles per category


def pid(cat: str, i: int) -> str:
    return f"{cat}-eval-{i:05d}"


def options(cat: str) -> list[str]:
    return ["1:00", "2:00", "3:00", "4:00"] if cat == "clock" else ["1", "2", "3", "4"]


def gold(cat: str, i: int) -> str:
    return options(cat)[0 if i < 3 else 1]  # the training set's commonest answer is right on i < 3


def write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def write_lines(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def sample(cat: str, i: int, correct: bool, design: bool) -> dict:
    return {
        "id": pid(cat, i),
        "category": cat,
        "completion": "…",
        "extracted": gold(cat, i) if correct else None,
        "gold": gold(cat, i),
        "correct": int(correct),
        "n_tokens": 30 if design else 40,
        "truncated": not design,
        "behaviour": {
            "structure": design and i < 5,
            "reflection": False,
            "visual_share": 0.0 if design else 0.5,
            "contradiction": None,
            "fact_precision": 0.8 if design else None,
            "fact_recall": (1.0 if i == 0 else 0.5) if design else None,
            "facts_stated": (1.0 if i == 0 else 0.5) if design else None,  # every answer describes
        },
    }


def evaluation(root: Path, tag: str, mode: str, right, design: bool = False, **extra) -> None:
    """eval/<tag>/<mode>/{samples.jsonl,metrics.json}; `right(cat, i)` says which puzzles are correct."""
    folder = root / "eval" / tag / mode
    samples = [sample(c, i, right(c, i), design) for c in CATS for i in range(N)]
    write_lines(folder / "samples.jsonl", samples)
    per_cat = {}
    for c in CATS:
        k = sum(s["correct"] for s in samples if s["category"] == c)
        per_cat[c] = {"accuracy": k / N, "correct": k, "n": N}
    metrics = {
        "mode": mode,
        "tag": tag,
        "model": "results/model/tiny",
        "prompt": "vanilla",
        "mlflow_run_id": f"run-{tag}-{mode}",
        "n": len(samples),
        "accuracy": {"per_category": per_cat},
        "behaviour": {"all": {"n": len(samples)}},
        **extra,
    }
    write(folder / "metrics.json", metrics)


def history(reward, *, grad: float = 0.5, zero_std: float = 0.25, steps: int = 20) -> list[dict]:
    return [
        {
            "step": s,
            "reward": reward(s),
            "grad_norm": grad,
            "frac_reward_zero_std": zero_std,
            "completions/mean_length": 20 + s / 2,
        }
        for s in range(1, steps + 1)
    ]


def training(root: Path, design: str, seed: int, hist: list[dict] | None, **extra) -> None:
    summary = {
        "reward": design,
        "seed": seed,
        "steps": 20,
        "git_commit": "abc123",
        "mlflow_run_id": f"train-{design}-{seed}",
        "settings": {"max_completion_length": 32},
        **extra,
    }
    if hist is not None:
        summary["log_history"] = hist
    write(root / "train" / design / f"seed{seed}" / "train_summary.json", summary)


def make_results(root: Path) -> Path:
    records = [
        {"id": pid(c, i), "category": c, "options": options(c), "answer": gold(c, i)} for c in CATS for i in range(N)
    ]
    write_lines(root / "data/eval/records.jsonl", records)
    write(root / "data/eval/manifest.json", {"num_records": len(records), "source": "generated"})
    hist = {c: {options(c)[0]: 5, options(c)[1]: 3} for c in CATS[:4]}  # the in-domain categories only
    write(root / "data/train/manifest.json", {"num_records": 32, "source": "generated", "answer_histograms": hist})

    evaluation(root, "base", "image", lambda c, i: i == 0)
    evaluation(root, "base", "text", lambda c, i: i < (6 if c == "clock" else 1))
    evaluation(root, "base", "image+caption", lambda c, i: i == 0)
    evaluation(root, "base", "blank", lambda c, i: False)
    evaluation(root, "mixture-seed0", "image", lambda c, i: i < 2, design=True)
    evaluation(root, "mixture-seed1", "image", lambda c, i: i < 4, design=True)
    evaluation(root, "mixture-seed0", "blank", lambda c, i: i == 0, design=True)
    evaluation(root, "mixture-seed1", "blank", lambda c, i: False, design=True)
    evaluation(root, "vanilla-seed0", "image", lambda c, i: i < 3, design=True)
    evaluation(root, "random-seed0", "image", lambda c, i: i == 0, design=True)
    evaluation(root, "random-seed1", "image", lambda c, i: i == 0, design=True)
    thinking = {"model": "claude:claude-3-7-sonnet-20250219", "thinking": {"budget_tokens": 4096}}
    evaluation(root, "claude37", "image", lambda c, i: i < 3, **thinking)
    evaluation(root, "claude37", "text", lambda c, i: i < 6, **thinking)

    manifest_sha = sha256_file(root / "data/train/manifest.json")
    training(root, "mixture", 0, history(lambda s: 0.01 * s), dataset_manifest_sha256=manifest_sha)
    training(root, "mixture", 1, history(lambda s: 0.02 * s), dataset_manifest_sha256=manifest_sha)
    training(root, "vanilla", 0, history(lambda s: 0.0, grad=0.0, zero_std=1.0))
    training(root, "random", 0, history(lambda s: 0.1 * (s % 2)))
    # A run whose history is only in its checkpoints' trainer states: the newest counts.
    training(root, "random", 1, None)
    ckpts = root / "train/random/seed1/checkpoints"
    write(ckpts / "checkpoint-20/trainer_state.json", {"log_history": history(lambda s: 0.1 * (s % 2))})
    write(ckpts / "checkpoint-9/trainer_state.json", {"log_history": history(lambda s: 0.0, steps=9)})
    write(root / "captions/eval/model/summary.json", {"fidelity": {"per_category": {"clock": _fid(1, 4, 1, 2)}}})
    warmup = {
        "recipe": {"steps": 200, "label_accuracy": 0.7, "forms": {"answer": 0.4, "think": 0.6}},
        "start": {"mixture": {"accuracy": 0.2188, "full_structure": 0.0, "any_tag": 0.875, "n": 64}},
        "warnings": ["probe answers shorter than the tags: cannot learn the format"],
    }
    write(root / "model/tiny/visreason_model.json", {"seed": 0, "warmup": warmup})
    return root


@pytest.fixture
def results(tmp_path) -> Path:
    return make_results(tmp_path / "results")


def _fid(correct: int, total: int, all_right: int, n: int) -> dict:
    return {
        "fidelity": correct / total,
        "facts_correct": correct,
        "facts_total": total,
        "all_facts_rate": all_right / n,
        "n": n,
    }


def row(md: str, first: str) -> list[str]:
    """The cells of the first table row starting with `first`, in the section that follows the heading."""
    for line in md.splitlines():
        if line.startswith(f"| {first} |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row {first!r}")


def section(md: str, heading: str) -> str:
    start = md.index(f"## {heading}")
    end = md.find("\n## ", start + 1)
    return md[start : end if end > 0 else None]


def pct(lo_hi: tuple[float, float]) -> str:
    return f"[{100 * lo_hi[0]:.1f}, {100 * lo_hi[1]:.1f}]"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, str]:
    """The fixture's results and its report, built once for the tests that only read it."""
    root = make_results(tmp_path_factory.mktemp("built") / "results")
    out = root.parent / "report"
    build_report(root, out, load_params(scale="smoke"))
    return root, out, (out / "report.md").read_text()


@pytest.fixture
def report(built) -> tuple[Path, str]:
    return built[1], built[2]


def test_the_top_says_what_the_run_is_before_any_table(report):
    _, md = report
    top = md[: md.index("## What each design moved")]
    assert "| " not in top  # no table before the per-design summary
    assert "Scale** `smoke`, **model** `tiny`, **category set** `study9`" in top
    assert "cannot show:** the study's 7B numbers" in top and "plumbing checks" in top
    assert "checker_move†" in top and "accuracy in percent (%)" in top
    # The run that made no update is loud, at the very top, with its reason.
    assert md.index("**NO UPDATE: `vanilla` seed 0") < md.index("## What this run is")
    assert "grad_norm 0 at all 20 logged steps" in md and "frac_reward_zero_std 1 at all 20 steps" in md
    assert "NO UPDATE: `mixture`" not in md
    assert md.index("**WARM-UP: probe answers shorter than the tags") < md.index("## What this run is")
    assert (
        "**Base model warm-up** (a stand-in for pretraining, not SFT): recipe steps 200; label_accuracy 0.7; forms "
        '{"answer": 0.4, "think": 0.6}. It starts from `mixture` prompt: accuracy 21.9%, full structure 0.0%, '
        "any tag 87.5% (n=64)." in top
    )


def test_what_each_design_moved(report):
    _, md = report
    moved = section(md, "What each design moved")
    mixture = row(moved, "`mixture`")
    assert mixture[1] == "2"  # seeds
    # Reward rise: last two steps minus first two, per seed 0.18 and 0.36; Welch's interval.
    hand = window_rise([[0.01, 0.02], [0.02, 0.04]], [[0.19, 0.20], [0.38, 0.40]])
    assert mixture[2] == Est(0.27, *hand["ci95"], 4, scale=1.0, signed=True, digits=3).text()
    assert hand["ci95"][0] > 0 and mixture[3] == "25.0"  # zero-spread groups
    # In-domain accuracy against the base, paired: per category (1 + .5 + .5) / 10 = +20 points.
    assert mixture[4].startswith("+20.0 [") and mixture[5].startswith("+20.0 [")
    # Blank image, in-domain: seed 0 right on i = 0 only: 5%.
    assert mixture[6] == Est(0.05, *wilson(0.05 * 40, 40), 40).text()
    # Structure: design i < 5 vs base none (+50 points); tokens 30 vs 40; visual share 0 vs .5.
    same = "(the same difference on every puzzle)"  # no interval claimed where resampling cannot give one
    assert mixture[7].startswith("+50.0 [") and mixture[8] == f"-10.0 {same}" and mixture[9] == f"-50.0 {same}"
    assert row(moved, "`vanilla`")[2] == "+0.000 (constant in both windows) (n=2)"
    # n once per column: steps in the first windows, steps logged, puzzles in-domain and in the set.
    assert row(moved, "n")[2:] == ["4", "40", "40", "40", "40", "90", "90", "90"]
    assert row(moved, "`random`")[5] == "–"  # the random arm against itself
    assert "The base model scores 10.0 [" in moved and "0.0 [0.0, 8.8] (n=40) on a blank image" in moved


def test_accuracy_table_with_baselines_and_the_study(report):
    _, md = report
    acc = section(md, "Accuracy per design and category")
    header = row(acc, "category")
    assert header[:5] == ["category", "n", "chance", "majority", "`base`"]
    assert "`mixture` (2 seeds)" in header and "`claude37 (claude:claude-3-7-sonnet-20250219, thinking)`" in header
    clock = dict(zip(header, row(acc, "clock")))
    assert clock["n"] == "10"
    assert clock["chance"].startswith("25.0 [")  # one option in four scores, by the scorer
    assert clock["majority"] == Est(0.3, *wilson(3, 10), 10).text()  # '1:00' is right on i < 3
    assert clock["`mixture` (2 seeds)"] == Est(0.3, *wilson(3, 10), 10).text()
    mean = dict(zip(header, row(acc, "**mean**")))
    assert mean["n"] == "90" and mean["`base`"] == Est(0.1, *wilson(9, 90), 90).text()
    assert mean["majority"] == "–"  # the out-of-domain categories have no training answers
    assert dict(zip(header, row(acc, "**in-domain mean**")))["majority"] == Est(0.3, *wilson(12, 40), 40).text()
    assert dict(zip(header, row(acc, "mean, each seed")))["`mixture` (2 seeds)"] == "20.0, 40.0"
    study = dict(zip(header, row(acc, "study9 mean, **study** (7B, transcribed)")))
    assert study["`mixture` (2 seeds)"] == "15.56" and study["`base`"] == "10.00"
    assert dict(zip(header, row(acc, "in / out-of-domain, **study**")))["`mixture` (2 seeds)"] == "21.25 / 11.00"
    assert "checker_move†" in acc


def test_paired_differences_and_resolution(report):
    _, md = report
    paired = section(md, "Paired differences")
    vs_base = paired[: paired.index("minus `mixture`")]
    header = row(vs_base, "category")
    assert header[:2] == ["category", "n"] and "`mixture`" in header
    mean = dict(zip(header, row(vs_base, "**mean**")))
    assert mean["`mixture`"].startswith("+20.0 [") and mean["`vanilla`"].startswith("+20.0 [")
    assert mean["`random`"] == "+0.0 (identical on every puzzle)"  # no discordant pair: no interval claimed
    vs_mix = paired[paired.index("minus `mixture`") :]
    assert dict(zip(row(vs_mix, "category"), row(vs_mix, "**mean**")))["`random`"].startswith("-20.0 [")
    resolution = "With n = 90 puzzles in the `study9` mean and the base model's accuracy of 10.0%, one model's 95%"
    assert f"{resolution} interval is ±6.3 points wide" in md


def test_perception_descriptions_behaviour_captions(report):
    _, md = report
    perception = section(md, "Image versus text (perception)")
    claude = row(perception, "`claude37 (claude:claude-3-7-sonnet-20250219, thinking)`")
    assert claude[2].startswith("30.0 [") and claude[3].startswith("60.0 [") and claude[-1].startswith("+30.0 [")
    assert "| Claude 3.7 Sonnet (thinking) | 42.4 | 66.0 | 7 | 83 |" in perception
    base_clock = row(perception[perception.index("Per category, `base`") :], "clock")
    assert base_clock[3].startswith("60.0 [")  # text mode on clock
    desc = row(section(md, "The designs' own descriptions"), "`mixture`")
    assert desc[3] == "80.0 (the same on every puzzle)" and desc[4].startswith("55.0 [")  # recall (1 + 9 * .5) / 10
    assert desc[5].startswith("5.0 [") and desc[6].startswith("+25.0 [")  # blank; image − blank
    # Correct answers: seed 0 i < 2, seed 1 i < 4 -> 6 per category, 4 of them with recall .5.
    assert desc[7] == Est(4 / 6, *wilson(36, 54), 54).text() + " (n=54)"
    assert row(section(md, "The designs' own descriptions"), "`base`")[3] == "–"  # no description asked
    assert desc[8] == desc[9] == desc[11] == "–"  # Mixture against itself
    assert desc[10].startswith("55.0 [")  # facts stated over every answer
    other = row(section(md, "The designs' own descriptions"), "`random`")  # the same descriptions as Mixture's
    assert other[8] == other[9] == other[11] == "+0.0 (identical on every puzzle)"
    behaviour = section(md, "Reasoning behaviour")
    assert row(behaviour, "`base` | image")[3] == "40.0 (the same on every puzzle)"
    assert "| eval/model | clock | 4 | 25.0 [" in section(md, "Caption fidelity")


def test_figures_csv_and_training_section(report):
    out, md = report
    for png in ["accuracy_per_reward.png", "image_vs_text.png", "reward_curves.png", "response_length.png"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in md
    training = section(md, "Training curves")
    assert "One panel per design" in training and "](reward_curves.png)" in training
    curves = (out / "reward_curves.csv").read_text().splitlines()
    assert curves[0] == "reward,seed,step,metric,value"
    assert len(curves) == 1 + 5 * 20 * 3  # five runs (one from its newest checkpoint), 20 steps, three metrics
    acc = (out / "accuracy.csv").read_text().splitlines()
    assert acc[0] == "model,mode,category,accuracy,ci_low,ci_high,n"
    assert any(line.startswith("mixture-seed1,image,mean,40.0,") and line.endswith(",90") for line in acc)


def test_provenance(built):
    results, _, md = built
    prov = section(md, "Provenance")
    assert f"manifest.json sha256 `{sha256_file(results / 'data/train/manifest.json')}`" in prov
    assert "trainings ran at `abc123`" in prov
    assert row(prov, "mixture-seed1")[1:3] == ["`train-mixture-1`", "`run-mixture-seed1-image`"]


def test_training_heading_is_never_empty(results, tmp_path):
    for summary in results.glob("train/*/seed*/train_summary.json"):
        data = json.loads(summary.read_text())
        data.pop("log_history", None)
        write(summary, data)
    for state in results.glob("train/*/seed*/checkpoints/*/trainer_state.json"):
        state.unlink()
    build_report(results, tmp_path / "r1", load_params(scale="smoke"))
    md = (tmp_path / "r1/report.md").read_text()
    assert "No training history found: `vanilla` seed 0, `mixture` seed 0" in section(md, "Training curves")
    assert not (tmp_path / "r1/reward_curves.png").exists()
    for path in sorted(results.glob("train/**/*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    build_report(results, tmp_path / "r2", load_params(scale="smoke"))
    assert "No training run under `train/`" in section((tmp_path / "r2/report.md").read_text(), "Training curves")


def test_other_training_data_is_loud(results, tmp_path):
    training(results, "mixture", 0, history(lambda s: 0.01 * s), dataset_manifest_sha256="f" * 64)
    build_report(results, tmp_path / "r", load_params(scale="smoke"))
    assert "**OTHER DATA: `mixture` seed 0 was trained on a dataset" in (tmp_path / "r/report.md").read_text()


def test_short_histories_give_no_rise():
    assert window(history(lambda s: s, steps=3), "reward") is None
    first, last = window(history(lambda s: s, steps=50), "reward")
    assert first == [1, 2, 3, 4, 5] and last == [46, 47, 48, 49, 50]  # a tenth of 50 steps


def test_cell_prints_n_only_where_it_differs():
    est = Est(0.25, 0.2, 0.3, 40)
    assert cell(est, 40) == "25.0 [20.0, 30.0]" and cell(est, 90) == "25.0 [20.0, 30.0] (n=40)" and cell(None) == "–"


# ---------------------------------------------------------------- bad input: one line naming the file


def test_no_metrics_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(VisreasonError, match="no evaluation metrics"):
        build_report(tmp_path / "results", tmp_path / "report", load_params(scale="smoke"))
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "metrics.json").write_text("{not json"), "base/text/metrics.json: invalid JSON"),
        (lambda f: write(f / "metrics.json", {"accuracy": {}}), "not an evaluation summary"),
        (lambda f: (f / "samples.jsonl").unlink(), "base/text/samples.jsonl: missing"),
        (lambda f: (f / "samples.jsonl").write_text('{"id": "x"'), r"samples.jsonl:1: invalid JSON"),
        (lambda f: _edit_sample(f, correct=2), r"samples.jsonl:1: field 'correct' must be 0, 1, true or false"),
        (lambda f: _edit_sample(f, correct=1), r"metrics.json counts 6/10 correct in 'clock', samples.jsonl 7/10"),
        (
            lambda f: _edit_sample(f, id="clock-eval-00001"),
            r"samples.jsonl:\d+: puzzle 'clock-eval-00001' appears twice",
        ),
        (
            lambda f: _edit_metrics(f, {"all": {"fact_precision": 0.5}}),
            r"samples.jsonl: metrics.json reports fact_precision but no sample has behaviour.fact_precision",
        ),
    ],
)
def test_bad_evaluation_files_name_the_file(results, tmp_path, damage, message):
    damage(results / "eval/base/text")
    with pytest.raises(VisreasonError, match=message):
        build_report(results, tmp_path / "report", load_params(scale="smoke"))
    assert not (tmp_path / "report").exists()


def _edit_metrics(folder: Path, behaviour: dict) -> None:
    metrics = json.loads((folder / "metrics.json").read_text())
    write(folder / "metrics.json", {**metrics, "behaviour": behaviour})


def _edit_sample(folder: Path, **fields) -> None:
    """Change the sample of clock puzzle 9 (wrong in base/text), then move it to the first line."""
    lines = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    target = next(s for s in lines if s["id"] == pid("clock", 9))
    target.update(fields)
    lines.remove(target)
    write_lines(folder / "samples.jsonl", [target, *lines])


def test_seeds_or_models_on_different_puzzles_are_an_error(results, tmp_path):
    folder = results / "eval/mixture-seed1/image"
    lines = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    write_lines(folder / "samples.jsonl", [s for s in lines if s["id"] != pid("maze", 9)])
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["accuracy"]["per_category"]["maze"]["n"] = 9
    write(folder / "metrics.json", metrics)
    with pytest.raises(
        VisreasonError, match="mixture-seed1/image and .*mixture-seed0/image evaluated different puzzles"
    ):
        build_report(results, tmp_path / "report", load_params(scale="smoke"))


def test_an_evaluated_puzzle_missing_from_the_records_is_an_error(results, tmp_path):
    records = (results / "data/eval/records.jsonl").read_text().splitlines()
    (results / "data/eval/records.jsonl").write_text("\n".join(records[1:]) + "\n")
    with pytest.raises(VisreasonError, match="evaluated puzzle 'clock-eval-00000' is not in data/eval/records.jsonl"):
        build_report(results, tmp_path / "report", load_params(scale="smoke"))


def test_cli_one_line_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "visreason", "report", "--results", str(tmp_path), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no evaluation metrics" in proc.stderr


def test_cli_writes_the_report_and_logs_an_mlflow_run_in_percent(results, tmp_path, _mlflow_store):
    from mlflow.tracking import MlflowClient

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "visreason",
            "report",
            "--results",
            str(results),
            "--out",
            str(tmp_path / "r"),
            "--scale",
            "smoke",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": _mlflow_store},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "report.md").is_file()
    assert "visreason report: NO UPDATE: `vanilla` seed 0 did not train" in proc.stderr
    client = MlflowClient(_mlflow_store)
    exp = client.get_experiment_by_name(load_params(scale="smoke")["tracking"]["experiment"])
    run = client.search_runs([exp.experiment_id], "tags.stage = 'report'", order_by=["start_time DESC"])[0]
    assert run.data.tags["accuracy_unit"] == "percent" and len(run.data.tags["input.train.mixture.seed1"]) == 64
    assert run.data.metrics["accuracy/mixture-seed1/image/mean"] == 40.0
    assert run.data.metrics["delta_vs_base/mixture/image/in_domain"] == pytest.approx(20.0)
    assert run.data.metrics["reward_rise/mixture"] == pytest.approx(0.27)
    assert {a.path for a in client.list_artifacts(run.info.run_id, "report")} >= {
        "report/report.md",
        "report/image_vs_text.png",
    }


def test_the_tables_follow_the_chosen_category_set(results, tmp_path):
    params = load_params(scale="smoke")
    params["categories"] = {"in_domain": ["clock", "maze"], "out_of_domain": ["water_jugs", "board_tile"]}
    build_report(results, tmp_path / "r", params)
    md = (tmp_path / "r/report.md").read_text()
    assert "**category set** `custom`: in-domain clock, maze; out-of-domain water_jugs, board_tile" in md
    acc = section(md, "Accuracy per design and category")
    assert (
        "**Not evaluated: board_tile**" in acc
        and "outside the `custom` set, so in no table: checker_move†, move_box," in acc
    )
    assert "This run's set is `custom`: compare the study's means with our study9 columns only." in md
    header = row(acc, "category")
    assert row(acc, "board_tile")[header.index("`base`")] == "–"
    # The means cover the evaluated categories of the set: base is right on 1 in 10 of each.
    assert dict(zip(header, row(acc, "**out-of-domain mean**")))["`base`"] == Est(0.1, *wilson(1, 10), 10).text()


def test_category_set_names():
    params = load_params(scale="smoke")
    assert CategorySet.from_params(params).name == "study9"
    params["categories"] = {**params["categories"], "set": "all18"}
    assert CategorySet.from_params(params).name == "all18"
    params["categories"] = {"in_domain": ["clock"], "out_of_domain": ["maze"]}
    assert CategorySet.from_params(params).name == "custom"
