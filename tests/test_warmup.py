"""The tiny model's warm-up: targets that never hold a design's tag structure, labels right only part
of the time, deterministic bytes, the recipe and starting rates in the model summary, loud lines for
settings that cannot learn, and bad settings named by their key."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from functools import partial

import pytest
import yaml

from visreason import VisreasonError
from visreason.cli import main
from visreason.config import DEFAULT_PARAMS, read_yaml
from visreason.evaluate import full_structure
from visreason.files import read_json
from visreason.models import build_tiny_model
from visreason.params import load_params, validate
from visreason.rewards import DESIGNS
from visreason.warmup import (
    FORMS,
    WARMUP_DESIGNS,
    WarmupSettings,
    check_targets,
    make_puzzles,
    target,
    warm_up,
    warnings_for,
)

LAB = load_params(scale="lab")["model"]["warmup"]


def settings(**changes) -> WarmupSettings:
    return WarmupSettings.from_params({**LAB, **changes})


# Seconds, not a useful model: for the bytes, the summary and the plumbing.
SHORT = dict(steps=4, pool=16, batch_size=4, measure_puzzles=8, measure_max_new_tokens=8)


def test_no_target_holds_the_structure_any_design_asks_for():
    puzzles = make_puzzles(settings(), seed=0, n=50, purpose="train")
    rng = random.Random(0)
    texts = [target(p, form, rng.random() < 0.5, rng) for p in puzzles for form in FORMS]
    check_targets(texts)
    for name in DESIGNS:
        assert not any(full_structure(t, name) for t in texts), name
    # ... while the one-piece forms alone could not hide a design's structure either
    assert full_structure("<think> The answer is red. </think> <answer> red </answer>", "vanilla")
    with pytest.raises(VisreasonError, match="2 tag blocks"):
        check_targets(["<think> The answer is red. </think> <answer> red </answer>"])


def test_labels_are_right_at_the_set_rate_and_wrong_ones_are_other_options():
    puzzles = make_puzzles(settings(), seed=1, n=400, purpose="train")
    rng = random.Random(1)
    answers = [target(p, "plain", rng.random() < 0.7, rng) for p in puzzles]
    right = sum(a == p.answer for a, p in zip(answers, puzzles))
    assert abs(right / 400 - 0.7) < 4 * (0.7 * 0.3 / 400) ** 0.5  # within 4 standard errors
    assert all(a in p.wrong for a, p in zip(answers, puzzles) if a != p.answer)
    assert set(Counter(p.design for p in puzzles)) == set(WARMUP_DESIGNS)  # every design's prompt is shown


def test_measured_puzzles_are_a_draw_of_their_own():
    trained = {p.image.tobytes() for p in make_puzzles(settings(), 0, 300, "train")}
    measured = [p.image.tobytes() for p in make_puzzles(settings(), 0, 64, "measure")]
    expected = 64 * len(trained) / 3156  # states that coincide by chance (3,156 states), not by construction
    assert sum(m in trained for m in measured) <= expected + 4 * expected**0.5


def test_warm_up_is_deterministic_and_its_summary_states_recipe_and_start(tmp_path):
    hook = partial(warm_up, settings=settings(**SHORT), seed=3)
    first, second = build_tiny_model(tmp_path / "a", seed=3, warm_up=hook), build_tiny_model(tmp_path / "b", 3, hook)
    summary = (first / "visreason_model.json").read_bytes()
    assert summary == (second / "visreason_model.json").read_bytes()  # the sha256 of every file included
    cold = read_json(build_tiny_model(tmp_path / "cold", seed=3) / "visreason_model.json")
    info = json.loads(summary)
    assert info["sha256"]["model.safetensors"] != cold["sha256"]["model.safetensors"]  # the warm-up trained it
    warm = info["warmup"]
    assert warm["recipe"]["steps"] == 4 and warm["recipe"]["label_accuracy"] == LAB["label_accuracy"]
    assert len(warm["loss_first_10"]) == 4
    prompts = {d.prompt: name for name, d in reversed(DESIGNS.items())}  # the first design of each prompt
    assert set(warm["start"]) == set(prompts.values()) and "vanilla" in warm["start"]  # one per distinct prompt
    for rates in warm["start"].values():
        assert rates["n"] == 8 and 0 <= rates["accuracy"] <= rates["answer_tag"] <= 1


def test_a_failing_warm_up_leaves_no_model(tmp_path):
    def broken(folder):
        raise VisreasonError("warm-up: stopped")

    with pytest.raises(VisreasonError, match="stopped"):
        build_tiny_model(tmp_path / "model", seed=0, warm_up=broken)
    assert list(tmp_path.iterdir()) == []


def test_settings_that_cannot_learn_get_a_loud_line(capsys):
    start = {"vanilla": {"accuracy": 0.0, "any_tag": 0.0}, "mixture": {"accuracy": 0.2, "any_tag": 0.5}}
    found = warnings_for(settings(label_accuracy=0.25, forms={"answer": 0, "think": 1}), start)
    assert any("label_accuracy 0.25 is at or below chance (0.25)" in w for w in found)
    assert any("forms.answer is 0" in w for w in found)
    assert any("vanilla prompt starts at accuracy 0.0" in w for w in found)
    assert any("vanilla prompt starts with no tag" in w for w in found)
    assert not any("mixture" in w for w in found)
    assert warnings_for(settings(), {"vanilla": {"accuracy": 0.2, "any_tag": 0.5}}) == []

    summary = warm_up("unused: no steps, nothing is read", settings(steps=0), seed=0)
    assert summary["warnings"] == [w for w in summary["warnings"] if "steps is 0" in w] and summary["warnings"]
    assert "visreason model: WARNING: model.warmup.steps is 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("label_accuracy", 1.5, "'model.warmup.label_accuracy'"),
        ("steps", -1, "'model.warmup.steps'"),
        ("forms", {"answer": 1, "shout": 1}, "unknown key 'model.warmup.forms.shout'"),
        (
            "forms",
            {"answer": -0.1, "plain": 1, "think": 1, "rethink": 1, "description": 1},
            "'model.warmup.forms.answer'",
        ),
        ("forms", {"answer": 1}, "missing key 'model.warmup.forms.description'"),
        ("categories", [], "'model.warmup.categories'"),
        ("sentences", 3, "unknown key 'model.warmup.sentences'"),
    ],
)
def test_the_schema_names_a_bad_warmup_key(key, value, message):
    raw = copy.deepcopy(read_yaml(DEFAULT_PARAMS))
    raw["model"]["warmup"][key] = value
    with pytest.raises(VisreasonError, match=message):
        validate(raw)


def test_settings_the_schema_cannot_see_are_named():
    with pytest.raises(VisreasonError, match="'model.warmup.categories': unknown category 'kiwi'"):
        settings(categories=["kiwi"])
    with pytest.raises(VisreasonError, match="'model.warmup.forms': every share is 0"):
        settings(forms={"answer": 0})
    with pytest.raises(VisreasonError, match="'model.warmup.pool' is not set"):
        WarmupSettings.from_params({k: v for k, v in LAB.items() if k != "pool"})


def test_cli_builds_the_warmed_model_and_prints_its_start(tmp_path, capsys):
    raw = read_yaml(DEFAULT_PARAMS)
    raw["scales"]["lab"]["model"]["warmup"].update(SHORT)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert main(["model", "tiny", "--out", str(tmp_path / "model"), "--params", str(params), "--scale", "lab"]) == 0
    out = capsys.readouterr().out
    assert "after the warm-up, vanilla prompt: accuracy" in out
    assert read_json(tmp_path / "model" / "visreason_model.json")["warmup"]["recipe"]["steps"] == 4


def test_the_warm_up_shows_no_prompt_with_an_example_description():
    # An example description names another state (another colour on the probe): in the pool, it
    # taught the tiny model wrong answers (docs/lab.md).
    shown = {p.design for p in make_puzzles(settings(), 0, 64, "train")}
    assert shown and all("{form}" not in DESIGNS[d].prompt for d in shown)
    assert "fact_f1" in DESIGNS and "fact_f1" not in shown
