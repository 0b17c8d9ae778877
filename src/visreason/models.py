"""Load vision-language models, and build the tiny offline Qwen2.5-VL.

`visreason model tiny --out DIR` writes a random-weight Qwen2.5-VL small enough
for a CPU GRPO step in about a second, in the standard Hugging Face layout:
`config.json`, `generation_config.json`, `model.safetensors`, `tokenizer.json`,
`tokenizer_config.json`, `processor_config.json`, `chat_template.jinja`, and
`visreason_model.json` (a summary with the sha256 of every file, written last).

    path = build_tiny_model("results/model/tiny", seed=0)
    model, processor = load_model_and_processor(path, **image_resolution(params))

Every local model folder is checked before use (`check_model_files`): its JSON files
parse, its safetensors files are complete, its tokenizer files are present, and, when
it has a `visreason_model.json`, every file matches the sha256 recorded there.

One image resolution (`model.min_pixels`, `model.max_pixels` in params.yaml) serves
training, evaluation and captions alike: every loader here sets it on the processor,
so a released image and a generated one of the same shape become the same number of
image tokens whatever their file size (`image_tokens`).

Without torchvision (CPU-only torch here), transformers cannot build the stock
Qwen2.5-VL processor: its video sub-processor needs torchvision. The folder
therefore names no `processor_class`, so `AutoProcessor` resolves the class by
model type, and `register_image_text_processor()` (called by every loader here)
maps Qwen2.5-VL to `Qwen2_5_VLImageTextProcessor`: the same processor minus
video, with the PIL image processor. With torchvision installed nothing is
registered and the stock processor, video included, loads from the same folder.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch
from huggingface_hub import constants, try_to_load_from_cache
from PIL import Image
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, trainers
from tokenizers import models as bpe_models
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2Tokenizer,
)
from transformers.image_utils import SizeDict
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from visreason import VisreasonError
from visreason.files import atomic_dir, sha256_file, write_json

_HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# The original Qwen2-VL / Qwen2.5-VL chat template, byte for byte (TRL recognises
# it by identity; it adds the default system prompt, as the 7B model does).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)

# Architecture of the tiny model. Images are cut into 8 px patches, merged 2x2
# into one token: a 96x96 image (the `max_pixels` cap) costs 36 image tokens.
TINY = {
    "vocab_size": 1024,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vision_hidden_size": 32,
    "vision_depth": 2,
    "vision_heads": 2,
    "patch_size": 8,
    "merge_size": 2,
    "min_pixels": 32 * 32,
    "max_pixels": 96 * 96,
}

# Tokenizer training text: the puzzle question templates, the reward prompts'
# vocabulary and the output tags, so that frequent words are single tokens.
_CORPUS = """\
The current time is shown on the clock. The clock is a standard analog clock without the seconds hand.
What will be the time when the event starts? What was the time two hours ago? hour hours minute minutes
This is maze having 9 * 9 cells. The empty cells are coloured white and the obstacle cells are coloured black.
From an empty cell, you can only move up, down, left, or right to another adjacent empty cell.
The entry cell of the maze is shown with the green arrow. The exit cell is shown with the red arrow.
How many right turns do you need to make to reach the exit? What is the number of left turns?
A storekeeper is a puzzle in which the player pushes boxes around in a warehouse trying to get them to target locations.
The game is represented by a 6 x 6 grid of characters where each element is a wall, floor, or box.
Your task is to move the box to the end flag. What is the minimum number of moves to solve the puzzle?
You are given an 8 * 8 chessboard. The objective is to place 8 chess queens on this board so that no two queens
threaten each other; no two queens share the same row, column, or diagonal. Which queens are missing?
The board shown in the image is a sliding puzzle of 3 * 3 tile dimensions. It has 8 numbered tiles and one open position.
You are playing a Tower of Hanoi game with 3 rods and 5 disks of various diameters, which can slide onto any rod.
Only one disk may be moved at a time. No disk may be placed on top of a disk that is smaller than it.
You are given 3 jugs of capacities 8, 5, 3 litres. Pour water from one jug to another until it becomes empty or full.
A checker game is being played on a grid of 5 squares with 2 green and 2 red checkers.
Green checkers only move rightward and red checkers only move leftward. Every move is a slide or a jump.
You are given a 4 x 4 grid in which each cell can contain either no kiwi, one fresh kiwi, or one rotten kiwi.
Every minute, any fresh kiwi that is 4-directionally adjacent to a rotten kiwi also becomes rotten.
What is the minimum number of minutes that must elapse until no cell has a fresh kiwi?
Answer the question about the puzzle in the image. Options: A B C D. Description of the puzzle:
Think step by step inside <think> and </think> tags, then give the final answer inside <answer> and </answer> tags.
Describe what you see inside <description> and </description>. First describe the image, then reason, then answer.
<think> Let me count the cells, the moves and the turns. </think> <answer> 4 </answer>
<description> The image shows a grid. </description> <think> 1 + 2 = 3 </think> <answer> 12:45 </answer>
0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 30 40 45 50 59 100 ( ) [ ] , . : ; ? ! = + - * /
"""


def build_messages(text: str, with_image: bool) -> list[dict]:
    """The chat messages for one prompt: one user turn, the image (if any) first.

    The same structure serves TRL (which fills the image placeholder from the
    dataset's `image` column) and evaluation (`processor.apply_chat_template`).

        >>> build_messages("How many turns?", with_image=True)
        [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'How many turns?'}]}]
    """
    content = [{"type": "image"}] if with_image else []
    return [{"role": "user", "content": [*content, {"type": "text", "text": text}]}]


def has_torchvision() -> bool:
    return importlib.util.find_spec("torchvision") is not None


@lru_cache(maxsize=1)
def _image_text_processor_class():
    class Qwen2_5_VLImageTextProcessor(Qwen2_5_VLProcessor):
        """Qwen2.5-VL processor without the video sub-processor (which needs torchvision).

        Sub-processors are read from the `__init__` signature, so leaving
        `video_processor` out is all it takes; images and text behave exactly as
        in `Qwen2_5_VLProcessor`.
        """

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    Qwen2_5_VLImageTextProcessor.__module__ = __name__
    return Qwen2_5_VLImageTextProcessor


def register_image_text_processor() -> None:
    """Without torchvision, make `AutoProcessor` load Qwen2.5-VL folders that name no processor class
    as image+text processors. With torchvision: does nothing."""
    if has_torchvision():
        return
    AutoProcessor.register(Qwen2_5_VLConfig, _image_text_processor_class(), exist_ok=True)


def _train_tokenizer(vocab_size: int):
    """A byte-level BPE trained on `_CORPUS` with Qwen2's pre-tokenizer, wrapped as `Qwen2Tokenizer`.

    The output tags (<think>, <answer>, ...) are plain text, as for the real
    Qwen2.5-VL: the rewards parse decoded text, and decoding with
    `skip_special_tokens=True` would drop them if they were special tokens.
    They occur in the corpus, so BPE merges them into a few tokens each.
    """
    tok = Tokenizer(bpe_models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    n_special = len(SPECIAL_TOKENS)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - n_special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines(), trainer)
    vocab = tok.get_vocab()
    merges = [tuple(pair) for pair in json.loads(tok.to_str())["model"]["merges"]]
    # Special tokens come after the BPE vocabulary, as in Qwen's tokenizer.
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=SPECIAL_TOKENS,
        model_max_length=4096,
    )


def _build(out: Path, seed: int) -> dict:
    t = TINY
    tokenizer = _train_tokenizer(t["vocab_size"])
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
    vocab_size = len(tokenizer)
    head_dim = t["hidden_size"] // t["num_attention_heads"]
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": t["hidden_size"],
            "intermediate_size": t["intermediate_size"],
            "num_hidden_layers": t["num_hidden_layers"],
            "num_attention_heads": t["num_attention_heads"],
            "num_key_value_heads": t["num_key_value_heads"],
            "max_position_embeddings": 4096,
            # mrope splits head_dim/2 rotary frequencies over (time, height, width)
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": _mrope(head_dim)},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": t["vision_depth"],
            "hidden_size": t["vision_hidden_size"],
            "intermediate_size": 2 * t["vision_hidden_size"],
            "num_heads": t["vision_heads"],
            "patch_size": t["patch_size"],
            "spatial_merge_size": t["merge_size"],
            "temporal_patch_size": 2,
            "window_size": 2 * t["patch_size"] * t["merge_size"],
            "fullatt_block_indexes": [t["vision_depth"] - 1],
            "out_hidden_size": t["hidden_size"],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    model.save_pretrained(out)

    image_processor = Qwen2VLImageProcessorPil(
        patch_size=t["patch_size"],
        merge_size=t["merge_size"],
        temporal_patch_size=2,
        min_pixels=t["min_pixels"],
        max_pixels=t["max_pixels"],
    )
    processor = _image_text_processor_class()(image_processor, tokenizer, chat_template=CHAT_TEMPLATE)
    save_processor(processor, out)
    n_params = sum(p.numel() for p in model.parameters())
    return {"vocab_size": vocab_size, "parameters": n_params, "special_token_ids": ids}


def _mrope(head_dim: int) -> list[int]:
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def save_processor(processor, out: str | Path) -> None:
    """`processor.save_pretrained(out)`; an image+text processor is saved so that it reloads as the
    stock Qwen2.5-VL processor where torchvision is installed (see the module docstring)."""
    processor.save_pretrained(out)
    if isinstance(processor, _image_text_processor_class()):
        _standardise_processor_files(Path(out))


def _standardise_processor_files(out: Path) -> None:
    """Drop the `processor_class` names (so `AutoProcessor` resolves by model type, see the module
    docstring) and add the video processor settings the stock processor reads with torchvision."""
    proc_path = out / "processor_config.json"
    proc = json.loads(proc_path.read_text())
    proc.pop("processor_class", None)
    video = {k: v for k, v in proc["image_processor"].items() if k != "image_processor_type"}
    proc["video_processor"] = {**video, "video_processor_type": "Qwen2VLVideoProcessor"}
    write_json(proc_path, proc)
    tok_path = out / "tokenizer_config.json"
    tok = json.loads(tok_path.read_text())
    tok.pop("processor_class", None)
    write_json(tok_path, tok)


def build_tiny_model(out_dir: str | Path, seed: int = 0, warm_up: Callable[[Path], dict] | None = None) -> Path:
    """Build the tiny random-weight Qwen2.5-VL into `out_dir` (atomically); return its path.

    `warm_up(folder)`, if given, trains the built model in place before the folder is complete
    (`visreason.warmup`); what it returns is the summary's `warmup`.
    Deterministic: the same seed gives the same bytes. Offline: nothing is downloaded.
    """
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        summary = _build(tmp, seed)
        if warm_up is not None:
            summary["warmup"] = warm_up(tmp)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        write_json(
            tmp / "visreason_model.json",
            {
                "architecture": "Qwen2_5_VLForConditionalGeneration",
                "seed": seed,
                "settings": TINY,
                **summary,
                "sha256": {p.relative_to(tmp).as_posix(): sha256_file(p) for p in files},
            },
        )
    return out


def resolve_model_path(name_or_path: str | Path) -> str:
    """A local model folder (with a config.json), or a Hugging Face id (`org/name`).

    Anything that is not an existing folder and does not look like `org/name`
    is a missing local path. Offline (`HF_HUB_OFFLINE=1`), an id must already be
    in the Hugging Face cache. A local folder passes `check_model_files`. Every
    failure is a VisreasonError, raised before any weights are loaded.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise VisreasonError(f"model folder has no config.json (not a Hugging Face model folder): {text}")
        check_model_files(path.resolve())
        return str(path.resolve())
    if path.exists() or not _HF_ID.fullmatch(text):
        raise VisreasonError(f"model path does not exist or is not a folder: {text}")
    if constants.HF_HUB_OFFLINE and not isinstance(try_to_load_from_cache(text, "config.json"), str):
        raise VisreasonError(
            f"model '{text}' is neither a local folder nor in the Hugging Face cache, and HF_HUB_OFFLINE is set"
        )
    return text


# ---------------------------------------------------------------- checking a model folder

SUMMARY = "visreason_model.json"
# Any one of these is a tokenizer's vocabulary (fast tokenizer, byte-level BPE, SentencePiece).
TOKENIZER_VOCABS = ("tokenizer.json", "vocab.json", "tokenizer.model")
_MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors format caps its JSON header at 100 MB


def check_model_files(folder: Path) -> None:
    """Raise VisreasonError naming the first damaged file of a local model folder.

    - every `*.json` file parses (config.json, tokenizer and processor settings...);
    - every `*.safetensors` file has a valid header and exactly the length it declares
      (a truncated or garbage weights file is caught without reading the weights);
    - `tokenizer_config.json` and one vocabulary file (`TOKENIZER_VOCABS`) are present;
    - with a `visreason_model.json` (the tiny model), every file it lists has its recorded sha256.

    Checked once per process for the same files (names, sizes and modification times).
    """
    files = tuple(sorted((p.relative_to(folder).as_posix(), *_stamp(p)) for p in folder.rglob("*") if p.is_file()))
    _check_files(folder, files)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=16)
def _check_files(folder: Path, files: tuple) -> None:
    names = {name for name, *_ in files}
    for name in sorted(names):
        if name.endswith(".json"):
            _read_model_json(folder / name)
        elif name.endswith(".safetensors"):
            _check_safetensors(folder / name)
    if "tokenizer_config.json" not in names:
        raise VisreasonError(f"model file missing: {folder / 'tokenizer_config.json'} (the tokenizer's settings)")
    if not names & set(TOKENIZER_VOCABS):
        raise VisreasonError(
            f"model file missing: {folder / TOKENIZER_VOCABS[0]} (no tokenizer vocabulary: "
            f"none of {', '.join(TOKENIZER_VOCABS)})"
        )
    if SUMMARY in names:
        _check_hashes(folder, _read_model_json(folder / SUMMARY))


def _read_model_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise VisreasonError(f"model file {path} is not UTF-8 text (corrupted)") from None
    except json.JSONDecodeError as err:
        raise VisreasonError(f"model file {path} is not valid JSON: {err.msg} at line {err.lineno}") from None


def _check_safetensors(path: Path) -> None:
    """A safetensors file: an 8-byte little-endian header length, a JSON header giving each
    tensor's byte range, then the data; its size must be exactly what the header declares."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < n <= min(size - 8, _MAX_SAFETENSORS_HEADER):
            raise VisreasonError(f"model file {path} is not a safetensors file (truncated or garbage: no valid header)")
        try:
            header = json.loads(f.read(n))
            end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, IndexError, TypeError):
            raise VisreasonError(f"model file {path} is not a safetensors file (its header is not valid)") from None
    if size != 8 + n + end:
        raise VisreasonError(
            f"model file {path} is {'truncated' if size < 8 + n + end else 'longer than its header says'}: "
            f"{size} bytes, its header declares {8 + n + end}"
        )


def _check_hashes(folder: Path, summary) -> None:
    listed = summary.get("sha256") if isinstance(summary, dict) else None
    if not isinstance(listed, dict):
        raise VisreasonError(f"model file {folder / SUMMARY} has no 'sha256' table of the model's files")
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise VisreasonError(f"model file missing: {path} (listed in {SUMMARY})")
        if sha256_file(path) != digest:
            raise VisreasonError(f"model file {path} does not match its sha256 in {SUMMARY} (corrupted or modified)")


# ---------------------------------------------------------------- loading, at one image resolution


def image_resolution(params: dict) -> dict[str, int]:
    """`{"min_pixels", "max_pixels"}` from params `model`: the one image resolution of every stage.

    >>> image_resolution({"model": {"min_pixels": 1024, "max_pixels": 9216}})
    {'min_pixels': 1024, 'max_pixels': 9216}
    """
    cfg = params["model"]
    low, high = cfg["min_pixels"], cfg["max_pixels"]
    if low > high:
        raise VisreasonError(f"params: 'model.min_pixels' ({low}) exceeds 'model.max_pixels' ({high})")
    return {"min_pixels": low, "max_pixels": high}


def set_resolution(processor, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
    """Make the processor resize every image to between `min_pixels` and `max_pixels` pixels
    (Qwen's `smart_resize`, sides rounded to the patch grid); None keeps the folder's value."""
    ip = processor.image_processor
    low = ip.size["shortest_edge"] if min_pixels is None else min_pixels
    high = ip.size["longest_edge"] if max_pixels is None else max_pixels
    if low > high:
        raise VisreasonError(f"image resolution: min_pixels {low} exceeds max_pixels {high}")
    ip.size = SizeDict(shortest_edge=low, longest_edge=high)


def load_processor(name_or_path: str | Path, *, min_pixels: int | None = None, max_pixels: int | None = None):
    """The processor (tokenizer, image processor, chat template), left-padded for batched generation,
    at the given image resolution (`image_resolution(params)`; None keeps the folder's own)."""
    register_image_text_processor()
    source = resolve_model_path(name_or_path)
    cls = AutoProcessor if has_torchvision() else _image_text_processor_class()
    try:
        processor = cls.from_pretrained(source, padding_side="left")
    except (OSError, ValueError) as err:
        raise VisreasonError(f"cannot load the processor of {source}: {_first_line(err)}") from None
    set_resolution(processor, min_pixels, max_pixels)
    return processor


def load_model_and_processor(
    name_or_path: str | Path,
    dtype: str = "auto",
    device_map=None,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
):
    """`(model, processor)` for a local folder or a Hugging Face id.

    A local path that does not exist or is damaged raises VisreasonError before anything is loaded.
    """
    source = resolve_model_path(name_or_path)
    processor = load_processor(source, min_pixels=min_pixels, max_pixels=max_pixels)
    try:
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype, device_map=device_map)
    except (OSError, ValueError) as err:
        raise VisreasonError(f"cannot load the model {source}: {_first_line(err)}") from None
    return model, processor


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


# ---------------------------------------------------------------- prompt lengths


def image_tokens(processor, width: int, height: int) -> int:
    """The image tokens a `width` x `height` image becomes at the processor's resolution:
    one per merged patch (Qwen2.5-VL: 28 x 28 px), after resizing within [min_pixels, max_pixels].

    >>> from types import SimpleNamespace
    >>> from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    >>> qwen = SimpleNamespace(image_processor=Qwen2VLImageProcessorPil(max_pixels=512 * 512))
    >>> image_tokens(qwen, 512, 512), image_tokens(qwen, 3179, 3179)  # both 504 x 504 px = 18 x 18 tokens
    (324, 324)
    """
    ip = processor.image_processor
    return ip.get_number_of_image_patches(height, width, {}) // ip.merge_size**2


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image file's header."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise VisreasonError(f"cannot read image {path}: {_first_line(err)}") from None


def prompt_lengths(processor, messages: list[list[dict]], images: list[Path | None]) -> list[int]:
    """Prompt tokens (chat template, text and image tokens) of each conversation, as the model sees them.

    The template puts one <|image_pad|> where the image goes; the processor expands it into
    `image_tokens` tokens.
    """
    texts = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    lengths = [len(ids) for ids in processor.tokenizer(texts)["input_ids"]]
    return [n - 1 + image_tokens(processor, *image_size(img)) if img else n for n, img in zip(lengths, images)]
