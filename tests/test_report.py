"""`visreason report` on small synthetic pipeline outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from visreason import VisreasonError
from visreason.params import load_params, split_tag
from visreason.report import build_report, fmt, seed_stats

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
IN_DOMAIN = CATS[:4]


def metrics(per_cat: dict[str, float], mode: str = "image") -> dict:
    """A metrics.json in `visreason evaluate`'s format (10 puzzles per category)."""

    def mean(cats):
        cats = [c for c in cats if c in per_cat]
        return (
            {"accuracy": sum(per_cat[c] for c in cats) / len(cats), "n": 10 * len(cats), "categories": cats}
            if cats
            else None
        )

    return {
        "mode": mode,
        "n": 10 * len(per_cat),
        "accuracy": {
            "per_category": {c: {"accuracy": a, "correct": round(10 * a), "n": 10} for c, a in per_cat.items()},
            "mean": mean(list(per_cat)),
            "in_domain": mean(IN_DOMAIN),
            "out_of_domain": mean(CATS[4:]),
        },
        "behaviour": {
            "all": {
                "n": 90,
                "mean_tokens": 42.0,
                "truncation_rate": 0.1,
                "structure_rate": 0.5,
                "self_reflection_rate": 0.2,
                "visual_reference_rate": 0.3,
                "contradiction_rate": None,
            }
        },
    }


def write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


@pytest.fixture
def results(tmp_path) -> Path:
    root = tmp_path / "results"
    for mode, shift in [("image", 0.0), ("text", 0.5), ("image+caption", 0.2)]:
        write(
            root / "eval/base" / mode / "metrics.json", metrics({c: 0.1 + shift * (c == "clock") for c in CATS}, mode)
        )
    write(root / "eval/mixture-seed0/image/metrics.json", metrics({c: 0.2 for c in CATS}))
    write(root / "eval/mixture-seed1/image/metrics.json", metrics({c: 0.4 for c in CATS}))
    write(root / "eval/vanilla-seed0/image/metrics.json", metrics({c: 0.3 for c in CATS}))
    history = [{"step": s, "reward": 0.1 * s, "completions/mean_length": 50 - s} for s in range(1, 6)]
    write(root / "train/mixture/seed0/train_summary.json", {"steps": 5, "log_history": history})
    # A run whose history is only in its checkpoints' trainer states: the newest counts.
    write(root / "train/vanilla/seed0/train_summary.json", {"steps": 5})
    write(root / "train/vanilla/seed0/checkpoints/checkpoint-10/trainer_state.json", {"log_history": history})
    write(root / "train/vanilla/seed0/checkpoints/checkpoint-9/trainer_state.json", {"log_history": history[:1]})
    write(root / "captions/eval/model/summary.json", {"fidelity": {"per_category": {"clock": 0.25}}})
    return root


def test_report_tables_figures_and_published_numbers(results, tmp_path):
    out = build_report(results, tmp_path / "report", load_params())
    md = (out / "report.md").read_text()
    # Table 2: seeds aggregated as mean ± std, base first, published numbers labelled.
    assert "| mixture | 2 | 30.0 ± 14.1 | 30.0 ± 14.1 | 30.0 ± 14.1 |" in md
    assert "| base | – | 10.0 |" in md
    assert "15.56" in md and "21.25 / 11.00" in md and "published" in md
    # Table 3: image vs text per category for the base model, and the study's perception numbers.
    assert "| base | text | 15.6 | 60.0 |" in md
    assert "| Claude 3.5 Sonnet | 25.9 | 52.6 | 3 | 84 |" in md
    assert "| captions | category | fidelity |" in md and "| eval/model | clock | 25.0 |" in md
    for png in ["accuracy_per_reward.png", "image_vs_text.png", "reward_curves.png", "response_length.png"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in md
    curves = (out / "reward_curves.csv").read_text().splitlines()
    assert curves[0] == "reward,seed,step,metric,value"
    assert len(curves) == 1 + 2 * 5 * 2  # two runs, five steps, two metrics
    acc = (out / "accuracy.csv").read_text()
    assert "mixture-seed1,image,mean,40.0" in acc


def test_report_without_training_history(results, tmp_path):
    for summary in results.glob("train/*/seed0/train_summary.json"):
        write(summary, {"steps": 5})
    shutil.rmtree(results / "train/vanilla/seed0/checkpoints")
    out = build_report(results, tmp_path / "report", load_params())
    assert "No training history found" in (out / "report.md").read_text()
    assert not (out / "reward_curves.png").exists()


def test_no_metrics_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(VisreasonError, match="no evaluation metrics"):
        build_report(tmp_path / "results", tmp_path / "report", load_params())
    assert not (tmp_path / "report").exists()


def test_corrupt_metrics_name_the_file(results, tmp_path):
    bad = results / "eval/base/text/metrics.json"
    bad.write_text("{not json")
    with pytest.raises(VisreasonError, match="base/text/metrics.json: invalid JSON"):
        build_report(results, tmp_path / "report", load_params())
    write(bad, {"accuracy": {}})
    with pytest.raises(VisreasonError, match="not an evaluation summary"):
        build_report(results, tmp_path / "report", load_params())


def test_cli_one_line_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "visreason", "report", "--results", str(tmp_path), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no evaluation metrics" in proc.stderr


def test_helpers():
    assert split_tag("no_accuracy-seed12") == ("no_accuracy", 12)
    assert split_tag("base") == ("base", None)
    runs = [metrics({"clock": 0.5}), metrics({"clock": 0.7})]
    mean, std, n = seed_stats(runs, "clock")
    assert (round(mean, 6), round(std, 4), n) == (60.0, 14.1421, 2)
    assert seed_stats(runs, "maze") is None
    assert fmt(None) == "–" and fmt((12.34, 0.0, 1)) == "12.3"


def test_cli_writes_the_report_and_logs_an_mlflow_run(results, tmp_path, _mlflow_store):
    from mlflow.tracking import MlflowClient

    proc = subprocess.run(
        [sys.executable, "-m", "visreason", "report", "--results", str(results), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": _mlflow_store},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "report.md").is_file()
    client = MlflowClient(_mlflow_store)
    exp = client.get_experiment_by_name(load_params()["tracking"]["experiment"])
    run = client.search_runs([exp.experiment_id], "tags.stage = 'report'", order_by=["start_time DESC"])[0]
    assert run.data.metrics["accuracy/mixture-seed1/image/mean"] == 40.0
    assert {a.path for a in client.list_artifacts(run.info.run_id, "report")} >= {
        "report/report.md",
        "report/image_vs_text.png",
    }
