"""The `visreason` command as users meet it: help texts, choices, defaults, `config show`, and a
wheel install that runs without the repository."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from visreason.cli import build_parser, main
from visreason.config import DEFAULT_PARAMS, REPO_ROOT
from visreason.params import REWARD_DESIGNS, load_params


def parsers(parser: argparse.ArgumentParser, prefix: str = "visreason"):
    """(command line, parser) of the command and every subcommand, depth first."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{prefix} {name}")


ALL = dict(parsers(build_parser()))


def test_every_command_has_help():
    assert {"visreason config show", "visreason data build", "visreason train", "visreason evaluate"} <= set(ALL)
    for command, parser in ALL.items():
        assert parser.format_help(), command


@pytest.mark.parametrize("command", sorted(ALL))
def test_one_metavar_style(command):
    """Subcommands are COMMAND; a value is an upper-case noun (DIR, FILE, N, ...) or its list of choices."""
    for action in ALL[command]._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert action.metavar == "COMMAND", command
        elif action.option_strings and action.nargs != 0:
            if action.choices is not None:
                assert action.metavar is None, f"{command} {action.option_strings[0]}: choices are listed"
            else:
                assert re.fullmatch(r"[A-Z]+", action.metavar or ""), f"{command} {action.option_strings[0]}"


def test_enumerable_options_list_their_choices():
    options = {
        (command, opt): action.choices
        for command, parser in ALL.items()
        for action in parser._actions
        for opt in action.option_strings
    }
    designs = list(REWARD_DESIGNS)
    assert list(options["visreason train", "--reward"]) == designs
    assert list(options["visreason evaluate", "--prompt"]) == designs
    assert list(options["visreason config show", "--reward"]) == designs
    assert options["visreason evaluate", "--mode"] and options["visreason data build", "--split"]
    assert options["visreason evaluate", "--backend"] and options["visreason evaluate", "--answer-format"]
    assert options["visreason captions", "--captioner"]


def test_defaults_are_relative():
    for command, parser in ALL.items():
        for action in parser._actions:
            if isinstance(action.default, str):
                assert not Path(action.default).is_absolute(), f"{command} {action.option_strings}: {action.default}"
    assert build_parser().parse_args(["config", "show"]).params == "params.yaml"


def test_evaluate_help_prints_percent_once(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert "95% Wilson" in out and "%%" not in out


def test_a_bad_choice_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["config", "show", "--reward", "mixtrue"])
    assert exit_.value.code == 2
    assert "invalid choice: 'mixtrue'" in capsys.readouterr().err


# --------------------------------------------------------------------------- config show


def test_config_show_prints_the_resolved_params(capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # the default --params is params.yaml in the working directory
    assert main(["config", "show", "--scale", "paper"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# params.yaml resolved at scale paper\n")
    assert yaml.safe_load(out) == load_params(scale="paper")


def test_config_show_prints_a_training_jobs_settings(tmp_path, capsys):
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    raw["rewards"]["mixture"] = {"learning_rate": 0.25, "lora": {"r": 4}}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert main(["config", "show", "--reward", "mixture", "--params", str(params), "--scale", "smoke"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)["train"]
    assert shown == {**raw["train"], "learning_rate": 0.25, "lora": {**raw["train"]["lora"], "r": 4}}
    assert main(["config", "show", "--reward", "vanilla", "--params", str(params), "--scale", "paper"]) == 0
    out = capsys.readouterr().out
    assert "the training job of vanilla at scale paper" in out
    assert yaml.safe_load(out)["train"] == load_params(scale="paper")["train"]


def test_config_show_without_a_params_file_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["config", "show"]) == 2
    assert capsys.readouterr().err == "visreason: error: params file not found: params.yaml\n"


# --------------------------------------------------------------------------- a wheel install


@pytest.mark.slow
def test_a_wheel_install_runs_help_and_data_build(tmp_path):
    """Built offline from a copy of the sources, installed with `pip install --target` into a folder of
    its own, and run from a folder that holds nothing but a params file."""
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("visreason-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)], check=True)

    work = tmp_path / "work"
    work.mkdir()
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    raw["data"].update(image_size=64, workers=1)
    raw["data"]["eval"]["per_category"] = 1
    raw["scale"] = "smoke"  # the nine real categories, one puzzle each
    (work / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {
        **os.environ,
        "PYTHONPATH": str(target),  # before the editable checkout on sys.path
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }

    def visreason(*args):
        return subprocess.run(
            [str(target / "bin" / "visreason"), *args], cwd=work, env=env, capture_output=True, text=True
        )

    where = subprocess.run(
        [sys.executable, "-c", "import visreason.config as c; print(c.__file__, c.SCHEMA_PATH.is_file())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(target)) and where.stdout.split()[-1] == "True"
    helped = visreason("--help")
    assert helped.returncode == 0 and "COMMAND" in helped.stdout
    built = visreason("data", "build", "--split", "eval", "--out", "eval")
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith(f"wrote {len(raw['categories']['sets']['study9'])} eval records (generated)")
    assert (work / "eval" / "manifest.json").is_file()
