"""The study's reward designs, the perception-aware ones, the one answer scorer, and their prompts.

A completion is parsed once into a `Parsed` record (a score per reasoning tag, the
description, the answer); every design is then a weighted sum of *terms* read off that
record. `DESIGNS` is the one registry: per design, its prompt and its reward (a `Reward`:
weights, seed), with a factory for the designs that take a setting or the seed. This
table is read from it:

>>> print(design_table())
| design | terms and weights |
|---|---|
| `vanilla` | think 0.1, accuracy 0.9 |
| `only_accuracy` | accuracy 1 |
| `mixture` | image_description 0.06, think 0.06, rethink 0.08, accuracy 0.8 |
| `continuous` | image_description 0.06, think 0.06, rethink 0.08, partial_credit 0.8 |
| `visual_fusion` | think 0.1, visual 0.1, accuracy 0.8 |
| `no_accuracy` | image_description 0.3, think 0.3, rethink 0.3, answer_present 0.1 |
| `fact_f1` | fact_f1 0.06, think 0.06, rethink 0.08, accuracy 0.8 |
| `sufficiency` | sufficiency 0.06, think 0.06, rethink 0.08, accuracy 0.8 |
| `random` | random 1 |

Each prompt asks for its tags in order; evaluation checks that structure:

>>> DESIGNS["mixture"].tags, DESIGNS["only_accuracy"].tags
(('image description', 'think', 'rethink', 'answer'), ('think', 'answer'))

Definitions, implemented exactly:
- A block runs from an opening tag to the first closing tag of the same name after
  it; blocks are found left to right. Tags match literally (case-sensitive).
- A tag's content is its first block, verbatim (nested markup included). `<visual>`
  is every `<visual>` block inside the first `<think>` block, joined by line breaks.
- Tag score = tanh(U) - tanh(D) over the content's sentences (see `sentences`),
  U = distinct sentences after lower-casing and collapsing whitespace, D = the
  repeats. A missing tag scores 0.
- The answer is the stripped content of the one `<answer>` block; zero or several
  blocks give no answer (every answer term is 0).
- `score_answer` (exact, also used by evaluation) and `partial_credit` (Continuous).
- The perception terms read the description (the first `<image description>` block)
  through the puzzle's category: `fact_f1` is the F1 of `fact_scores` (precision over the
  fact-shaped claims it makes, recall over the state's facts); `sufficiency` is 1 when the
  state it states (`parse`) lets the exact solver answer correctly. `random` is a fair coin
  per completion from the training seed and its position, never its content.
- A design's values lie in `Reward.bounds`: tag terms in [-1, 1], every other term in [0, 1].

A new design is one entry in `DESIGNS`; a new term is one function in `TERMS` (and the
fields it reads in `TERM_FIELDS`). No
function here raises on any completion: None, unicode, huge, unclosed or nested tags all
score. Bad columns raise VisreasonError: `completions` that is not a list or tuple, a
column of the wrong length, a category a perception design cannot read (`check_categories`).
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from visreason import VisreasonError
from visreason.answers import partial_credit, score_answer
from visreason.perception import (
    PERCEPTION_ABILITY,
    PERCEPTION_COLUMNS,
    can_read,
    check_readable,
    claimed_fact_scores,
    f1,
    state_facts,
    stated_sufficiency,
)
from visreason.puzzles import CATEGORIES

# -- Parsing --------------------------------------------------------------------

DESCRIPTION, THINK, RETHINK, VISUAL, ANSWER = "image description", "think", "rethink", "visual", "answer"

# A sentence ends after . ! ? followed by whitespace (or the end: nothing to split),
# and at every line break (the boundaries of str.splitlines).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def find_block(text: str, tag: str, start: int = 0) -> tuple[int, int, str] | None:
    """(start, end, content) of the first `<tag>` block that opens at or after `start`, or None.

    >>> find_block("x <t>a</t> <t>b</t>", "t", 3)
    (11, 19, 'b')
    """
    opening, closing = f"<{tag}>", f"</{tag}>"
    begin = text.find(opening, start)
    if begin < 0:
        return None
    end = text.find(closing, begin + len(opening))
    if end < 0:
        return None
    return begin, end + len(closing), text[begin + len(opening) : end]


def blocks(text: str, tag: str, limit: int | None = None) -> list[str]:
    """The contents of the `<tag>` blocks of `text`, left to right (at most `limit`).

    >>> blocks("<t>a</t> <t>b <t>c</t> d</t> <t>e", "t")
    ['a', 'b <t>c']
    """
    found: list[str] = []
    pos = 0
    while limit is None or len(found) < limit:
        block = find_block(text, tag, pos)
        if block is None:
            break
        pos = block[1]
        found.append(block[2])
    return found


def sentences(text: str) -> list[str]:
    """Split at . ! ? followed by whitespace, and at line breaks; strip; drop empties.

    >>> sentences("Pi is 3.14. Really?  Yes!\\nno stop here")
    ['Pi is 3.14.', 'Really?', 'Yes!', 'no stop here']
    """
    return [s for s in (piece.strip() for piece in _SENTENCE_BREAK.split(text)) if s]


def tag_score(content: str | None) -> float:
    """tanh(U) - tanh(D): U distinct sentences, D repeats; a missing tag (None) scores 0.

    >>> round(tag_score("One.  ONE. Two!"), 4)  # U = 2, D = 1
    0.2024
    """
    if content is None:
        return 0.0
    # The keys of `sentences(content)`, built with C-level string calls: per line,
    # collapse whitespace; a sentence then ends at ". ", "! " or "? ".
    n = 0
    distinct: set[str] = set()
    for line in content.lower().splitlines():
        if line.isascii() and "  " not in line and "\t" not in line and "\x1f" not in line:
            line = line.strip(" ")  # fast path: its only whitespace is single spaces
        else:
            line = " ".join(line.split())
        if line:
            keys = line.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n").split("\n")
            n += len(keys)
            distinct.update(keys)
    unique = len(distinct)
    return math.tanh(unique) - math.tanh(n - unique)


class Parsed(NamedTuple):
    """One completion, parsed once: what every reward term reads (a field not asked for is None)."""

    image_description: float | None  # tag scores
    think: float | None
    rethink: float | None
    visual: float | None
    answer: str | None  # stripped content of the single <answer> block, else None
    description: str | None  # the first <image description> block, verbatim (what the perception terms read)


def _first(text: str, tag: str) -> str | None:
    found = blocks(text, tag, limit=1)
    return found[0] if found else None


def parse(text: str, fields: Iterable[str] = Parsed._fields) -> Parsed:
    """Parse a completion's text once, computing only `fields` (a term's `TERM_FIELDS`; all by default).

    >>> p = parse("<think>Look. <visual>Hand at 4.</visual></think><answer> 4:23 </answer>")
    >>> p.answer, round(p.think, 3), round(p.visual, 3), p.rethink
    ('4:23', 0.964, 0.762, 0.0)
    >>> parse("<think>Look.</think><answer>5</answer>", ["answer"])
    Parsed(image_description=None, think=None, rethink=None, visual=None, answer='5', description=None)
    """
    want = set(fields)
    description = _first(text, DESCRIPTION) if want & {"image_description", "description"} else None
    think = _first(text, THINK) if want & {"think", "visual"} else None
    visual = None
    if "visual" in want and think is not None and f"<{VISUAL}>" in think:
        visual = "\n".join(blocks(think, VISUAL))
    return Parsed(
        image_description=tag_score(description) if "image_description" in want else None,
        think=tag_score(think) if "think" in want else None,
        rethink=tag_score(_first(text, RETHINK)) if "rethink" in want else None,
        visual=tag_score(visual) if "visual" in want else None,
        answer=extract_answer(text) if "answer" in want else None,
        description=description if "description" in want else None,
    )


def extract_answer(text: Any) -> str | None:
    """The stripped content of the `<answer>` block; None unless there is exactly one.

    >>> extract_answer("<answer> 5 </answer>"), extract_answer("<answer>5</answer><answer>6</answer>")
    ('5', None)
    """
    if not isinstance(text, str):
        return None
    found = blocks(text, ANSWER, limit=2)
    return found[0].strip() if len(found) == 1 else None


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or chat messages `[{"role": "assistant", "content": ...}]`.

    Content may be a string or a list of parts (`{"type": "text", "text": ...}`);
    the assistant messages are joined by line breaks. Anything else is "".

    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
    'hi'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, (list, tuple)):
        return ""
    texts = []
    for message in completion:
        if not isinstance(message, dict) or message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, (list, tuple)):
            for part in content:
                if isinstance(part, str):
                    texts.append(part)
                elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
    return "\n".join(texts)


# -- Terms, rewards and designs ---------------------------------------------------------


class Row(NamedTuple):
    """What the terms read of one completion's puzzle."""

    answer: Any
    category: Any
    solution: Any
    question: Any
    facts: frozenset[str] | None  # normalised facts of `solution`, when a term reads them


Term = Callable[[Parsed, Row], float]

TERMS: dict[str, Term] = {
    "image_description": lambda p, r: p.image_description,
    "think": lambda p, r: p.think,
    "rethink": lambda p, r: p.rethink,
    "visual": lambda p, r: p.visual,
    "accuracy": lambda p, r: score_answer(p.answer, r.answer, r.category),
    "partial_credit": lambda p, r: partial_credit(p.answer, r.answer, r.category),
    "answer_present": lambda p, r: float(bool(p.answer)),  # never looks at correctness
    "fact_f1": lambda p, r: f1(*claimed_fact_scores(r.category, p.description, r.facts)),
    "sufficiency": lambda p, r: stated_sufficiency(p.description, r.category, r.question, r.answer),
}
# The fields of `Parsed` each term reads: a completion is parsed for the union of its designs' terms.
TERM_FIELDS = {
    **{term: (term,) for term in ("image_description", "think", "rethink", "visual")},
    **{term: ("answer",) for term in ("accuracy", "partial_credit", "answer_present")},
    "fact_f1": ("description",),
    "sufficiency": ("description",),
}
RANDOM = "random"  # the control arm's term: drawn per position, never read off the completion
ANSWER_TERMS = ("accuracy", "partial_credit", "answer_present")
TAG_TERMS = ("image_description", "think", "rethink", "visual")  # in [-1, 1]; every other term in [0, 1]


def _column(values: Any, n: int, name: str) -> list:
    """A per-completion column: a list of length n, or one value broadcast."""
    if isinstance(values, (list, tuple)):
        if len(values) != n:
            raise VisreasonError(f"rewards: '{name}' has {len(values)} values for {n} completions")
        return list(values)
    return [values] * n


def _step(columns: Mapping[str, Any]) -> int:
    state = columns.get("trainer_state")
    step = getattr(state, "global_step", None) if state is not None else columns.get("step")
    if isinstance(step, bool) or not isinstance(step, int):
        raise VisreasonError("rewards: 'random' needs the training step: TRL's trainer_state, or step=<int>")
    return step


def _draw(seed: int, step: int, position: int, prompt_id: Any) -> float:
    """A fair coin, 0.0 or 1.0, from the training seed and the completion's position: the step,
    its index in the batch and its prompt's id (distinct across processes, which share indices)."""
    digest = hashlib.blake2b(f"{seed}/{step}/{position}/{prompt_id}".encode(), digest_size=8).digest()
    return float(digest[0] >> 7)


class Reward:
    """A design's reward function, weights and seed fixed, as TRL's `GRPOTrainer` calls it:
    `reward(completions, answer, category, **columns) -> list[float]`, one value per completion.

    `completions` is a list or tuple of strings or chat messages. The columns are one value per
    completion, or one value for all: `answer` and `category`, and for the designs that read them
    `solution` (fact_f1), `question` (sufficiency), `trainer_state` or `step` and `id` (random).
    TRL's `log_metric`, when given, receives the batch mean of every term.

    >>> reward = Reward("demo", {"think": 0.5, "accuracy": 0.5})
    >>> [round(v, 4) for v in reward(["<think>Count.</think><answer>4</answer>", "<answer>5</answer>"], "4", "maze")]
    [0.8808, 0.0]
    """

    def __init__(self, name: str, weights: Mapping[str, float], seed: int = 0):
        unknown = [term for term in weights if term not in TERMS and term != RANDOM]
        if unknown:
            raise VisreasonError(f"reward '{name}': unknown term(s) {', '.join(unknown)}")
        self.__name__, self.weights, self.seed = name, dict(weights), seed

    def __repr__(self) -> str:
        return f"Reward({self.__name__!r}, {self.weights}, seed={self.seed})"

    @property
    def bounds(self) -> tuple[float, float]:
        """The least and greatest value the reward can take."""
        low = sum(-w if term in TAG_TERMS else 0.0 for term, w in self.weights.items())
        return low, sum(self.weights.values())

    def terms(self, completions, answer, category, **columns) -> dict[str, list[float]]:
        """The unweighted terms and the weighted "total" (for logging `rewards/<name>/<term>`)."""
        return score([self], completions, answer, category, **columns)[self.__name__]

    def __call__(self, completions, answer, category, **columns) -> list[float]:
        terms = self.terms(completions, answer, category, **columns)
        log_metric = columns.get("log_metric")  # TRL's GRPOTrainer passes it: per-term means, once per batch
        if callable(log_metric) and terms["total"]:
            for term, values in terms.items():
                if term != "total":
                    log_metric(f"rewards/{self.__name__}/{term}", sum(values) / len(values))
        return terms["total"]


def score(rewards: Iterable[Reward], completions, answer, category, **columns) -> dict[str, dict[str, list[float]]]:
    """Per reward: its unweighted terms and the weighted "total", parsing each completion once.

    >>> out = score([DESIGNS["vanilla"].function], ["<answer>5</answer>"], ["5"], ["maze"])
    >>> out["vanilla"]
    {'think': [0.0], 'accuracy': [1.0], 'total': [0.9]}
    """
    rewards = list(rewards)
    if not isinstance(completions, (list, tuple)):
        raise VisreasonError(
            f"rewards: 'completions' must be a list or tuple of completions, got {type(completions).__name__}"
        )
    n = len(completions)
    golds, categories = _column(answer, n, "answer"), _column(category, n, "category")
    needed = list(dict.fromkeys(term for r in rewards for term in r.weights if term != RANDOM))
    for r in rewards:
        check_readable(r.__name__, r.weights, categories)
        for term in r.weights:
            if term in PERCEPTION_COLUMNS and columns.get(PERCEPTION_COLUMNS[term]) is None:
                raise VisreasonError(f"reward '{r.__name__}' needs the '{PERCEPTION_COLUMNS[term]}' column")
    solutions = _column(columns.get("solution"), n, "solution")
    questions = _column(columns.get("question"), n, "question")
    facts: list[frozenset[str] | None] = [None] * n
    if "fact_f1" in needed:
        known: dict[tuple[int, str], frozenset[str]] = {}  # a group's completions share their record's solution
        for i, (cat, solution) in enumerate(zip(categories, solutions)):
            key = (id(solution), cat)  # `solutions` holds every object, so no id is reused during the call
            if key not in known:
                known[key] = state_facts(cat, solution)
            facts[i] = known[key]
    draws: dict[int, list[float]] = {}
    if any(RANDOM in r.weights for r in rewards):
        step, ids = _step(columns), _column(columns.get("id"), n, "id")
        for seed in {r.seed for r in rewards if RANDOM in r.weights}:
            draws[seed] = [_draw(seed, step, i, ids[i]) for i in range(n)]

    fields = {field for term in needed for field in TERM_FIELDS[term]}
    out = {r.__name__: {**{term: [] for term in r.weights}, "total": []} for r in rewards}
    for i, (completion, gold, cat) in enumerate(zip(completions, golds, categories)):
        values = {}
        if needed:
            parsed = parse(completion_text(completion), fields)
            row = Row(gold, cat, solutions[i], questions[i], facts[i])
            values = {term: TERMS[term](parsed, row) for term in needed}
        for r in rewards:
            table, total = out[r.__name__], 0.0
            for term, weight in r.weights.items():
                value = draws[r.seed][i] if term == RANDOM else values[term]
                table[term].append(value)
                total += weight * value
            table["total"].append(total)
    return out


def score_designs(names, completions, answer, category, **columns) -> dict[str, dict[str, list[float]]]:
    """`score` for the registry's designs by name (their default settings, seed 0)."""
    return score([get_design(name).function for name in names], completions, answer, category, **columns)


def reward_terms(name: str, completions, answer, category, **columns) -> dict[str, list[float]]:
    """The unweighted terms of one registry design plus its weighted "total"."""
    return get_design(name).function.terms(completions, answer, category, **columns)


_MIXTURE_TAGS = {"think": 0.06, "rethink": 0.08, "accuracy": 0.80}


def fact_f1_reward(fact_weight: float = 0.06) -> Reward:
    """Mixture, with its description paid by the F1 of the facts it states (`fact_scores`), at
    `fact_weight` (params.yaml `rewards.fact_f1.fact_weight`; Mixture pays its description 0.06).

    >>> text = "<image description>top-left disk: blue</image description><answer>2</answer>"
    >>> state = {"start_state": [["blue"] * 3, ["blue"] * 2, ["blue"] * 3]}
    >>> round(fact_f1_reward(0.2)([text], ["2"], ["think_dot"], solution=[state])[0], 4)  # 0.8 + 0.2 * F1(1, 1/8)
    0.8444
    """
    if isinstance(fact_weight, bool) or not isinstance(fact_weight, (int, float)) or not 0 <= fact_weight < math.inf:
        raise VisreasonError(f"rewards.fact_f1.fact_weight: must be a finite number >= 0, got {fact_weight!r}")
    return Reward("fact_f1", {"fact_f1": float(fact_weight), **_MIXTURE_TAGS})


def random_reward(seed: int = 0) -> Reward:
    """The control arm: a fair coin per completion (1 or 0), drawn from the training seed and the
    completion's position, never from its content; it asks for Mixture's tags.

    >>> random_reward(1)(["a", "b", "c", "d"], "5", "maze", step=0), random_reward(1)(["x"] * 4, "5", "maze", step=0)
    ([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0])
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise VisreasonError(f"random reward: the seed must be an integer, got {seed!r}")
    return Reward(RANDOM, {RANDOM: 1.0}, seed)


# -- Prompts and the registry --------------------------------------------------------

_FINAL = "Finally, write only the final answer inside <answer> </answer>, exactly once."
_REASON = "Then think step by step inside <think> </think>. Then check your reasoning inside <rethink> </rethink>. "
VANILLA_PROMPT = "Think step by step inside <think> </think>. " + _FINAL
MIXTURE_PROMPT = "First describe {source} inside <image description> </image description>. " + _REASON + _FINAL
# The perception designs read what the description states, so their prompt shows the form they read it in.
FACTS_PROMPT = (
    "First describe {source} inside <image description> </image description>, stating the puzzle's state in "
    "the form of this example, which describes another puzzle of the same kind:\n{form}\n" + _REASON + _FINAL
)
VISUAL_FUSION_PROMPT = (
    "Think step by step inside <think> </think>. Inside your thinking, write every observation "
    "you take from {source} inside <visual> </visual>. " + _FINAL
)


@dataclass(frozen=True)
class Design:
    """One reward design: the instruction its prompt ends with (`{source}` names what the model is
    shown; `{form}`, the form of the facts), its reward with the default setting and seed 0, and,
    for a design that takes settings (params.yaml `rewards.<name>`) or the seed, the factory that
    builds one job's reward."""

    prompt: str
    function: Reward
    factory: Callable[..., Reward] | None = None
    settings: tuple[str, ...] = ()  # the factory's keyword arguments read from the job's settings
    seeded: bool = False  # the factory takes the training seed

    @property
    def weights(self) -> dict[str, float]:
        return self.function.weights

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags the prompt asks for, in the order it names them (evaluation checks this structure)."""
        return tuple(dict.fromkeys(re.findall(r"<([a-z][a-z ]*)>", self.prompt)))


DESIGNS: dict[str, Design] = {
    "vanilla": Design(VANILLA_PROMPT, Reward("vanilla", {"think": 0.1, "accuracy": 0.9})),
    # The study's question: can the format be learnt from the prompt alone? Hence the Vanilla prompt.
    "only_accuracy": Design(VANILLA_PROMPT, Reward("only_accuracy", {"accuracy": 1.0})),
    "mixture": Design(MIXTURE_PROMPT, Reward("mixture", {"image_description": 0.06, **_MIXTURE_TAGS})),
    "continuous": Design(
        MIXTURE_PROMPT,
        Reward("continuous", {"image_description": 0.06, "think": 0.06, "rethink": 0.08, "partial_credit": 0.80}),
    ),
    "visual_fusion": Design(
        VISUAL_FUSION_PROMPT, Reward("visual_fusion", {"think": 0.1, "visual": 0.1, "accuracy": 0.8})
    ),
    "no_accuracy": Design(
        MIXTURE_PROMPT,
        Reward("no_accuracy", {"image_description": 0.3, "think": 0.3, "rethink": 0.3, "answer_present": 0.1}),
    ),
    "fact_f1": Design(FACTS_PROMPT, fact_f1_reward(), fact_f1_reward, settings=("fact_weight",)),
    # Mixture's description weight, so that the two differ only in what the description is paid for.
    "sufficiency": Design(FACTS_PROMPT, Reward("sufficiency", {"sufficiency": 0.06, **_MIXTURE_TAGS})),
    "random": Design(MIXTURE_PROMPT, random_reward(), random_reward, seeded=True),
}


def get_design(name: str) -> Design:
    """A design by name; an unknown name lists the valid ones."""
    if name not in DESIGNS:
        raise VisreasonError(f"unknown reward '{name}' (valid: {', '.join(DESIGNS)})")
    return DESIGNS[name]


def check_categories(design: str, categories: Iterable[str]) -> None:
    """Raise VisreasonError, naming every category that `design` cannot score, before any training.

    A design that reads the description needs each category's `claims` (fact_f1) or `parse`
    (sufficiency); the other designs score every category.

    >>> check_categories("mixture", ["clock"]), check_categories("fact_f1", ["think_dot"])
    (None, None)
    >>> check_categories("sufficiency", ["nonesuch"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    visreason.VisreasonError: reward 'sufficiency': unknown category 'nonesuch' (valid: clock, maze, ...)
    """
    check_readable(design, get_design(design).weights, categories)


def get_reward(name: str) -> Reward:
    """The reward of a design with its default setting and seed 0 (`build_reward` for a job's)."""
    return get_design(name).function


def build_reward(name: str, settings: Mapping[str, Any] | None = None, seed: int = 0) -> Reward:
    """The reward of one training job: design `name` with the job's settings (`train` merged with
    `rewards.<name>`, where every setting the design takes must be set) and its training seed.

    >>> build_reward("fact_f1", {"fact_weight": 0.2}).weights["fact_f1"], build_reward("random", seed=3).seed
    (0.2, 3)
    """
    design = get_design(name)
    if design.factory is None:
        return design.function
    kwargs = {}
    for key in design.settings if settings is not None else ():
        if key not in settings:
            raise VisreasonError(f"params: 'rewards.{name}.{key}' is not set")
        kwargs[key] = settings[key]
    return design.factory(**kwargs, **({"seed": seed} if design.seeded else {}))


def design_table() -> str:
    """The registry as a Markdown table: each design's terms and weights."""
    rows = ["| design | terms and weights |", "|---|---|"]
    for name, d in DESIGNS.items():
        rows.append(f"| `{name}` | " + ", ".join(f"{term} {w:g}" for term, w in d.weights.items()) + " |")
    return "\n".join(rows)


# How many sampled states the example form is chosen from: the one sharing the fewest facts with
# the puzzle, so that the example never gives its state away.
_FORM_CANDIDATES = 8


@functools.cache
def _examples(category: str) -> tuple[tuple[dict, frozenset[str]], ...]:
    puzzle = CATEGORIES[category]
    states = (puzzle.sample(random.Random(seed))[0] for seed in range(_FORM_CANDIDATES))
    return tuple((state, state_facts(category, state)) for state in states)


def example_form(design: str, category: str, solution: dict) -> str:
    """Another state of `category`, written in the form the design reads descriptions in, as its
    prompt shows it: the facts, joined by "; ", or (when the category's `parse` needs more than its
    facts, for sufficiency) its description. Of a few fixed sampled states, the one sharing the
    fewest facts with `solution`.

    >>> state = {"start_state": [["blue"] * 3, ["blue"] * 2, ["blue"] * 3]}
    >>> form = example_form("fact_f1", "think_dot", state)
    >>> form.count(" disk: "), form == "; ".join(CATEGORIES["think_dot"].facts(state))
    (8, False)
    """
    abilities = {PERCEPTION_ABILITY[term] for term in get_design(design).weights if term in PERCEPTION_ABILITY}
    if category not in CATEGORIES:
        raise VisreasonError(f"format_prompt: unknown category {category!r}")
    own = state_facts(category, solution)
    example = min(_examples(category), key=lambda pair: len(own & pair[1]))[0]
    puzzle = CATEGORIES[category]
    facts = "; ".join(puzzle.facts(example))
    if "parse" in abilities and can_read(puzzle, "parse") and puzzle.parse(facts) is None:
        return puzzle.describe(example)
    return facts


def format_prompt(
    reward: str,
    question: str,
    *,
    options: list[str] | None = None,
    description: str | None = None,
    caption: str | None = None,
    category: str | None = None,
    solution: dict | None = None,
) -> str:
    """The user-turn text for a design: puzzle, question, options, and the tag instruction.

    `options` asks for one of them verbatim (multiple choice); `description` gives the
    puzzle state as text instead of an image (text-only mode); `caption` puts a caption
    before the question, the image still shown (image+caption mode). A design whose prompt
    shows the form of a description (fact_f1, sufficiency) needs the puzzle's `category` and
    `solution`, to show another state in that form (`example_form`).

    >>> print(format_prompt("vanilla", "How many moves?", options=["1", "2"]))  # doctest: +ELLIPSIS
    How many moves?
    Options: 1, 2. Answer with one of the options, written exactly as given.
    <BLANKLINE>
    Think step by step inside <think> </think>. Finally, write only the final answer inside <answer> </answer>...
    """
    template = get_design(reward).prompt
    if not isinstance(question, str) or not question.strip():
        raise VisreasonError(f"format_prompt: the question must be a non-empty string, got {question!r}")
    parts = [question.strip()]
    if description is not None:
        if not isinstance(description, str) or not description.strip():
            raise VisreasonError(f"format_prompt: the description must be a non-empty string, got {description!r}")
        parts.insert(0, f"The puzzle state is described below instead of shown:\n{description.strip()}\n")
    if caption is not None:
        if not isinstance(caption, str) or not caption.strip():
            raise VisreasonError(f"format_prompt: the caption must be a non-empty string, got {caption!r}")
        parts.insert(0, f"A caption of the image: {caption.strip()}\n")
    if options is not None:
        valid = isinstance(options, (list, tuple)) and all(isinstance(o, str) and o.strip() for o in options)
        if not valid or not options:
            raise VisreasonError(f"format_prompt: options must be a non-empty list of non-empty strings: {options!r}")
        listed = ", ".join(o.strip() for o in options)
        parts.append(f"Options: {listed}. Answer with one of the options, written exactly as given.")
    source = "the puzzle state" if description is not None else "the image"
    form = ""
    if "{form}" in template:
        if category is None or solution is None:
            raise VisreasonError(
                f"format_prompt: reward '{reward}' shows an example description: pass category and solution"
            )
        form = example_form(reward, category, solution)
    return "\n".join(parts) + "\n\n" + template.format(source=source, form=form)
