"""Bad datasets and failing builds, one test per case, through the command line: one line naming the
file, record or key, exit status 2, no half-made dataset, and no MLflow run left RUNNING."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import mlflow
import pytest
import yaml
from PIL import Image

from visreason import VisreasonError, data
from visreason.cli import main
from visreason.config import DEFAULT_PARAMS
from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import Puzzle
from visreason.records import check_built


class Toy(Puzzle):
    """A stand-in category: its start state is `n`; `path` is derived from it, as a solver's path is."""

    name = "toy"

    def sample(self, rng):
        n = rng.randrange(1000)
        return {"n": n, "path": list(range(n % 3))}, "Is n even?"

    def solve(self, solution, question):
        return "yes" if solution["n"] % 2 == 0 else "no"

    def start_state(self, solution):
        return solution["n"]

    def describe(self, solution):
        return f"n = {solution['n']}"

    def facts(self, solution):
        return [f"n = {solution['n']}"]

    def render(self, solution, size):
        return Image.new("RGB", (size, size), (solution["n"] % 256, 0, 0))

    def options(self, answer, solution, rng):
        return ["yes", "no"]


class Drifting(Toy):
    """A category whose solver reads the state differently once it has been through JSON (a tuple
    becomes a list): the answers it draws are not the answers of the records it writes."""

    name = "drifting"

    def sample(self, rng):
        return {"n": (rng.randrange(1000),), "path": []}, "Is n even?"

    def solve(self, solution, question):
        return "yes" if isinstance(solution["n"], tuple) else "no"

    def start_state(self, solution):
        return list(solution["n"])

    def describe(self, solution):
        return f"n = {solution['n'][0]}"

    def facts(self, solution):
        return [self.describe(solution)]

    def render(self, solution, size):
        return Image.new("RGB", (size, size))


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(CATEGORIES, "toy", Toy())
    monkeypatch.setitem(CATEGORIES, "drifting", Drifting())


@pytest.fixture
def work(tmp_path, monkeypatch):
    """The working directory of a command (MLflow puts its artifacts there), apart from the outputs."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def write_params(folder: Path, categories: list[str], trained: dict[str, int], **eval_settings) -> Path:
    """params.yaml evaluating `categories` and training on `trained`, small and single-process,
    logging to an experiment of its own."""
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text()) | {"scale": "smoke"}
    raw["categories"]["sets"]["test"] = categories
    raw["categories"]["set"] = "test"
    raw["data"].update(image_size=64, workers=1)
    raw["data"]["train"]["presets"]["test"] = trained
    raw["data"]["train"]["preset"] = "test"
    del raw["scales"]["paper"]["data"]["train"]  # its preset trains on categories outside the set
    raw["data"]["eval"].update(per_category=2, **eval_settings)
    raw["tracking"]["experiment"] = f"faults-{uuid.uuid4().hex[:8]}"
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def runs(params: Path) -> list[str]:
    """The statuses of the runs logged under the experiment of `params`."""
    experiment = yaml.safe_load(params.read_text())["tracking"]["experiment"]
    found = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    return [r.info.status for r in found]


def one_line_error(capsys) -> str:
    """The error: the last line on stderr and the only error there, with no traceback (progress
    lines and MLflow's store messages may come before it)."""
    err = capsys.readouterr().err
    *before, last = err.splitlines()
    assert last.startswith("visreason: error: ") and "Traceback" not in err, err
    assert not any("error" in line.lower() for line in before), before
    return last.removeprefix("visreason: error: ")


@pytest.fixture
def released(shared_data, tmp_path) -> Path:
    """A released-layout folder with the first 2 clock and 2 move_box records, to break in tests."""
    root = tmp_path / "released"
    for category in ("clock", "move_box"):
        (root / "data" / "images" / category).mkdir(parents=True)
        lines = (shared_data / "data" / f"{category}.json").read_text().splitlines()[:2]
        for line in lines:
            image = json.loads(line)["image"]
            shutil.copy(shared_data / "data" / image, root / "data" / image)
        (root / "data" / f"{category}.json").write_text("\n".join(lines) + "\n")
    return root


def edit_released(root: Path, category: str, edit) -> Path:
    path = root / "data" / f"{category}.json"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in edit(records)))
    return path


def build_released(root: Path, work: Path, out: Path) -> int:
    params = write_params(work, ["clock", "move_box"], {"clock": 2}, source="local", local_path=str(root))
    return main(["data", "build", "--split", "eval", "--out", str(out), "--params", str(params)])


def test_the_released_fixture_builds(released, work, tmp_path):
    assert build_released(released, work, tmp_path / "eval") == 0
    assert json.loads((tmp_path / "eval" / "manifest.json").read_text())["counts"] == {"clock": 2, "move_box": 2}


# --------------------------------------------------------------------------- D1: duplicates


def test_a_duplicated_released_line_is_refused(released, work, tmp_path, capsys):
    path = edit_released(released, "clock", lambda rs: [rs[0], rs[1], rs[0]])
    assert build_released(released, work, tmp_path / "eval") == 2
    assert one_line_error(capsys) == (
        f"{path} line 3 (record clock-0002): the same puzzle (start state and question) as "
        f"{path} line 1 (record clock-0000)"
    )
    assert not (tmp_path / "eval").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["released", "work"]


def test_a_released_start_state_twice_with_other_derived_fields_is_refused(toy, released, work, tmp_path, capsys):
    """Two released records of one start state and question are one puzzle, however their derived
    fields (a solver's path) differ."""
    rows = [{"n": 4, "path": [0]}, {"n": 5, "path": []}, {"n": 4, "path": [1, 0]}]
    path = released / "data" / "toy.json"
    path.write_text(
        "".join(
            json.dumps({"image": "images/clock/clock_0000.jpg", "question": "Is n even?", "options": ["yes", "no"],
                        "answer": Toy().solve(s, ""), "solution": s}) + "\n"
            for s in rows
        )
    )  # fmt: skip
    params = write_params(work, ["clock", "move_box", "toy"], {"clock": 2}, source="local", local_path=str(released))
    assert main(["data", "build", "--split", "eval", "--out", str(tmp_path / "eval"), "--params", str(params)]) == 2
    assert one_line_error(capsys) == (
        f"{path} line 3 (record toy-0002): the same puzzle (start state and question) as "
        f"{path} line 1 (record toy-0000)"
    )
    assert not (tmp_path / "eval").exists()


def test_check_built_refuses_a_duplicate_id(toy):
    record = {"id": "toy-1", "category": "toy", "solution": {"n": 1, "path": []}, "question": "?", "answer": "no"}
    other = {**record, "solution": {"n": 3, "path": []}}
    with pytest.raises(VisreasonError, match=r"^record b: duplicate id 'toy-1' \(first: record a\)$"):
        check_built([(record, "record a"), (other, "record b")])


def test_a_duplicated_line_in_a_dataset_is_refused_at_load(tmp_path, work, capsys, toy):
    params = write_params(work, ["toy", "clock"], {"toy": 3})
    out = tmp_path / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 0
    capsys.readouterr()
    lines = (out / "records.jsonl").read_text().splitlines()
    (out / "records.jsonl").write_text("\n".join([*lines, lines[0]]) + "\n")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert main(["data", "verify", "--data", str(out)]) == 2
    assert one_line_error(capsys) == (
        f"{out / 'records.jsonl'} line 4 (record toy-train-00000): duplicate id 'toy-train-00000' (first at line 1)"
    )
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # verify writes nothing


def test_a_category_without_start_state_is_one_line(monkeypatch, tmp_path, work, capsys):
    class Stateless(Toy):
        name = "stateless"
        start_state = Puzzle.start_state

    monkeypatch.setitem(CATEGORIES, "stateless", Stateless())
    params = write_params(work, ["stateless", "clock"], {"stateless": 2})
    out = tmp_path / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 2
    assert one_line_error(capsys) == "stateless: start_state is not implemented, so its puzzles cannot be told apart"
    assert not out.exists() and runs(params) == ["FAILED"]


# --------------------------------------------------------------------------- D2: answers


def test_a_released_answer_its_solver_contradicts_is_refused(released, work, tmp_path, capsys):
    def wrong(records):
        r = records[1]
        r["answer"] = next(o for o in r["options"] if o != r["answer"])
        return records

    path = edit_released(released, "move_box", wrong)
    record = json.loads(path.read_text().splitlines()[1])
    solved = CATEGORIES["move_box"].solve(record["solution"], record["question"])
    assert build_released(released, work, tmp_path / "eval") == 2
    assert one_line_error(capsys) == (
        f"{path} line 2 (record move_box-0001): the answer is {record['answer']!r}, but the solver gives {solved!r}"
    )
    assert not (tmp_path / "eval").exists()


def test_a_generated_answer_that_the_written_record_contradicts_is_refused(toy, tmp_path, work, capsys):
    params = write_params(work, ["drifting", "toy"], {"drifting": 2})
    out = tmp_path / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 2
    assert one_line_error(capsys) == (
        "generated record drifting-train-00000: the answer is 'yes', but the solver gives 'no'"
    )
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert runs(params) == ["FAILED"]


# --------------------------------------------------------------------------- D3: paths


@pytest.mark.parametrize("image", ["/etc/hostname", "../../outside.png", "images/../../released/data/clock.json"])
def test_a_released_image_path_outside_the_folder_is_refused(released, work, tmp_path, capsys, image):
    (tmp_path / "outside.png").write_bytes((released / "data" / "images" / "clock" / "clock_0000.jpg").read_bytes())
    path = edit_released(released, "clock", lambda rs: [rs[0], {**rs[1], "image": image}])
    assert build_released(released, work, tmp_path / "eval") == 2
    assert one_line_error(capsys) == (
        f"{path} line 2: field 'image' must be a path inside {released / 'data'}, got {image!r}"
    )
    assert not (tmp_path / "eval").exists()


# --------------------------------------------------------------------------- D4: a full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: a real full disk (needs the right to mount, as root in this sandbox)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()} (the next test fakes a full disk)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_during_a_build_is_one_line(small_disk, work, capsys):
    params = write_params(work, ["clock", "maze"], {"clock": 60})
    raw = yaml.safe_load(params.read_text())
    raw["data"].update(image_size=256, workers=2)  # rendered in worker processes, as the pipeline does
    params.write_text(yaml.safe_dump(raw))
    out = small_disk / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 2
    message = one_line_error(capsys)
    assert message.startswith(f"data: building {out} failed, nothing written: No space left on device: {out}/")
    assert list(small_disk.iterdir()) == []  # no dataset, no temporary folder
    assert runs(params) == ["FAILED"]


def test_a_full_disk_at_the_last_write_leaves_the_old_dataset(toy, tmp_path, work, capsys, monkeypatch):
    """The manifest is written last; failing there (a hook raising ENOSPC) keeps the previous dataset whole."""
    params = write_params(work, ["toy", "clock"], {"toy": 3})
    out = tmp_path / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(data, "write_json", full)
    capsys.readouterr()
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 2
    assert one_line_error(capsys) == (
        f"data: building {out} failed, nothing written: No space left on device: {out / 'manifest.json'}"
    )
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train", "work"]
    assert runs(params) == ["FAILED", "FINISHED"]


# --------------------------------------------------------------------------- D5: bookkeeping files


def test_verify_ignores_snakemakes_timestamp_but_not_other_files(toy, tmp_path, work, capsys):
    params = write_params(work, ["toy", "clock"], {"toy": 3})
    out = tmp_path / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 0
    (out / ".snakemake_timestamp").touch()
    assert main(["data", "verify", "--data", str(out)]) == 0
    assert capsys.readouterr().out.endswith("3 records and 4 files verified\n")
    (out / "notes.txt").write_text("mine")
    assert main(["data", "verify", "--data", str(out)]) == 2
    assert one_line_error(capsys) == f"{out}: 1 problem(s): file notes.txt is not in the manifest"


# --------------------------------------------------------------------------- images


def test_a_corrupt_released_image_names_the_file(released, work, tmp_path, capsys):
    image = released / "data" / "images" / "clock" / "clock_0001.jpg"
    image.write_bytes(b"not an image")
    assert build_released(released, work, tmp_path / "eval") == 2
    assert one_line_error(capsys) == (
        f"{released / 'data' / 'clock.json'} line 2: corrupt image {image}: not an image format Pillow reads"
    )
    assert not (tmp_path / "eval").exists()


def test_a_corrupt_dataset_image_names_the_file(toy, tmp_path, work, capsys):
    params = write_params(work, ["toy", "clock"], {"toy": 3})
    out = tmp_path / "train"
    assert main(["data", "build", "--split", "train", "--out", str(out), "--params", str(params)]) == 0
    capsys.readouterr()
    image = out / "images" / "toy" / "toy-train-00001.png"
    image.write_bytes(b"garbage")
    assert main(["data", "verify", "--data", str(out)]) == 2
    assert one_line_error(capsys) == (
        f"{out / 'records.jsonl'} line 2 (record toy-train-00001): corrupt image {image}: "
        "not an image format Pillow reads"
    )
