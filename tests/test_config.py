"""params.yaml validation: every bad value stops the first command, naming its key."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from visreason import VisreasonError
from visreason.config import DEFAULT_PARAMS, REPO_ROOT, resolve
from visreason.params import load_params, validate


def base() -> dict:
    return yaml.safe_load(DEFAULT_PARAMS.read_text())


def edited(path: str, value) -> dict:
    """params.yaml with the dotted `path` set to `value` (created if missing)."""
    params = base()
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return params


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
        ("rewards.mixtrue", {}, "'rewards': unknown name 'mixtrue' (valid: continuous, mixture,"),
        ("scales.paper.rewards", {"fancy": {}}, "'scales.paper.rewards': unknown name 'fancy'"),
        ("categories.in_domain", ["clock", "clocks"], "'categories.in_domain': unknown name 'clocks'"),
        ("seeds", [0, -1], "'seeds.1': -1 is less than the minimum of 0"),
        ("seeds", [1, 1], "'seeds'"),
        ("resources.train.gpus", -1, "'resources.train.gpus'"),
        ("resources.train.gpu", 1, "unknown key 'resources.train.gpu' (did you mean 'gpus'?)"),
        ("tracking.experiment", "", "'tracking.experiment'"),
        ("model", "tiny", "'model': 'tiny' is not of type 'object'"),
    ],
)
def test_invalid_values_name_their_key(path, value, message):
    with pytest.raises(VisreasonError) as err:
        validate(edited(path, value))
    assert message in str(err.value)


def test_unknown_scale_names_the_key():
    with pytest.raises(VisreasonError, match="'scale': unknown scale 'huge' \\(valid: lab, paper, smoke\\)"):
        resolve(base(), "huge")


def test_scale_overrides_merge_deeply():
    smoke, paper = load_params(scale="smoke"), load_params(scale="paper")
    assert paper["model"]["name"] != smoke["model"]["name"]
    assert paper["categories"] == smoke["categories"]  # untouched sections survive the merge
    assert paper["resources"]["train"]["gpus"] >= 1 and smoke["resources"]["train"]["gpus"] == 0


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


def test_cli_reports_one_line_naming_the_key(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(edited("train.max_steps", -5)))
    proc = subprocess.run(
        [sys.executable, "-m", "visreason", "report", "--params", str(bad), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "'train.max_steps'" in proc.stderr


def test_snakemake_stops_before_any_job_naming_the_key(tmp_path):
    for name in ["Snakefile", "workflow"]:
        src = REPO_ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(edited("rewards.mixtrue", {})))
    proc = subprocess.run(["snakemake", "-n", "--cores", "1"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "params.yaml: 'rewards': unknown name 'mixtrue'" in proc.stderr + proc.stdout
    # --config may switch the scale only: anything else would desynchronise the DAG and the jobs.
    (tmp_path / "params.yaml").write_text(DEFAULT_PARAMS.read_text())
    proc = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--config", "model={name: other}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "may only change `scale`" in proc.stderr + proc.stdout
