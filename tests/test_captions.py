"""Captions: oracle and model captioners, caption fidelity, bad input."""

from __future__ import annotations

import json

import mlflow
import pytest

from visreason import VisreasonError
from visreason.captions import caption_prompt, fidelity, run_captions, summarize
from visreason.cli import main
from visreason.generation import Sampling, transformers_decoding
from visreason.params import all_categories, load_params
from visreason.puzzles import CATEGORIES


@pytest.fixture(scope="module")
def params():
    p = load_params(scale="smoke")
    p["captions"] |= {"max_new_tokens": 6, "batch_size": 5}
    return p


@pytest.fixture(scope="module")
def dataset(small_eval_dataset):
    return small_eval_dataset


def records(dataset):
    return [json.loads(line) for line in (dataset / "records.jsonl").read_text().splitlines()]


def test_oracle_captions_have_fidelity_one(params, dataset, tmp_path):
    out = tmp_path / "oracle"
    summary = run_captions(params, data=dataset, captioner="oracle", out=out)
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["fidelity"]["mean"] == 1.0 and set(summary["fidelity"]["per_category"]) == set(
        all_categories(params)
    )
    assert all(
        c["all_facts_rate"] == 1.0 and c["facts_total"] > 0 for c in summary["fidelity"]["per_category"].values()
    )
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [r["caption"] for r in rows] == [r["description"] for r in records(dataset)]


def test_model_captions_are_scored_by_the_facts_they_state(params, dataset, tiny_model, tmp_path):
    out = tmp_path / "tiny"
    summary = run_captions(params, data=dataset, captioner="model", model=str(tiny_model), out=out)
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(rows) == summary["n"] == len(records(dataset))
    assert all(0 < r["n_tokens"] <= 6 for r in rows)
    # Each caption's score is recomputed from its text, and the summary from the rows.
    for row, record in zip(rows, records(dataset)):
        assert (row["facts_correct"], row["facts_total"]) == fidelity(row["caption"], record)
    assert summary["fidelity"] == summarize(rows)["fidelity"]
    # Greedy, every decoding setting explicit, at the one image resolution of params `model`.
    assert summary["backend"] == "transformers" and summary["decoding"] == transformers_decoding(Sampling(6))
    assert summary["image_resolution"] == {"min_pixels": 1024, "max_pixels": 9216}

    runs = mlflow.search_runs(filter_string="tags.captioner = 'model'", output_format="list")
    assert runs and "fidelity/mean" in runs[0].data.metrics and runs[0].info.run_name == "eval/model"


def test_fidelity_counts_facts_a_caption_states(dataset):
    maze = next(r for r in records(dataset) if r["category"] == "maze")
    facts = CATEGORIES["maze"].facts(maze["solution"])
    assert fidelity(maze["description"], maze) == (len(facts), len(facts))
    dropped = maze["description"].replace(facts[0], "")
    assert fidelity(dropped, maze) == (len(facts) - 1, len(facts))
    assert fidelity(maze["description"].upper().replace("\n", "  "), maze) == (len(facts), len(facts))  # case, spacing
    assert fidelity("", maze) == (0, len(facts))


def test_summarize_pools_facts_per_category():
    rows = [
        {"category": "clock", "facts_correct": 1, "facts_total": 1},
        {"category": "clock", "facts_correct": 0, "facts_total": 1},
        {"category": "maze", "facts_correct": 9, "facts_total": 12},
    ]
    fid = summarize(rows)["fidelity"]
    assert fid["per_category"]["clock"] == {
        "fidelity": 0.5,
        "all_facts_rate": 0.5,
        "facts_correct": 1,
        "facts_total": 2,
        "n": 2,
    }
    assert fid["per_category"]["maze"]["fidelity"] == 0.75 and fid["mean"] == pytest.approx(0.625)


def test_caption_prompt_shows_the_canonical_format_of_another_puzzle(dataset):
    clock = next(r for r in records(dataset) if r["category"] == "clock")
    prompt = caption_prompt("clock")
    assert "An analog clock without a seconds hand shows the time" in prompt
    assert clock["description"] not in prompt and prompt == caption_prompt("clock")  # fixed example


def test_bad_inputs(params, dataset, tmp_path, capsys):
    with pytest.raises(VisreasonError, match="needs --model"):
        run_captions(params, data=dataset, captioner="model", out=tmp_path / "a")
    with pytest.raises(VisreasonError, match="only for --captioner model"):
        run_captions(params, data=dataset, captioner="oracle", model="x", out=tmp_path / "a")
    with pytest.raises(VisreasonError, match="unknown captioner"):
        run_captions(params, data=dataset, captioner="human", out=tmp_path / "a")
    code = main(
        [
            "captions",
            "--data",
            str(dataset),
            "--captioner",
            "model",
            "--model",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "a"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "missing" in err
    assert (
        main(["captions", "--data", str(tmp_path / "nodata"), "--captioner", "oracle", "--out", str(tmp_path / "a")])
        == 2
    )
    assert not (tmp_path / "a").exists()
