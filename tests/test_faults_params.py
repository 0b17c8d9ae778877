"""Bad params files, one test per case: `visreason` stops with one line naming the file and the key,
exit status 2, and nothing written; `snakemake -n` stops on the same line before any job."""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest
import yaml

from visreason.cli import main
from visreason.config import DEFAULT_PARAMS, REPO_ROOT, resolve

TEXT = DEFAULT_PARAMS.read_text(encoding="utf-8")


def dumped(edit) -> bytes:
    raw = yaml.safe_load(TEXT)
    raw["scale"] = "smoke"  # the edits below are to the settings below the scales, which smoke keeps
    edit(raw)
    return yaml.safe_dump(raw, sort_keys=False).encode()


def dropped(path: str) -> bytes:
    *parents, last = path.split(".")

    def edit(raw):
        node = raw
        for key in parents:
            node = node[key]
        del node[last]

    return dumped(edit)


def set_to(path: str, value) -> bytes:
    *parents, last = path.split(".")

    def edit(raw):
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value

    return dumped(edit)


SCALE_LINE = next(n for n, line in enumerate(TEXT.splitlines(), 1) if line.startswith("scale: "))
LR_LINE = next(n for n, line in enumerate(TEXT.splitlines(), 1) if line.startswith("  learning_rate:"))
BINARY = bytes(range(256))  # the first byte that is not UTF-8 is 0x80, at offset 128, after one newline
LATIN1 = TEXT.replace("experiment: visreason", "experiment: visr\u00e9ason").encode("latin-1")
LATIN1_OFFSET = LATIN1.index(b"\xe9")
LATIN1_LINE = LATIN1[:LATIN1_OFFSET].count(b"\n") + 1

# case -> (the file's bytes, the message after "<file>: ")
CASES = {
    # P1: files that are not YAML text
    "binary": (BINARY, "line 2: not a UTF-8 text file (byte 0x80 at offset 128)"),
    "latin-1": (LATIN1, f"line {LATIN1_LINE}: not a UTF-8 text file (byte 0xe9 at offset {LATIN1_OFFSET})"),
    "nul-bytes": (b"scale: smoke\n\x00\x00", "line 2: not a YAML text file (character 0x00 at offset 13)"),
    # P2: every key the code reads is required (the ones that gave tracebacks or let `snakemake -n` pass)
    **{
        f"missing-{key}": (dropped(key), f"missing key '{key}'")
        for key in (
            "data.seed",
            "data.balance",
            "data.image_size",
            "data.eval.per_category",
            "categories.set",
            "categories.sets",
            "model.tiny_seed",
            "tracking.experiment",
            "model.name",
            "resources.train",
        )
    },
    # P2: numbers are finite
    "nan-learning-rate": (
        TEXT.replace("learning_rate: 1.0e-3", "learning_rate: .nan").encode(),
        "'train.learning_rate': must be a finite number, got nan",
    ),
    "inf-learning-rate": (
        TEXT.replace("learning_rate: 1.0e-3", "learning_rate: .inf").encode(),
        "'train.learning_rate': must be a finite number, got inf",
    ),
    # P2: empty category lists name their key
    "empty-set": (set_to("categories.sets.study9", []), "'categories.sets.study9': [] should be non-empty"),
    "empty-preset": (set_to("data.train.presets.smoke", {}), "'data.train.presets.smoke': {} should be non-empty"),
    # P4: one category cannot be both in- and out-of-domain, and neither list is empty
    "category-twice-in-a-set": (
        set_to("categories.sets.study9", ["clock", "maze", "move_box", "n_queens", "water_jugs", "clock"]),
        "'categories.sets.study9': ['clock', 'maze', 'move_box', 'n_queens', 'water_jugs', 'clock'] has non-unique "
        "elements",
    ),
    "explicit-in-domain-list": (
        set_to("categories.in_domain", ["clock"]),
        "unknown key 'categories.in_domain'",
    ),
    "no-out-of-domain": (
        set_to("categories.sets.study9", ["clock", "maze", "move_box", "n_queens"]),
        "'categories.sets.study9': every category of the set is trained on by preset 'smoke', so the out-of-domain "
        "list would be empty",
    ),
    "trained-but-not-evaluated": (
        set_to("categories.sets.study9", ["clock", "maze", "move_box", "water_jugs"]),
        "'data.train.presets.smoke.n_queens': category 'n_queens' is not in the category set 'study9' "
        "(categories.sets.study9), so it would never be evaluated",
    ),
    # P5: a duplicated key, at the top level and nested
    "duplicate-top-level-key": (
        (TEXT + "scale: paper\n").encode(),
        f"duplicate key 'scale' at lines {SCALE_LINE} and {TEXT.count(chr(10)) + 1}",
    ),
    "duplicate-nested-key": (
        TEXT.replace("  learning_rate: 1.0e-3", "  learning_rate: 1.0e-3\n  learning_rate: 1.0e-2", 1).encode(),
        f"duplicate key 'train.learning_rate' at lines {LR_LINE} and {LR_LINE + 1}",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_visreason_stops_with_one_line(case, tmp_path, capsys):
    content, message = CASES[case]
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    out = tmp_path / "eval"
    assert main(["data", "build", "--split", "eval", "--out", str(out), "--params", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"visreason: error: {path}: {message}\n" and captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """A copy of the workflow definition: Snakefile and workflow/, without results."""
    root = tmp_path_factory.mktemp("workflow")
    shutil.copy(REPO_ROOT / "Snakefile", root / "Snakefile")
    shutil.copytree(REPO_ROOT / "workflow", root / "workflow")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_snakemake_stops_on_the_same_line(case, workflow):
    content, message = CASES[case]
    (workflow / "params.yaml").write_bytes(content)
    proc = subprocess.run(["snakemake", "-n", "--cores", "1"], cwd=workflow, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"\nparams.yaml: {message}\n" in proc.stdout + proc.stderr
    assert not (workflow / "results").exists()


def test_snakemake_accepts_only_a_scale_from_the_command_line(workflow):
    (workflow / "params.yaml").write_text(TEXT)
    proc = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--config", "model={name: other}"],
        cwd=workflow,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "may only change `scale`" in proc.stderr + proc.stdout


def test_in_and_out_of_domain_are_disjoint_and_non_empty_for_every_set_and_preset():
    raw = yaml.safe_load(TEXT)
    raw["scale"] = "smoke"  # the settings below the scales, which smoke keeps
    for name, preset in itertools.product(raw["categories"]["sets"], raw["data"]["train"]["presets"]):
        raw["categories"]["set"], raw["data"]["train"]["preset"] = name, preset
        cats = resolve(raw)["categories"]
        assert cats["in_domain"] and cats["out_of_domain"], (name, preset)
        assert not set(cats["in_domain"]) & set(cats["out_of_domain"]), (name, preset)
        assert set(cats["in_domain"]) | set(cats["out_of_domain"]) == set(raw["categories"]["sets"][name])
