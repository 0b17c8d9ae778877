"""The warm-up of the tiny model: seconds of supervised training on generated puzzles.

A random-weight model never earns a reward, so every GRPO advantage is 0 and nothing
learns. The warm-up stands in for the pretraining that Qwen2.5-VL has: it gives the
tiny model outputs of the right kinds, some tagged, some right, so that groups of
completions hold reward spread. It is not the study's (absent) SFT, and must not
become one:

- every target is one piece: an answer in `<answer>` tags, an untagged answer, or one
  sentence in one reasoning tag (`<think>`, `<rethink>`, `<image description>`). No
  target holds two tag blocks (`check_targets`), hence never the full structure that a
  design's prompt asks for (every design asks for at least two tags): the format must
  come from the prompt and the reward, as in the study;
- the answer in a target (tagged, untagged, or in a reasoning sentence) is right only
  `label_accuracy` of the time, otherwise a wrong option; a description states what
  the image shows (the state's first fact), as pretraining on captions would;
- the prompts are the designs' own (`rewards.format_prompt`), drawn uniformly from the
  designs whose prompt shows no example description (`WARMUP_DESIGNS`); the targets do not
  depend on them. An example description names another state (on the colour probe,
  another colour): with fact_f1's and sufficiency's prompts in the pool, the warm-up's
  final loss doubled (0.2 to 0.4) and the warmed model answered 3% right with 12%
  `<answer>` tags, below chance, against 14% and 33% without them (seed 0, n=64);

`warm_up(folder, settings, seed)` trains the model saved in `folder` in place, with torch
on one CPU thread (the same seed gives the same bytes), and returns its summary: the
recipe, the loss, and the rates it starts from (accuracy, tags) on fresh puzzles,
sampled as GRPO samples its rollouts, per prompt. A setting that cannot learn gets a
loud line on stderr and an entry in the summary's `warnings`.
"""

from __future__ import annotations

import contextlib
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText

from visreason import VisreasonError
from visreason.models import build_messages, load_processor
from visreason.puzzles import CATEGORIES
from visreason.rewards import (
    ANSWER,
    DESCRIPTION,
    DESIGNS,
    RETHINK,
    THINK,
    VISUAL,
    blocks,
    extract_answer,
    format_prompt,
    get_design,
    score_answer,
)

# Target forms (the keys of `model.warmup.forms`), each one piece.
FORMS = ("answer", "plain", "think", "rethink", "description")
SENTENCES = {
    "think": (THINK, "The answer is {label}."),
    "rethink": (RETHINK, "Let me check: {label}."),
    "description": (DESCRIPTION, "The image shows a {fact}."),
}
PURPOSE_SEED = {"train": 0, "measure": 1_000_003}  # the measured puzzles are not the trained ones
ENCODE_BATCH = 64  # puzzles per processor call (batched, the processor is 2.5x faster per image)


@dataclass(frozen=True)
class WarmupSettings:
    """`model.warmup` in params.yaml (the comments there say what each key does)."""

    steps: int
    batch_size: int
    learning_rate: float
    pool: int
    categories: list[str]
    image_size: int
    label_accuracy: float
    forms: dict[str, float]
    measure_puzzles: int
    measure_temperature: float
    measure_max_new_tokens: int

    @classmethod
    def from_params(cls, section: dict) -> WarmupSettings:
        """The settings from `model.warmup`; a value the code cannot use raises VisreasonError naming its key."""
        fields = list(cls.__dataclass_fields__)
        missing = [k for k in fields if k not in section]
        if missing:
            raise VisreasonError(f"params: 'model.warmup.{missing[0]}' is not set")
        settings = cls(**{k: section[k] for k in fields})
        for name in settings.categories:
            if name not in CATEGORIES:
                raise VisreasonError(
                    f"params: 'model.warmup.categories': unknown category '{name}' (valid: {', '.join(CATEGORIES)})"
                )
        for form in settings.forms:
            if form not in FORMS:
                raise VisreasonError(f"params: 'model.warmup.forms.{form}': unknown form (valid: {', '.join(FORMS)})")
        if settings.steps and sum(settings.forms.values()) <= 0:
            raise VisreasonError("params: 'model.warmup.forms': every share is 0, so there is nothing to train on")
        return settings


@dataclass
class Puzzle:
    """One generated puzzle as the warm-up shows it: its prompt (one design's), image and answer."""

    category: str
    question: str
    answer: str
    wrong: list[str]  # the other options
    fact: str  # the state's first fact, which a description states
    image: object  # PIL image
    design: str
    solution: dict  # the state, from which the fact_f1 and sufficiency prompts show another state's form


# The designs whose prompts the warm-up shows: those without an example description (see above).
WARMUP_DESIGNS = tuple(sorted(name for name, design in DESIGNS.items() if "{form}" not in design.prompt))


def make_puzzles(settings: WarmupSettings, seed: int, n: int, purpose: str) -> list[Puzzle]:
    """`n` puzzles of the warm-up categories, in turn, from one RNG seeded by `seed` and `purpose`."""
    rng = random.Random(seed + PURPOSE_SEED[purpose])
    designs = WARMUP_DESIGNS
    out = []
    for i in range(n):
        category = settings.categories[i % len(settings.categories)]
        puzzle = CATEGORIES[category]
        solution, question = puzzle.sample(rng)
        answer = puzzle.solve(solution, question)
        wrong = [o for o in puzzle.options(answer, solution, rng) if o != answer]
        image = puzzle.render(solution, settings.image_size)
        out.append(
            Puzzle(category, question, answer, wrong, puzzle.facts(solution)[0], image, rng.choice(designs), solution)
        )
    return out


def target(puzzle: Puzzle, form: str, right: bool, rng: random.Random) -> str:
    """The target text of one form; its answer is the right one if `right`, else a wrong option.

    >>> p = Puzzle("probe_colour", "Which colour?", "red", ["blue"], "red square", None, "vanilla", {})
    >>> for form in FORMS:
    ...     print(target(p, form, False, random.Random(0)))
    <answer> blue </answer>
    blue
    <think> The answer is blue. </think>
    <rethink> Let me check: blue. </rethink>
    <image description> The image shows a red square. </image description>
    """
    label = puzzle.answer if right else rng.choice(puzzle.wrong)
    if form == "answer":
        return f"<answer> {label} </answer>"
    if form == "plain":
        return label
    tag, sentence = SENTENCES[form]
    return f"<{tag}> {sentence.format(label=label, fact=puzzle.fact)} </{tag}>"


def check_targets(targets) -> None:
    """Refuse a target holding more than one tag block: it could hold the full structure a design asks for.

    >>> check_targets(["<answer> red </answer>", "red", "<think> Red. </think>"])
    >>> check_targets(["<think> Red. </think> <answer> red </answer>"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    visreason.VisreasonError: warm-up: a target holds 2 tag blocks, at most 1 is allowed: '<think> Red. </think> ...'
    """
    tags = {tag for design in DESIGNS.values() for tag in design.tags}
    for text in targets:
        n = sum(len(blocks(text, tag)) for tag in tags)
        if n > 1:
            raise VisreasonError(f"warm-up: a target holds {n} tag blocks, at most 1 is allowed: {text!r}")


# ---------------------------------------------------------------- training


def _prompt_text(processor, design: str, puzzle: Puzzle) -> str:
    text = format_prompt(design, puzzle.question, category=puzzle.category, solution=puzzle.solution)
    messages = build_messages(text, with_image=True)
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def encode_prompts(processor, puzzles: list[Puzzle]) -> list[dict]:
    """Per puzzle: its prompt's token ids (image tokens expanded), their multimodal types, and the
    image tensors, from batched processor calls."""
    out = []
    for i in range(0, len(puzzles), ENCODE_BATCH):
        chunk = puzzles[i : i + ENCODE_BATCH]
        enc = processor(text=[_prompt_text(processor, p.design, p) for p in chunk], images=[p.image for p in chunk])
        grids = torch.as_tensor(enc["image_grid_thw"])
        pixels = torch.as_tensor(enc["pixel_values"]).split(grids.prod(dim=1).tolist())
        for j in range(len(chunk)):
            out.append(
                {
                    "ids": list(enc["input_ids"][j]),
                    "types": list(enc["mm_token_type_ids"][j]),
                    "pixel_values": pixels[j],
                    "image_grid_thw": grids[j : j + 1],
                }
            )
    return out


def collate(prompts: list[dict], targets: list[list[int]], pad_id: int) -> dict:
    """Right-padded model inputs; `labels` are the target tokens, -100 elsewhere."""
    width = max(len(p["ids"]) + len(t) for p, t in zip(prompts, targets))
    size = (len(prompts), width)
    batch = {
        "input_ids": torch.full(size, pad_id),
        "attention_mask": torch.zeros(size, dtype=torch.long),
        "mm_token_type_ids": torch.zeros(size, dtype=torch.int),
        "labels": torch.full(size, -100),
    }
    for i, (p, t) in enumerate(zip(prompts, targets)):
        n, end = len(p["ids"]), len(p["ids"]) + len(t)
        batch["input_ids"][i, :end] = torch.tensor(p["ids"] + t)
        batch["attention_mask"][i, :end] = 1
        batch["mm_token_type_ids"][i, :n] = torch.tensor(p["types"], dtype=torch.int)
        batch["labels"][i, n:end] = torch.tensor(t)
    batch["pixel_values"] = torch.cat([p["pixel_values"] for p in prompts])
    batch["image_grid_thw"] = torch.cat([p["image_grid_thw"] for p in prompts])
    return batch


def target_loss(model, batch: dict) -> torch.Tensor:
    """Mean cross-entropy of the target tokens. The head runs on target positions only: the prompt's
    logits would cost about a third of the step and are never used."""
    batch = dict(batch)
    labels = batch.pop("labels")
    hidden = model.model(**batch).last_hidden_state
    keep = labels[:, 1:] != -100  # position t predicts token t + 1
    return torch.nn.functional.cross_entropy(model.lm_head(hidden[:, :-1][keep]), labels[:, 1:][keep])


def train(model, processor, settings: WarmupSettings, seed: int) -> list[float]:
    """`steps` AdamW steps on batches drawn from a pool of puzzles, each draw with a fresh target
    (form and label), so that no target is learnt by heart; returns the loss of every step."""
    puzzles = make_puzzles(settings, seed, settings.pool, "train")
    prompts = encode_prompts(processor, puzzles)
    tokenizer = processor.tokenizer
    forms = [f for f in FORMS if settings.forms.get(f, 0) > 0]
    weights = [settings.forms[f] for f in forms]
    rng = random.Random(seed)
    token_cache: dict[str, list[int]] = {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(settings.steps):
        picks = rng.sample(range(len(puzzles)), settings.batch_size)
        texts = [target(puzzles[i], rng.choices(forms, weights)[0], rng.random() < settings.label_accuracy, rng)
                 for i in picks]  # fmt: skip
        check_targets(texts)
        ids = [token_cache.get(t) or token_cache.setdefault(t, tokenizer(t)["input_ids"]) for t in texts]
        batch = collate(
            [prompts[i] for i in picks], [t + [tokenizer.eos_token_id] for t in ids], tokenizer.pad_token_id
        )
        loss = target_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(round(loss.item(), 4))
    model.eval()
    return losses


@contextlib.contextmanager
def one_thread():
    """Torch on one CPU thread: deterministic, and the fastest for this model on shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- measuring


def rates(completions: list[str], answers: list[str], categories: list[str], prompt: str) -> dict:
    """Shares of completions with: the right answer (the rewards' scorer), one <answer> block, any of
    the prompt's tags, any but <answer>, each of them, and all of them in the prompt's order.

    >>> r = rates(["<answer> red </answer>", "<think> Hm. </think>", "blue"], ["red"] * 3, ["probe_colour"] * 3,
    ...           "vanilla")
    >>> r["accuracy"], r["answer_tag"], r["any_tag"], r["reasoning_tag"], r["tag/think"], r["full_structure"]
    (0.3333, 0.3333, 0.6667, 0.3333, 0.3333, 0.0)
    """
    tags = get_design(prompt).tags
    n = len(completions)
    found = [extract_answer(c) for c in completions]
    out = {
        "accuracy": sum(score_answer(a, g, c) for a, g, c in zip(found, answers, categories)) / n,
        "answer_tag": sum(a is not None for a in found) / n,
        "any_tag": sum(any(blocks(c, t, 1) for t in tags) for c in completions) / n,
        "reasoning_tag": sum(any(blocks(c, t, 1) for t in tags if t != ANSWER) for c in completions) / n,
        **{f"tag/{t}": sum(bool(blocks(c, t, 1)) for c in completions) / n for t in tags},
        "full_structure": sum(in_order(c, tags) for c in completions) / n,
    }
    return {"n": n} | {k: round(v, 4) for k, v in out.items()}


def in_order(text: str, tags) -> bool:
    """Whether `text` has a block of every tag, one after the other (`<visual>` anywhere inside).

    >>> tags = ("think", "answer")
    >>> in_order("<think>a</think> <answer>b</answer>", tags), in_order("<answer>b</answer> <think>a</think>", tags)
    (True, False)
    """
    pos = 0
    for tag in tags:
        if tag == VISUAL:
            if not blocks(text, tag, 1):
                return False
            continue
        start = text.find(f"<{tag}>", pos)
        end = text.find(f"</{tag}>", start) if start >= 0 else -1
        if end < 0:
            return False
        pos = end + len(tag) + 3
    return True


def sample(model, processor, puzzles: list[Puzzle], design: str, temperature: float, max_new_tokens: int) -> list[str]:
    """The completions of `model` for `puzzles` under `design`'s prompt; greedy if `temperature` is 0.
    Seed torch first for reproducible samples."""
    sampling = {"do_sample": False}
    if temperature > 0:
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0}
    tokenizer = processor.tokenizer
    completions = []
    for i in range(0, len(puzzles), ENCODE_BATCH):
        chunk = puzzles[i : i + ENCODE_BATCH]
        inputs = processor(
            text=[_prompt_text(processor, design, p) for p in chunk],
            images=[p.image for p in chunk],
            padding=True,
            padding_side="left",
            return_tensors="pt",
        )
        with torch.inference_mode():
            ids = model.generate(
                **inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling
            )
        completions += tokenizer.batch_decode(ids[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return completions


def measure(model, processor, settings: WarmupSettings, seed: int) -> dict:
    """Rates per distinct design prompt on fresh puzzles, sampled at `measure_temperature` (GRPO's
    rollouts sample at the training temperature; 0 is greedy)."""
    puzzles = make_puzzles(settings, seed, settings.measure_puzzles, "measure")
    named = {}
    for name, design in DESIGNS.items():
        named.setdefault(design.prompt, name)  # one design per distinct prompt
    torch.manual_seed(seed)
    out = {}
    for name in named.values():
        texts = sample(model, processor, puzzles, name, settings.measure_temperature, settings.measure_max_new_tokens)
        out[name] = rates(texts, [p.answer for p in puzzles], [p.category for p in puzzles], name)
    return out


def warnings_for(settings: WarmupSettings, start: dict) -> list[str]:
    """Why these settings, or the rates they start from, cannot make GRPO learn (empty: nothing found)."""
    found = []
    if settings.steps == 0:
        found.append(
            "model.warmup.steps is 0: the model keeps its random weights, earns no reward, and GRPO makes no update"
        )
        return found
    if settings.forms.get("answer", 0) <= 0:
        found.append("model.warmup.forms.answer is 0: no target is a tagged answer, so the accuracy terms start at 0")
    chance = max(map(chance_of, settings.categories))
    if settings.label_accuracy <= chance:
        found.append(
            f"model.warmup.label_accuracy {settings.label_accuracy} is at or below chance ({chance:.2f}): the targets "
            "say nothing about the image, and a base that ignores the image learns to keep ignoring it"
        )
    for name, r in start.items():
        if r["accuracy"] == 0 or r["accuracy"] == 1:
            found.append(f"the {name} prompt starts at accuracy {r['accuracy']}: no accuracy spread to learn from")
        if r["any_tag"] == 0:
            found.append(
                f"the {name} prompt starts with no tag in any completion: no tag term has spread to learn from"
            )
    return found


def chance_of(category: str) -> float:
    """The accuracy of a uniform guess among a category's options.

    >>> chance_of("probe_colour")
    0.25
    """
    puzzle = CATEGORIES[category]
    solution, question = puzzle.sample(random.Random(0))
    return 1 / len(puzzle.options(puzzle.solve(solution, question), solution, random.Random(0)))


def warm_up(folder: str | Path, settings: WarmupSettings, seed: int) -> dict:
    """Warm up the model saved in `folder`, in place; return its summary (recipe, loss, start rates, warnings)."""
    folder = Path(folder)
    summary = {"recipe": asdict(settings), "seed": seed}
    if settings.steps:
        processor = load_processor(folder)
        with one_thread():
            torch.manual_seed(seed)
            model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32)
            losses = train(model, processor, settings, seed)
            model.save_pretrained(folder)
            summary |= {"loss_first_10": losses[:10], "loss_last_10": losses[-10:]}
            summary["start"] = measure(model, processor, settings, seed)
    summary["warnings"] = warnings_for(settings, summary.get("start", {}))
    for line in summary["warnings"]:
        print(f"visreason model: WARNING: {line}", file=sys.stderr, flush=True)
    return summary
