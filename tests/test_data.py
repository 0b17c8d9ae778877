"""visreason.data and visreason.released: determinism, balancing, dedupe, the three sources,
verify, preview, and bad input."""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PIL import Image

from visreason import VisreasonError
from visreason.cli import main
from visreason.config import DEFAULT_PARAMS
from visreason.data import (
    acceptance,
    build_dataset,
    check_counts,
    encode_png,
    preview,
    stable_seed,
    train_counts,
    verify_dataset,
)
from visreason.params import all_categories, load_params
from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import Puzzle
from visreason.records import RECORD_FIELDS, load_records
from visreason.released import huggingface_rows

STUDY9 = all_categories(load_params(scale="smoke"))


class Toy(Puzzle):
    """A toy category with `states` states; answers are skewed: "a" for 80% of states."""

    name = "toy"

    def __init__(self, states: int = 20):
        self.states = states

    def sample(self, rng):
        return {"n": rng.randrange(self.states)}, "Is n small?"

    def solve(self, solution, question):
        return "a" if solution["n"] < 0.8 * self.states else "b"

    def describe(self, solution):
        return f"n = {solution['n']}"

    def start_state(self, solution):
        return solution["n"]

    def facts(self, solution):
        return [f"n = {solution['n']}"]

    def render(self, solution, size):
        return Image.new("RGB", (size, size), (solution["n"] * 10 % 256, 0, 0))

    def options(self, answer, solution, rng):
        return ["a", "b"]


class PathToy(Toy):
    """A toy whose `path` is derived, as a solver's path is: one start state `n` may come with
    either of two equally good paths."""

    def sample(self, rng):
        return {"n": rng.randrange(self.states), "path": rng.choice([[0, 1], [1, 0]])}, "Is n small?"


class Crash(Toy):
    """Renders a few images, then fails: an interrupted build."""

    name = "crash"

    def render(self, solution, size):
        raise KeyboardInterrupt


def params_for(counts: dict[str, int] | None = None, **data) -> dict:
    """The repository's params with a small training preset and small images."""
    params = copy.deepcopy(load_params(scale="smoke"))
    params["data"].update({"image_size": 64, "workers": 1, **data})
    if counts is not None:
        params["data"]["train"]["presets"]["test"] = counts
        params["data"]["train"]["preset"] = "test"
    return params


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(CATEGORIES, "toy", Toy())
    return CATEGORIES["toy"]


def test_stable_seed():
    assert stable_seed(0, "train", "clock", 1) == stable_seed(0, "train", "clock", 1)
    assert stable_seed(0, "train", "clock", 1) != stable_seed(0, "eval", "clock", 1)


def test_acceptance_caps_frequent_answers_and_leaves_flat_ones():
    skewed = acceptance(Counter({"a": 320, "b": 80}), 400, rate=0.25)
    assert skewed["a"] * 0.8 == pytest.approx(skewed["b"] * 0.2)  # kept 50/50
    flat = acceptance(Counter({str(i): 1 for i in range(400)}), 400, rate=0.25)
    assert set(flat.values()) == {1.0}  # counts below 5 are noise: never down-weighted
    even = acceptance(Counter({"1": 90, "2": 110}), 200, rate=0.25)
    assert even == {"1": 1.0, "2": pytest.approx(90 / 110)}  # nearly flat: rejects only what it must
    assert acceptance(Counter({"a": 320, "b": 80}), 400, rate=1.0) == {"a": 1.0, "b": 1.0}
    # rate 1 (the paper scale) keeps every draw even where the frequencies sum to just under 1
    uneven = Counter({"a": 17, "b": 19, "c": 60, "d": 38, "e": 110, "f": 70, "g": 23, "h": 63})
    assert sum(n / 400 for n in sorted(uneven.values())) < 1
    assert set(acceptance(uneven, 400, rate=1.0).values()) == {1.0}


def test_generated_build_is_byte_identical_across_runs_and_workers(tmp_path):
    counts = {"clock": 12, "maze": 12, "water_jugs": 8}
    out = {}
    for name, workers in [("a", 1), ("b", 1), ("c", 2)]:
        build_dataset(params_for(counts, workers=workers), "train", tmp_path / name)
        out[name] = {
            p.relative_to(tmp_path / name): p.read_bytes() for p in (tmp_path / name).rglob("*") if p.is_file()
        }
    assert out["a"] == out["b"] == out["c"]
    other = build_dataset(params_for(counts, seed=1), "train", tmp_path / "seed1")
    assert other["files"] != json.loads(out["a"][Path("manifest.json")])["files"]


def test_manifest_and_records(tmp_path):
    manifest = build_dataset(params_for({"clock": 5, "maze": 4}), "train", tmp_path / "d")
    records = load_records(tmp_path / "d")
    assert manifest["counts"] == {"clock": 5, "maze": 4} and manifest["num_records"] == 9
    assert all(set(r) == set(RECORD_FIELDS) and r["split"] == "train" and r["source"] == "generated" for r in records)
    assert [r["id"] for r in records[:2]] == ["clock-train-00000", "clock-train-00001"]
    assert sum(manifest["answer_histograms"]["maze"].values()) == 4
    assert set(manifest["files"]) == {"records.jsonl", *(r["image"] for r in records)}
    assert "workers" not in json.dumps(manifest["params"])  # output does not depend on it
    with Image.open(tmp_path / "d" / records[0]["image"]) as img:
        assert img.format == "PNG" and max(img.size) == 64
    assert verify_dataset(tmp_path / "d") == {"records": 9, "files": 10}


def test_balancing_flattens_a_skewed_category(toy, tmp_path):
    toy.states = 1000
    balanced = build_dataset(params_for({"toy": 200}), "train", tmp_path / "b")["answer_histograms"]["toy"]
    natural = build_dataset(
        params_for({"toy": 200}, balance={"pilot": 400, "acceptance": 1.0, "max_tries": 50}), "train", tmp_path / "n"
    )["answer_histograms"]["toy"]
    assert natural["a"] > 140  # about 80%
    assert 85 <= balanced["a"] <= 115  # about 50%


def test_dedupe_within_split_and_against_exclude(monkeypatch, tmp_path):
    monkeypatch.setitem(CATEGORIES, "toy", PathToy())
    params = params_for({"toy": 12})
    params["categories"] = {"in_domain": ["toy"], "out_of_domain": []}
    params["data"]["eval"]["per_category"] = 6
    eval_manifest = build_dataset(params, "eval", tmp_path / "eval")
    train_manifest = build_dataset(params, "train", tmp_path / "train", exclude=tmp_path / "eval")
    held_out = {r["solution"]["n"] for r in load_records(tmp_path / "eval")}
    train = [r["solution"]["n"] for r in load_records(tmp_path / "train")]
    assert len(set(train)) == len(train) == 12 and not held_out & set(train)  # start states, whatever their paths
    assert len(held_out) == 6
    assert eval_manifest["balance"]["toy"]["redraws"] + train_manifest["balance"]["toy"]["redraws"] > 0
    assert train_manifest["excluded"]["records"] == 6


def test_too_small_state_space_is_an_error(toy, tmp_path):
    toy.states = 5
    with pytest.raises(VisreasonError, match="cannot draw 6 distinct 'toy' puzzles"):
        build_dataset(params_for({"toy": 6}), "train", tmp_path / "d")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_build_leaves_nothing_that_looks_complete(monkeypatch, tmp_path):
    build_dataset(params_for({"clock": 3}), "train", tmp_path / "d")
    before = (tmp_path / "d" / "manifest.json").read_bytes()
    monkeypatch.setitem(CATEGORIES, "crash", Crash())
    with pytest.raises(KeyboardInterrupt):
        build_dataset(params_for({"crash": 3}), "train", tmp_path / "d")
    assert (tmp_path / "d" / "manifest.json").read_bytes() == before  # the old dataset is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no temporary folder left


def test_presets():
    smoke = train_counts(load_params(scale="smoke"))
    assert set(smoke) == {"clock", "maze", "move_box", "n_queens"} and all(n >= 8 for n in smoke.values())
    paper = load_params(scale="paper")
    assert train_counts(paper) == {"clock": 2000, "maze": 2000, "move_box": 2000, "n_queens": 2000}
    paper["data"]["train"]["preset"] = "clock-3k"
    assert train_counts(paper) == {"clock": 3000}
    assert paper["data"]["image_size"] == 512 and paper["data"]["eval"]["source"] == "huggingface"


def test_smoke_sets_build_verify_and_preview(tmp_path):
    params = params_for()
    eval_manifest = build_dataset(params, "eval", tmp_path / "eval")
    assert eval_manifest["counts"] == {c: params["data"]["eval"]["per_category"] for c in STUDY9}
    manifest = build_dataset(params, "train", tmp_path / "train", exclude=tmp_path / "eval")
    assert manifest["counts"] == train_counts(params)
    for split in ("eval", "train"):
        verify_dataset(tmp_path / split)
    sheet = preview(tmp_path / "eval", tmp_path / "sheet.png", per_category=2)
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.height > len(STUDY9) * 64


def test_local_released_folder_converts_all_900(shared_data, tmp_path):
    params = params_for()
    params["data"]["eval"].update(source="local", local_path=str(shared_data))
    manifest = build_dataset(params, "eval", tmp_path / "eval")
    assert manifest["counts"] == {c: 100 for c in STUDY9} and manifest["source"] == "local"
    records = load_records(tmp_path / "eval")
    first = records[0]
    assert first["id"] == "clock-0000" and first["source"] == "algopuzzlevqa" and first["description"]
    raw = json.loads((shared_data / "data" / "clock.json").read_text().splitlines()[0])
    assert (first["question"], first["answer"], first["solution"]) == (raw["question"], raw["answer"], raw["solution"])
    assert (tmp_path / "eval" / first["image"]).read_bytes() == (shared_data / "data" / raw["image"]).read_bytes()
    assert verify_dataset(tmp_path / "eval")["records"] == 900


def test_huggingface_adapter_feeds_the_same_converter(shared_data, monkeypatch):
    """The Hub copy (one split, `solution` as a JSON string, no category column) gives the local records."""
    import datasets

    rows = []
    for category in ("clock", "maze", "rotting_kiwi"):
        for line in (shared_data / "data" / f"{category}.json").read_text().splitlines()[:2]:
            raw = json.loads(line)
            rows.append(
                {**raw, "image": str(shared_data / "data" / raw["image"]), "solution": json.dumps(raw["solution"])}
            )
    hub = datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: hub)
    got = list(huggingface_rows("declare-lab/AlgoPuzzleVQA", "data", ["clock", "rotting_kiwi"]))
    assert [c for c, *_ in got] == ["clock", "clock", "rotting_kiwi", "rotting_kiwi"]  # maze not asked for: skipped
    category, where, raw, image = got[0]
    assert "row 0" in where and isinstance(raw["solution"], dict)
    assert image == (shared_data / "data" / "images" / "clock" / "clock_0000.jpg").read_bytes()
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: hub.remove_columns("solution"))
    with pytest.raises(VisreasonError, match="has no 'solution' column"):
        list(huggingface_rows("declare-lab/AlgoPuzzleVQA", "data", ["clock"]))


def test_huggingface_offline_suggests_local_or_generated(tmp_path):
    params = params_for()
    params["data"]["eval"]["source"] = "huggingface"
    with pytest.raises(VisreasonError, match="data.eval.source: local"):
        build_dataset(params, "eval", tmp_path / "eval")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def released(shared_data, tmp_path):
    """A released-layout folder with 2 clock records, to break in tests."""
    root = tmp_path / "released"
    (root / "data" / "images" / "clock").mkdir(parents=True)
    lines = (shared_data / "data" / "clock.json").read_text().splitlines()[:2]
    for line in lines:
        image = json.loads(line)["image"]
        shutil.copy(shared_data / "data" / image, root / "data" / image)
    (root / "data" / "clock.json").write_text("\n".join(lines) + "\n")
    return root


def _build_local(root: Path, out: Path) -> dict:
    params = params_for()
    params["categories"] = {"in_domain": ["clock"], "out_of_domain": []}
    params["data"]["eval"].update(source="local", local_path=str(root))
    return build_dataset(params, "eval", out)


def _first_record(root: Path) -> tuple[Path, list[dict]]:
    path = root / "data" / "clock.json"
    return path, [json.loads(line) for line in path.read_text().splitlines()]


def test_local_folder_converts(released, tmp_path):
    assert _build_local(released, tmp_path / "out" / "eval")["counts"] == {"clock": 2}


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing image", r"clock\.json line 2: image not found: .*clock_0001\.jpg"),
        ("corrupt image", r"clock\.json line 2: corrupt image"),
        ("missing field", r"clock\.json line 2: record is missing field 'solution'"),
        ("bad json", r"clock\.json line 2: invalid JSON"),
        ("answer not an option", r"clock\.json line 2: field 'answer' '99:99' is not one of the options"),
    ],
)
def test_bad_local_dataset(released, tmp_path, breakage, message):
    path, records = _first_record(released)
    image = released / "data" / records[1]["image"]
    if breakage == "missing image":
        image.unlink()
    elif breakage == "corrupt image":
        image.write_bytes(image.read_bytes()[: len(image.read_bytes()) // 3])
    elif breakage == "missing field":
        del records[1]["solution"]
    elif breakage == "answer not an option":
        records[1]["answer"] = "99:99"
    lines = [json.dumps(r) for r in records]
    if breakage == "bad json":
        lines[1] = lines[1][:-1]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    with pytest.raises(VisreasonError, match=message) as err:
        _build_local(released, out / "eval")
    assert "\n" not in str(err.value)
    assert not out.exists() or list(out.iterdir()) == []  # nothing half-written


def test_a_released_build_sharing_puzzles_with_the_excluded_set_is_refused(released, tmp_path):
    _build_local(released, tmp_path / "first")
    params = params_for()
    params["categories"] = {"in_domain": ["clock"], "out_of_domain": []}
    params["data"]["eval"].update(source="local", local_path=str(released))
    with pytest.raises(
        VisreasonError,
        match=r"^data: 2 local record\(s\) are puzzles of the --exclude dataset, the first clock-0000 "
        r"\(the same start state and question as its record clock-0000\)$",
    ):
        build_dataset(params, "eval", tmp_path / "second", exclude=tmp_path / "first")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "released"]


def test_missing_category_file(released, tmp_path):
    params = params_for()
    params["categories"] = {"in_domain": ["clock", "maze"], "out_of_domain": []}
    params["data"]["eval"].update(source="local", local_path=str(released))
    with pytest.raises(VisreasonError, match=r"maze\.json \(category 'maze'\)"):
        build_dataset(params, "eval", tmp_path / "out")


def test_bad_counts():
    with pytest.raises(VisreasonError, match=r"'data\.train\.presets\.smoke\.chess': unknown category 'chess'"):
        check_counts({"clock": 1, "chess": 2}, "data.train.presets.smoke")
    for bad in (0, -3, 1.5):
        with pytest.raises(
            VisreasonError, match=r"'data\.train\.presets\.smoke\.clock': count must be a positive integer"
        ):
            check_counts({"clock": bad}, "data.train.presets.smoke")
    params = params_for()
    params["data"]["train"]["preset"] = "huge"
    with pytest.raises(VisreasonError, match=r"'data\.train\.preset': unknown preset 'huge'"):
        train_counts(params)


def _write_params(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["data"]["train"]["presets"]["smoke"].update(clock=0), r"data\.train\.presets\.smoke\.clock"),
        (lambda p: p["data"]["train"]["presets"]["smoke"].update(clock=-2), r"data\.train\.presets\.smoke\.clock"),
        (lambda p: p["data"]["eval"].update(per_category=0), r"data\.eval\.per_category"),
        (lambda p: p["data"]["train"]["presets"]["smoke"].update(chess=4), r"data\.train\.presets\.smoke\.chess"),
        (lambda p: p["categories"]["sets"]["study9"].append("chess"), r"categories\.sets\.study9.*chess"),
    ],
)
def test_cli_bad_params_is_one_line_naming_the_key(tmp_path, capsys, edit, message):
    params = _write_params(tmp_path, edit)
    assert main(["data", "build", "--split", "train", "--out", str(tmp_path / "d"), "--params", str(params)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(message, err), err
    assert not (tmp_path / "d").exists()


def test_cli_unreadable_params(tmp_path, capsys):
    for path in (tmp_path / "missing.yaml", tmp_path):
        assert main(["data", "build", "--split", "eval", "--out", str(tmp_path / "d"), "--params", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and str(path) in err
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    assert main(["data", "verify", "--data", str(tmp_path)]) == 2  # verify reads only the dataset
    assert "no manifest.json" in capsys.readouterr().err
    assert (
        main(["data", "build", "--split", "eval", "--out", str(tmp_path / "d"), "--params", str(tmp_path / "bad.yaml")])
        == 2
    )
    assert "invalid YAML" in capsys.readouterr().err


def test_load_records_rejects_bad_records(tmp_path):
    build_dataset(params_for({"clock": 2}), "train", tmp_path / "d")
    path = tmp_path / "d" / "records.jsonl"
    good = path.read_text()
    first = json.loads(good.splitlines()[0])
    cases = [
        ({**first, "category": "chess"}, r"line 1 \(record clock-train-00000\): unknown category 'chess'"),
        (
            {k: v for k, v in first.items() if k != "description"},
            r"line 1 \(record clock-train-00000\): record is missing field 'description'",
        ),
        ({**first, "image": "images/clock/nope.png"}, r"line 1 \(record clock-train-00000\): image not found"),
        ({**first, "image": "../outside.png"}, r"must be a path inside the dataset folder"),
    ]
    for record, message in cases:
        path.write_text(json.dumps(record) + "\n" + good.split("\n", 1)[1])
        with pytest.raises(VisreasonError, match=message):
            load_records(tmp_path / "d")
    path.write_text(good)
    (tmp_path / "d" / first["image"]).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(VisreasonError, match="corrupt image"):
        load_records(tmp_path / "d")


def test_verify_catches_tampering(tmp_path):
    build_dataset(params_for({"clock": 3}), "train", tmp_path / "d")
    records = load_records(tmp_path / "d")
    Image.new("RGB", (64, 64)).save(tmp_path / "d" / records[1]["image"])
    with pytest.raises(
        VisreasonError, match=r"1 problem\(s\): file images/clock/clock-train-00001\.png: sha256 differs"
    ):
        verify_dataset(tmp_path / "d")
    build_dataset(params_for({"clock": 3}), "train", tmp_path / "d")
    lines = (tmp_path / "d" / "records.jsonl").read_text().splitlines()
    wrong = json.loads(lines[2])
    wrong["answer"] = next(o for o in wrong["options"] if o != wrong["answer"])
    lines[2] = json.dumps(wrong)
    (tmp_path / "d" / "records.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        VisreasonError,
        match=r"2 problem\(s\): file records.jsonl: sha256 differs .*; record clock-train-00002: solver gives",
    ):
        verify_dataset(tmp_path / "d")


def test_cli_build_preview_verify(tmp_path, capsys):
    params = _write_params(
        tmp_path, lambda p: (p["data"].update(image_size=64), p["data"]["eval"].update(per_category=1))
    )
    out = tmp_path / "eval"
    assert (
        main(["data", "build", "--split", "eval", "--out", str(out), "--params", str(params), "--scale", "smoke"]) == 0
    )
    assert main(["data", "verify", "--data", str(out)]) == 0
    assert (
        main(["data", "preview", "--data", str(out), "--out", str(tmp_path / "sheet.png"), "--per-category", "1"]) == 0
    )
    assert "9 records and 10 files verified" in capsys.readouterr().out
    assert Image.open(tmp_path / "sheet.png").format == "PNG"
    assert main(["data", "preview", "--data", str(out), "--out", str(tmp_path / "x.png"), "--per-category", "0"]) == 2


def test_encode_png_is_lossless_and_stable():
    image = Image.effect_noise((37, 21), 64).convert("RGB")
    data = encode_png(image, 1)
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == "PNG" and decoded.mode == "RGB" and decoded.tobytes() == image.tobytes()
    assert encode_png(image, 1) == data


# --------------------------------------------------------------------------- the study's protocol


@pytest.mark.slow
@pytest.mark.skipif(
    type(CATEGORIES["move_box"]).start_state is Puzzle.start_state, reason="runs once move_box implements start_state"
)
def test_a_paper_scale_move_box_build_holds_no_released_start_state(shared_data, tmp_path):
    """2,000 Move Box training puzzles at paper scale (seed 0, no balancing), built with --exclude of
    the released evaluation set, share no start state with its 100 Move Box puzzles: the exclusion
    compares start states, not the push path a solver derives (ours may pick another shortest one).
    Images are small: the states drawn do not depend on their size."""
    params = load_params(scale="paper")
    params["data"]["eval"].update(source="local", local_path=str(shared_data))
    params["data"]["image_size"] = 64
    params["data"]["train"]["presets"]["move_box-2k"] = {"move_box": 2000}
    params["data"]["train"]["preset"] = "move_box-2k"
    build_dataset(params, "eval", tmp_path / "eval")
    manifest = build_dataset(params, "train", tmp_path / "train", exclude=tmp_path / "eval")
    move_box = CATEGORIES["move_box"]

    def start_states(folder):
        return [
            json.dumps(move_box.start_state(r["solution"]), sort_keys=True)
            for r in load_records(folder, check_images=False)
            if r["category"] == "move_box"
        ]

    released, train = set(start_states(tmp_path / "eval")), start_states(tmp_path / "train")
    assert len(released) == 100 and len(train) == len(set(train)) == 2000
    assert not released & set(train)
    assert manifest["excluded"]["records"] == 900 and manifest["params"]["balance"]["acceptance"] == 1
    # the exclusion did work: drawn without it, the same build holds released start states
    unexcluded = build_dataset(params, "train", tmp_path / "unexcluded")
    assert unexcluded["balance"]["move_box"]["redraws"] < manifest["balance"]["move_box"]["redraws"]
    assert released & set(start_states(tmp_path / "unexcluded"))
