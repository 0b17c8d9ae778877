"""The tiny offline Qwen2.5-VL: deterministic build, offline reload, generation; model paths; the one
image resolution of every stage. (Damaged model folders: tests/test_faults_eval.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from visreason import VisreasonError
from visreason.cli import main
from visreason.files import sha256_file
from visreason.models import (
    CHAT_TEMPLATE,
    SPECIAL_TOKENS,
    build_messages,
    build_tiny_model,
    image_resolution,
    image_tokens,
    load_model_and_processor,
    load_processor,
    prompt_lengths,
    register_image_text_processor,
    resolve_model_path,
)
from visreason.params import load_params
from visreason.puzzles import CATEGORIES
from visreason.rewards import DESIGNS, format_prompt


def _files(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()}


def test_build_is_deterministic(tiny_model, tmp_path):
    again = build_tiny_model(tmp_path / "again", seed=0)
    assert _files(again) == _files(tiny_model)
    other = build_tiny_model(tmp_path / "other", seed=1)
    differs = {k for k, v in _files(other).items() if _files(tiny_model)[k] != v}
    assert differs == {"model.safetensors", "visreason_model.json"}  # only the weights depend on the seed


def test_summary_lists_every_file_with_its_hash(tiny_model):
    summary = json.loads((tiny_model / "visreason_model.json").read_text())
    files = _files(tiny_model)
    del files["visreason_model.json"]
    assert summary["sha256"] == files
    assert summary["architecture"] == "Qwen2_5_VLForConditionalGeneration"
    assert 10_000 < summary["parameters"] < 1_000_000
    assert set(summary["special_token_ids"]) == set(SPECIAL_TOKENS)


def test_folder_names_no_processor_class(tiny_model):
    """AutoProcessor resolves the class by model type; the stock processor finds its video settings."""
    proc = json.loads((tiny_model / "processor_config.json").read_text())
    assert "processor_class" not in proc
    assert proc["video_processor"]["video_processor_type"] == "Qwen2VLVideoProcessor"
    assert proc["image_processor"]["size"]["longest_edge"] == 96 * 96
    assert "processor_class" not in json.loads((tiny_model / "tokenizer_config.json").read_text())


def test_reloads_offline_with_auto_classes_and_generates(tiny_model):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    register_image_text_processor()
    processor = AutoProcessor.from_pretrained(tiny_model)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    tok = processor.tokenizer
    for token in SPECIAL_TOKENS:
        assert (
            tok.convert_tokens_to_ids(token)
            == json.loads((tiny_model / "visreason_model.json").read_text())["special_token_ids"][token]
        )
    text = processor.apply_chat_template(
        build_messages("How many turns?", True), add_generation_prompt=True, tokenize=False
    )
    assert text.endswith(
        "<|vision_start|><|image_pad|><|vision_end|>How many turns?<|im_end|>\n<|im_start|>assistant\n"
    )
    inputs = processor(text=[text], images=[Image.new("RGB", (200, 120), "white")], return_tensors="pt")
    # 200x120 is scaled under max_pixels onto the 16 px grid: 8x4 merged image tokens
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == inputs["image_grid_thw"].prod() // 4
    out = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=True)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 8


def test_output_tags_are_plain_text(tiny_model):
    _, processor = load_model_and_processor(tiny_model)
    tok = processor.tokenizer
    text = "<think> 12:45 </think> <answer>4</answer>"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text  # survive skip_special_tokens
    assert not set(ids) & set(tok.all_special_ids)


def test_chat_template_is_qwens_own():
    from trl.chat_template_utils import qwen2_5_vl_chat_template

    assert CHAT_TEMPLATE == qwen2_5_vl_chat_template


def test_build_messages():
    assert build_messages("Q?", with_image=False) == [{"role": "user", "content": [{"type": "text", "text": "Q?"}]}]
    assert build_messages("Q?", with_image=True)[0]["content"][0] == {"type": "image"}


def test_model_path_errors(tmp_path):
    with pytest.raises(VisreasonError, match="does not exist"):
        resolve_model_path(tmp_path / "missing")
    with pytest.raises(VisreasonError, match="does not exist"):
        load_model_and_processor("results/model/missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VisreasonError, match="no config.json"):
        resolve_model_path(tmp_path / "empty")
    with pytest.raises(VisreasonError, match="HF_HUB_OFFLINE"):
        resolve_model_path("nobody-here/no-such-model")


def test_cli_builds_tiny_model(tmp_path, capsys):
    assert main(["model", "tiny", "--out", str(tmp_path / "tiny"), "--seed", "3"]) == 0
    assert json.loads((tmp_path / "tiny" / "visreason_model.json").read_text())["seed"] == 3
    assert "parameters" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


# ------------------------------------------------------------------ the one image resolution


def test_resolution_is_set_on_the_processor(tiny_model):
    processor = load_processor(tiny_model, min_pixels=2048, max_pixels=64 * 64)
    assert (processor.image_processor.size["shortest_edge"], processor.image_processor.size["longest_edge"]) == (
        2048,
        64 * 64,
    )
    own = load_processor(tiny_model)  # None keeps the folder's own setting (the tiny model's 32 x 32 .. 96 x 96)
    assert (own.image_processor.size["shortest_edge"], own.image_processor.size["longest_edge"]) == (1024, 9216)
    with pytest.raises(VisreasonError, match="'model.min_pixels' \\(9000\\) exceeds 'model.max_pixels' \\(100\\)"):
        image_resolution({"model": {"min_pixels": 9000, "max_pixels": 100}})


def _tokens_processed(processor, image: Image.Image) -> int:
    """The image tokens the processor actually makes of `image` (one per 2 x 2 merged patches)."""
    out = processor(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[image], return_tensors="pt")
    return int(out["image_grid_thw"].prod()) // processor.image_processor.merge_size**2


def test_paper_resolution_gives_released_and_generated_clocks_the_same_tokens(tiny_model, shared_data, tmp_path):
    """Under the paper preset, a released clock image (the 512 px copy, and a 3,179 px one standing in for the
    Hub's original) and a generated one become the same number of image tokens, within the bound, and every
    clock prompt fits train.max_prompt_length. The tiny model's processor, at the paper's resolution."""
    paper = load_params(scale="paper")
    processor = load_processor(tiny_model, **image_resolution(paper))
    ip = processor.image_processor
    bound = paper["model"]["max_pixels"] // (ip.patch_size * ip.merge_size) ** 2
    records = [json.loads(line) for line in (shared_data / "data" / "clock.json").read_text().splitlines()]
    with Image.open(shared_data / "data" / records[0]["image"]) as im:
        released = im.convert("RGB")
    original = released.resize((3179, 3179), Image.Resampling.BICUBIC)
    generated = CATEGORIES["clock"].render(records[0]["solution"], paper["data"]["image_size"])
    sizes = [im.size for im in (released, original, generated)]
    assert sizes == [(512, 512), (3179, 3179), (512, 512)]
    counts = {image_tokens(processor, *im.size) for im in (released, original, generated)}
    assert len(counts) == 1 and counts.pop() == _tokens_processed(processor, original) <= bound
    # The setting is what decides: at the folder's own resolution (96 x 96 at most) each would be 36 tokens.
    assert image_tokens(processor, 512, 512) == 1024 and image_tokens(load_processor(tiny_model), 3179, 3179) == 36
    # Every design's prompt for every released clock question fits, with its image at the bound.
    for i, rec in enumerate(records):
        rec["path"] = tmp_path / f"{i}.png"
    original.save(records[0]["path"])
    paths = [records[0]["path"]] * len(records)
    for design in DESIGNS:
        messages = [
            build_messages(format_prompt(design, r["question"], category="clock", solution=r["solution"]), True)
            for r in records
        ]
        assert max(prompt_lengths(processor, messages, paths)) <= paper["train"]["max_prompt_length"]


def test_a_resolution_that_makes_a_prompt_too_long_stops_training(tiny_model, small_eval_dataset, tmp_path):
    """The limit that holds the prompts at the smoke resolution, with model.max_pixels raised: training
    stops before it starts, naming the record and both keys."""
    from visreason.records import load_records
    from visreason.train import run_train

    params = load_params(scale="smoke")
    records = load_records(small_eval_dataset)
    processor = load_processor(tiny_model, **image_resolution(params))
    messages = [build_messages(format_prompt("vanilla", r["question"]), with_image=True) for r in records]
    longest = max(prompt_lengths(processor, messages, [small_eval_dataset / r["image"] for r in records]))
    params["train"] |= {"max_prompt_length": longest, "prompts_per_step": 2}
    params["model"]["max_pixels"] = 256 * 256
    with pytest.raises(VisreasonError) as err:
        run_train(params, reward="vanilla", seed=0, data=small_eval_dataset, model=tiny_model, out=tmp_path / "out")
    message = str(err.value)
    assert message.startswith("dataset record ") and f"exceeds train.max_prompt_length {longest}" in message
    assert "model.max_pixels 65536" in message and not (tmp_path / "out").exists()
