"""params.yaml validation: every bad value stops the first command, naming its key; scales,
category sets and presets resolve into the settings every stage reads."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from visreason import VisreasonError
from visreason.config import DEFAULT_PARAMS, read_yaml, resolve, train_settings
from visreason.params import REWARD_DESIGNS, load_params, validate
from visreason.puzzles import CATEGORIES


def base() -> dict:
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    raw["scale"] = "smoke"  # these tests check the settings below the scales: the smoke scale adds no category
    return raw


def edited(path: str, value) -> dict:
    """params.yaml with the dotted `path` set to `value` (created if missing)."""
    params = base()
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return params


def without(path: tuple[str, ...]) -> dict:
    params = base()
    *parents, last = path
    node = params
    for key in parents:
        node = node[key]
    del node[last]
    return params


OPEN_MAPPINGS = {("scales",), ("rewards",), ("data", "train", "presets"), ("categories", "sets")}
ROWS = {("evaluate", "claude")}  # optional rows, each with every key required


def leaf_keys(node, prefix=()) -> list[tuple[str, ...]]:
    """Every key path of params.yaml that the schema requires: all but the scales' overrides and
    the entries of open mappings (designs, presets, category sets) and the rows of the Claude table."""
    if not isinstance(node, dict) or prefix in OPEN_MAPPINGS:
        return []
    out = []
    for key, value in node.items():
        if prefix not in ROWS:
            out.append((*prefix, key))
        out += leaf_keys(value, (*prefix, key))
    return out


def test_repository_params_are_valid_at_every_scale():
    raw = base()
    validate(raw)
    for scale in raw["scales"]:
        params = load_params(scale=scale)
        assert params["scale"] == scale and "scales" not in params


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("trian", {}, "unknown key 'trian' (did you mean 'train'?)"),
        ("data.imag_size", 256, "unknown key 'data.imag_size' (did you mean 'image_size'?)"),
        ("train.max_step", 8, "unknown key 'train.max_step' (did you mean 'max_steps'?)"),
        ("train.max_steps", -5, "'train.max_steps': -5 is less than the minimum of 1"),
        ("rewards.mixture.max_steps", 0, "'rewards.mixture.max_steps': 0 is less than the minimum of 1"),
        ("scales.paper.train.max_steps", -1, "'scales.paper.train.max_steps'"),
        ("rewards.mixtrue", {}, "'rewards': unknown name 'mixtrue' (valid: continuous, fact_f1, mixture,"),
        ("scales.paper.rewards", {"fancy": {}}, "'scales.paper.rewards': unknown name 'fancy'"),
        ("categories.sets.study9", ["clock", "clocks"], "'categories.sets.study9': unknown name 'clocks'"),
        ("categories.in_domain", ["clock"], "unknown key 'categories.in_domain'"),
        ("seeds", [0, -1], "'seeds.1': -1 is less than the minimum of 0"),
        ("seeds", [1, 1], "'seeds'"),
        ("resources.train.gpus", -1, "'resources.train.gpus'"),
        ("resources.train.gpu", 1, "unknown key 'resources.train.gpu' (did you mean 'gpus'?)"),
        ("tracking.experiment", "", "'tracking.experiment'"),
        ("model", "tiny", "'model': 'tiny' is not of type 'object'"),
        ("train.warmup_steps", float("-inf"), "'train.warmup_steps': must be a finite number, got -inf"),
        ("rewards.mixture.beta", float("nan"), "'rewards.mixture.beta': must be a finite number, got nan"),
    ],
)
def test_invalid_values_name_their_key(path, value, message):
    with pytest.raises(VisreasonError) as err:
        validate(edited(path, value))
    assert message in str(err.value)


@pytest.mark.parametrize("key", leaf_keys(base()), ids=".".join)
def test_every_key_of_the_file_is_required(key):
    """Every key the code reads is in params.yaml, and each one missing stops validation, named."""
    with pytest.raises(VisreasonError, match=f"^params.yaml: missing key '{re.escape('.'.join(key))}'$"):
        validate(without(key))


def test_scales_and_designs_override_any_subset():
    raw = edited("scales.tiny", {"train": {"max_steps": 2}, "data": {"balance": {"pilot": 10}}})
    raw["rewards"]["mixture"] = {"lora": {"r": 8}}
    validate(raw)
    params = resolve(raw, "tiny")
    assert params["train"]["max_steps"] == 2 and params["data"]["balance"] == {**raw["data"]["balance"], "pilot": 10}
    assert train_settings(params, "mixture")["lora"] == {**raw["train"]["lora"], "r": 8}


def test_an_error_in_another_scale_names_that_scale():
    with pytest.raises(VisreasonError, match=r"params.yaml \(scale 'paper'\): 'data.train.preset': unknown preset"):
        validate(edited("scales.paper.data.train.preset", "diverse-9k"))


def test_unknown_scale_names_the_key():
    with pytest.raises(VisreasonError, match="'scale': unknown scale 'huge' \\(valid: lab, paper, smoke\\)"):
        resolve(base(), "huge")


def test_scale_overrides_merge_deeply():
    smoke, paper = load_params(scale="smoke"), load_params(scale="paper")
    assert paper["model"]["name"] != smoke["model"]["name"]
    assert paper["categories"] == smoke["categories"]  # untouched sections survive the merge
    assert paper["resources"]["train"]["gpus"] >= 1 and smoke["resources"]["train"]["gpus"] == 0


def test_paper_scale_does_not_balance_answers():
    assert load_params(scale="paper")["data"]["balance"]["acceptance"] == 1
    assert load_params(scale="smoke")["data"]["balance"]["acceptance"] < 1  # still an option


# --------------------------------------------------------------------------- categories


def test_the_default_set_is_the_studys_nine_split_by_the_preset():
    cats = load_params(scale="smoke")["categories"]
    assert cats == {
        "set": "study9",
        "in_domain": ["clock", "maze", "move_box", "n_queens"],
        "out_of_domain": ["number_slide", "tower_of_hanoi", "water_jugs", "checker_move", "rotting_kiwi"],
    }


def test_the_in_domain_categories_are_the_presets():
    """Clock-3k counts clock alone as in-domain (the study's Clock-3k table); Diverse-8k its four."""
    raw = edited("data.train.preset", "clock-3k")
    validate(raw)
    cats = resolve(raw)["categories"]
    assert cats["in_domain"] == ["clock"]
    assert cats["out_of_domain"] == [c for c in base()["categories"]["sets"]["study9"] if c != "clock"]
    paper = load_params(scale="paper")
    assert paper["data"]["train"]["preset"] == "diverse-8k"
    assert paper["categories"]["in_domain"] == list(paper["data"]["train"]["presets"]["diverse-8k"])


def test_all18_is_the_whole_benchmark():
    sets = base()["categories"]["sets"]
    assert len(set(sets["all18"])) == 18 and sets["all18"][:9] == sets["study9"]


@pytest.mark.skipif(
    not set(base()["categories"]["sets"]["all18"]) <= set(CATEGORIES),
    reason="runs once all 18 category modules are registered",
)
def test_all18_resolves():
    raw = edited("categories.set", "all18")
    validate(raw)
    assert len(resolve(raw)["categories"]["out_of_domain"]) == 14


def test_a_custom_set():
    raw = edited("categories.sets.mine", ["maze", "water_jugs", "clock", "move_box", "n_queens"])
    raw["categories"]["set"] = "mine"
    validate(raw)
    cats = resolve(raw)["categories"]
    assert cats == {
        "set": "mine",
        "in_domain": ["maze", "clock", "move_box", "n_queens"],
        "out_of_domain": ["water_jugs"],
    }


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("categories.set", "study10", "'categories.set': unknown set 'study10' (valid: all18, lab, study9)"),
        ("categories.sets.study9", [], "'categories.sets.study9': [] should be non-empty"),
        ("categories.sets.study9", ["clock", "clock"], "'categories.sets.study9': ['clock', 'clock'] has non-unique"),
        (
            "categories.sets.study9",
            ["clock", "maze", "water_jugs"],
            "'data.train.presets.smoke.move_box': category 'move_box' is not in the category set 'study9'",
        ),
        (
            "categories.sets.study9",
            ["n_queens", "move_box", "maze", "clock"],
            "'categories.sets.study9': every category of the set is trained on by preset 'smoke'",
        ),
        ("data.train.presets.smoke", {}, "'data.train.presets.smoke': {} should be non-empty"),
        ("data.train.presets.smoke", {"chess": 2}, "'data.train.presets.smoke.chess': unknown name 'chess'"),
        (
            "data.train.preset",
            "huge",
            "'data.train.preset': unknown preset 'huge' (valid: clock-3k, diverse-8k, smoke)",
        ),
    ],
)
def test_bad_category_sets_and_presets_name_their_key(path, value, message):
    with pytest.raises(VisreasonError) as err:
        validate(edited(path, value))
    assert str(err.value).startswith(f"params.yaml: {message}")


# --------------------------------------------------------------------------- a job's settings


def test_a_training_job_merges_its_design_over_train():
    params = copy.deepcopy(load_params(scale="smoke"))
    params["rewards"]["mixture"] = {"learning_rate": 5e-4, "lora": {"enabled": True}}
    cfg = train_settings(params, "mixture")
    assert cfg["learning_rate"] == 5e-4 and cfg["lora"]["enabled"] and cfg["lora"]["r"] == params["train"]["lora"]["r"]
    assert train_settings(params, "vanilla") == params["train"]
    assert set(REWARD_DESIGNS) >= set(params["rewards"])


# --------------------------------------------------------------------------- the file


def test_file_errors(tmp_path):
    with pytest.raises(VisreasonError, match="params file not found"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("scale: smoke\ndata: [unclosed\n")
    with pytest.raises(VisreasonError, match="bad.yaml: line 3: invalid YAML"):
        load_params(bad)
    bad.write_text("- a list\n")
    with pytest.raises(VisreasonError, match="expected a mapping at the top level"):
        load_params(bad)
    bad.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(VisreasonError, match="bad.yaml: line 2: invalid YAML: but found another document"):
        load_params(bad)


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("x: &a\n  y: 1\nz:\n  <<: *a\n  y: 2\n")
    assert read_yaml(path) == {"x": {"y": 1}, "z": {"y": 2}}


def test_an_alias_to_its_own_anchor_is_one_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("a: &x [1, *x]\n")
    with pytest.raises(VisreasonError, match=r"p.yaml: 'a.1': an alias refers to its own anchor$"):
        read_yaml(path)
