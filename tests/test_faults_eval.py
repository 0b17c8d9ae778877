"""Faults at the evaluation and captions boundary, one test per case: damaged model folders, damaged
samples.jsonl and captions.jsonl lines, forged scores, a bad image, a failure mid-run.

Each asserts the one-line message and exit status of `visreason evaluate` (or `captions`), and what
is on disk afterwards: a bad input fails before OUTDIR is touched or an MLflow run opens; a failure
mid-run leaves a resumable OUTDIR without metrics.json and a FAILED run, never a RUNNING one.
docs/reliability.md lists the same cases."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import mlflow
import pytest
import yaml

from visreason import VisreasonError
from visreason.cli import main
from visreason.config import DEFAULT_PARAMS
from visreason.files import sha256_file


@pytest.fixture(scope="module")
def params_file(tmp_path_factory) -> Path:
    """The smoke params (greedy decoding) with short generations and batches of 4 (9 puzzles: 3 batches)."""
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text()) | {"scale": "smoke"}
    raw["evaluate"] |= {"max_new_tokens": 6, "batch_size": 4}
    raw["captions"] |= {"max_new_tokens": 6, "batch_size": 4}
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def evaluate(capsys, params_file, model, data, out, mode="image", captions=None) -> tuple[int, str]:
    """`visreason evaluate` as the workflow runs it: (exit status, stderr). `out` is the mode's
    folder; the command is given its parent, as the workflow gives it results/eval/<tag>."""
    assert out.name == mode
    args = ["evaluate", "--model", str(model), "--data", str(data), "--mode", mode, "--prompt", "mixture"]
    args += ["--tag", "base", "--out", str(out.parent), "--params", str(params_file)]
    args += ["--captions", str(captions)] if captions else []
    capsys.readouterr()
    code = main(args)
    return code, capsys.readouterr().err.strip()


def run_ids() -> dict[str, str]:
    """run id -> status of every MLflow run in the session's store."""
    return {r.info.run_id: r.info.status for r in mlflow.search_runs(search_all_experiments=True, output_format="list")}


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, params_file, model, data, tmp_path, message: str, **kw) -> None:
    """The evaluation fails with exactly `message` on one line, exit 2, no OUTDIR, no MLflow run."""
    before = run_ids()
    code, err = evaluate(capsys, params_file, model, data, tmp_path / "out" / kw.get("mode", "image"), **kw)
    assert (code, err) == (2, f"visreason: error: {message}")
    assert not (tmp_path / "out").exists() and run_ids() == before


# ------------------------------------------------------------------ M1-M5: damaged model folders


@pytest.fixture
def model_copy(tiny_model, tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    return copy


def header_end(path: Path) -> int:
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


def test_m1_truncated_weights(capsys, params_file, model_copy, small_eval_dataset, tmp_path):
    weights = model_copy / "model.safetensors"
    size = weights.stat().st_size
    weights.write_bytes(weights.read_bytes()[: size // 2])
    message = f"model file {weights} is truncated: {size // 2} bytes, its header declares {size}"
    refused(capsys, params_file, model_copy, small_eval_dataset, tmp_path, message)


def test_m2_garbage_weights(capsys, params_file, model_copy, small_eval_dataset, tmp_path):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(b"\x89garbage, not weights" * 1000)
    message = f"model file {weights} is not a safetensors file (truncated or garbage: no valid header)"
    refused(capsys, params_file, model_copy, small_eval_dataset, tmp_path, message)


def test_m3_invalid_config_json(capsys, params_file, model_copy, small_eval_dataset, tmp_path):
    config = model_copy / "config.json"
    config.write_text('{"architectures": ["Qwen2_5_VLForConditionalGeneration"],\n  "model_type": qwen}')
    message = f"model file {config} is not valid JSON: Expecting value at line 2"
    refused(capsys, params_file, model_copy, small_eval_dataset, tmp_path, message)


@pytest.mark.parametrize("name", ["tokenizer.json", "tokenizer_config.json"])
def test_m4_missing_tokenizer_file(name, capsys, params_file, model_copy, small_eval_dataset, tmp_path):
    (model_copy / name).unlink()
    what = "(no tokenizer vocabulary: none of tokenizer.json, vocab.json, tokenizer.model)"
    message = f"model file missing: {model_copy / name} " + (
        what if name == "tokenizer.json" else "(the tokenizer's settings)"
    )
    refused(capsys, params_file, model_copy, small_eval_dataset, tmp_path, message)


def test_m5_one_flipped_byte(capsys, params_file, model_copy, small_eval_dataset, tmp_path):
    weights = model_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[header_end(weights) + 100] ^= 0x01  # one bit of one weight: the file is still well-formed
    weights.write_bytes(bytes(data))
    message = f"model file {weights} does not match its sha256 in visreason_model.json (corrupted or modified)"
    refused(capsys, params_file, model_copy, small_eval_dataset, tmp_path, message)


def test_m5_training_refuses_a_flipped_byte_too(model_copy, small_eval_dataset, tmp_path):
    from visreason.params import load_params
    from visreason.train import run_train

    weights = model_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(VisreasonError, match=f"model file {weights} does not match its sha256"):
        run_train(
            load_params(scale="smoke"),
            reward="vanilla",
            seed=0,
            data=small_eval_dataset,
            model=model_copy,
            out=tmp_path / "o",
        )
    assert not (tmp_path / "o").exists()


def test_captions_refuse_a_damaged_model(capsys, params_file, model_copy, small_eval_dataset, tmp_path):
    (model_copy / "tokenizer.json").unlink()
    before = run_ids()
    args = ["captions", "--data", str(small_eval_dataset), "--captioner", "model", "--model", str(model_copy)]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "caps"), "--params", str(params_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"model file missing: {model_copy / 'tokenizer.json'}" in err
    assert not (tmp_path / "caps").exists() and run_ids() == before


# ------------------------------------------------------------------ E1-E5: samples.jsonl on resume


@pytest.fixture(scope="module")
def interrupted(tiny_model, small_eval_dataset, params_file, tmp_path_factory) -> Path:
    """An evaluation that finished every sample but not metrics.json (as a kill right before it leaves it)."""
    out = tmp_path_factory.mktemp("interrupted") / "image"
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(small_eval_dataset), "--mode", "image"] + [
        "--prompt", "mixture", "--tag", "base", "--out", str(out.parent), "--params", str(params_file)
    ]) == 0  # fmt: skip
    (out / "metrics.json").unlink()
    return out


@pytest.fixture
def resumable(interrupted, tmp_path) -> Path:
    out = tmp_path / "base" / "image"
    shutil.copytree(interrupted, out)
    return out


def lines(out: Path) -> list[bytes]:
    return (out / "samples.jsonl").read_bytes().splitlines(keepends=True)


def damaged(capsys, params_file, tiny_model, data, out: Path, line: bytes, message: str) -> None:
    """Line 2 of samples.jsonl replaced by `line`: the rerun fails with `message`, exit 2, and leaves
    OUTDIR byte for byte as it was, with no MLflow run."""
    rows = lines(out)
    rows[1] = line
    (out / "samples.jsonl").write_bytes(b"".join(rows))
    before, files = run_ids(), snapshot(out)
    code, err = evaluate(capsys, params_file, tiny_model, data, out)
    where = f"{out / 'samples.jsonl'} line 2"
    assert (code, err) == (2, f"visreason: error: {where}: {message}; delete it to start this evaluation over")
    assert snapshot(out) == files and run_ids() == before


def sample(out: Path, n: int = 1) -> dict:
    return json.loads(lines(out)[n])


def test_e1_null_line(capsys, params_file, tiny_model, small_eval_dataset, resumable):
    message = "expected a sample object, got null"
    damaged(capsys, params_file, tiny_model, small_eval_dataset, resumable, b"null\n", message)


def test_e2_missing_correct(capsys, params_file, tiny_model, small_eval_dataset, resumable):
    row = {k: v for k, v in sample(resumable).items() if k != "correct"}
    line = json.dumps(row).encode() + b"\n"
    damaged(capsys, params_file, tiny_model, small_eval_dataset, resumable, line, "sample is missing field 'correct'")


def test_e3_non_boolean_correct(capsys, params_file, tiny_model, small_eval_dataset, resumable):
    line = json.dumps(sample(resumable) | {"correct": 1}).encode() + b"\n"
    message = "field 'correct' must be true or false, got 1"
    damaged(capsys, params_file, tiny_model, small_eval_dataset, resumable, line, message)


def test_e4_invalid_utf8(capsys, params_file, tiny_model, small_eval_dataset, resumable):
    line = lines(resumable)[1].replace(b'"completion": "', b'"completion": "\xff\xfe')
    damaged(capsys, params_file, tiny_model, small_eval_dataset, resumable, line, "not valid UTF-8")


def test_a_last_line_cut_short_is_dropped_and_redone(capsys, params_file, tiny_model, small_eval_dataset, resumable):
    rows = lines(resumable)
    cut = rows[-1][: len(rows[-1]) // 2]  # a kill mid-write: no line break after it
    (resumable / "samples.jsonl").write_bytes(b"".join(rows[:-1]) + cut)
    code, err = evaluate(capsys, params_file, tiny_model, small_eval_dataset, resumable)
    assert code == 0 and f"resuming {resumable}: 8 samples done, 1 to go" in err
    assert lines(resumable) == rows and (resumable / "metrics.json").is_file()  # greedy: the same sample again


def test_e5_a_forged_score_is_rescored(capsys, params_file, tiny_model, small_eval_dataset, resumable):
    rows = [json.loads(r) for r in lines(resumable)]
    wrong = next(i for i, r in enumerate(rows) if not r["correct"])
    rows[wrong] |= {"correct": True, "extracted": rows[wrong]["gold"]}  # forged: the completion is unchanged
    (resumable / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = evaluate(capsys, params_file, tiny_model, small_eval_dataset, resumable)
    assert code == 0 and "evaluate: 1 resumed samples were stored with another score: re-scored" in err
    stored = [json.loads(r) for r in lines(resumable)]
    assert stored[wrong]["correct"] is False and stored[wrong]["extracted"] != rows[wrong]["gold"]
    metrics = json.loads((resumable / "metrics.json").read_text())
    assert metrics["accuracy"]["per_category"][rows[wrong]["category"]]["correct"] == 0


# ------------------------------------------------------------------ E6: captions.jsonl


@pytest.fixture
def captions_copy(small_eval_dataset, params_file, tmp_path) -> Path:
    out = tmp_path / "captions"
    assert main(["captions", "--data", str(small_eval_dataset), "--captioner", "oracle", "--out", str(out)]) == 0
    return out


def test_e6_truncated_captions_line(capsys, params_file, tiny_model, small_eval_dataset, captions_copy, tmp_path):
    path = captions_copy / "captions.jsonl"
    rows = path.read_text().splitlines(keepends=True)
    path.write_text(rows[0] + rows[1][:30] + "\n" + "".join(rows[2:]))
    message = f"{path} line 2: invalid JSON (Unterminated string starting at): rerun `visreason captions`"
    kw = {"mode": "image+caption", "captions": captions_copy}
    refused(capsys, params_file, tiny_model, small_eval_dataset, tmp_path, message, **kw)


def test_e6_missing_caption(capsys, params_file, tiny_model, small_eval_dataset, captions_copy, tmp_path):
    path = captions_copy / "captions.jsonl"
    rows = [json.loads(r) for r in path.read_text().splitlines()]
    del rows[2]["caption"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    message = f"{path} line 3 (record {rows[2]['id']}): no 'caption' string"
    kw = {"mode": "image+caption", "captions": captions_copy}
    refused(capsys, params_file, tiny_model, small_eval_dataset, tmp_path, message, **kw)


# ------------------------------------------------------------------ images


def corrupt_png_data(path: Path) -> None:
    """Garble the compressed pixels of a PNG but keep every chunk's CRC right: the file passes Pillow's
    integrity check (the dataset loader's), and fails only when decoded."""
    data = bytearray(path.read_bytes())
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = bytes(data[pos + 4 : pos + 8])
        if kind == b"IDAT":
            start = pos + 8
            data[start + 2 : start + length] = bytes(b ^ 0x5A for b in data[start + 2 : start + length])
            crc = zlib.crc32(bytes(data[pos + 4 : start + length]))
            data[start + length : start + length + 4] = struct.pack(">I", crc)
            break
        pos += 12 + length
    path.write_bytes(bytes(data))


def test_a_bad_image_names_its_file(capsys, params_file, tiny_model, small_eval_dataset, tmp_path):
    from visreason.records import load_records

    data = tmp_path / "data"
    shutil.copytree(small_eval_dataset, data)
    record = load_records(data)[3]
    corrupt_png_data(data / record["image"])
    load_records(data)  # still passes the dataset check
    before = run_ids()
    code, err = evaluate(capsys, params_file, tiny_model, data, tmp_path / "out" / "image")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"visreason: error: cannot read image {data / record['image']}: ") and "BytesIO" not in err
    assert not (tmp_path / "out").exists() and run_ids() == before


# ------------------------------------------------------------------ a failure mid-run


def test_a_failure_mid_run_leaves_a_failed_run_and_a_resumable_outdir(
    capsys, params_file, tiny_model, small_eval_dataset, tmp_path, monkeypatch
):
    """The second generate call fails (a hook, where an API or device error would strike): one line,
    exit 2, the MLflow run FAILED, OUTDIR with the first batch and no metrics.json; the rerun resumes."""
    from visreason.generation import TransformersBackend

    real, calls = TransformersBackend.generate, []

    def failing(self, requests, seed):
        calls.append(len(requests))
        if len(calls) == 2:
            raise VisreasonError("generation failed (injected by the test)")
        return real(self, requests, seed)

    monkeypatch.setattr(TransformersBackend, "generate", failing)
    out = tmp_path / "out" / "image"
    before = run_ids()
    code, err = evaluate(capsys, params_file, tiny_model, small_eval_dataset, out)
    assert (code, err.splitlines()[-1]) == (2, "visreason: error: generation failed (injected by the test)")
    new = {k: v for k, v in run_ids().items() if k not in before}
    assert list(new.values()) == ["FAILED"]
    assert sorted(p.name for p in out.iterdir()) == ["samples.jsonl", "settings.json"] and len(lines(out)) == 4
    monkeypatch.setattr(TransformersBackend, "generate", real)
    code, err = evaluate(capsys, params_file, tiny_model, small_eval_dataset, out)
    assert code == 0 and "4 samples done, 5 to go" in err and len(lines(out)) == 9
    assert (out / "metrics.json").is_file() and "RUNNING" not in run_ids().values()
