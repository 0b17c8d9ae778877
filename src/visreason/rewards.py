"""The study's reward designs, the one answer scorer, and their prompts.

A completion is parsed once into a `Parsed` record (a score per reasoning tag,
the answer); every design is then a weighted sum of *terms* read off that record.
`DESIGNS` is the one registry: per design, its weights, its prompt and its reward
function. This table is read from it:

>>> print(design_table())
| design | terms and weights |
|---|---|
| `vanilla` | think 0.1, accuracy 0.9 |
| `only_accuracy` | accuracy 1 |
| `mixture` | image_description 0.06, think 0.06, rethink 0.08, accuracy 0.8 |
| `continuous` | image_description 0.06, think 0.06, rethink 0.08, partial_credit 0.8 |
| `visual_fusion` | think 0.1, visual 0.1, accuracy 0.8 |
| `no_accuracy` | image_description 0.3, think 0.3, rethink 0.3, answer_present 0.1 |

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

A new design is one small function and one entry in `DESIGNS`; a new term is one
function in `TERMS`. No function here raises on any completion: None, unicode,
huge, unclosed or nested tags all score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from visreason import VisreasonError

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
    """One completion, parsed once: what every reward term reads."""

    image_description: float  # tag scores
    think: float
    rethink: float
    visual: float
    answer: str | None  # stripped content of the single <answer> block, else None


def _first(text: str, tag: str) -> str | None:
    found = blocks(text, tag, limit=1)
    return found[0] if found else None


def parse(text: str) -> Parsed:
    """Parse a completion's text once.

    >>> p = parse("<think>Look. <visual>Hand at 4.</visual></think><answer> 4:23 </answer>")
    >>> p.answer, round(p.think, 3), round(p.visual, 3), p.rethink
    ('4:23', 0.964, 0.762, 0.0)
    """
    think = _first(text, THINK)
    visual = "\n".join(blocks(think, VISUAL)) if think is not None and f"<{VISUAL}>" in think else None
    return Parsed(
        image_description=tag_score(_first(text, DESCRIPTION)),
        think=tag_score(think),
        rethink=tag_score(_first(text, RETHINK)),
        visual=tag_score(visual),
        answer=extract_answer(text),
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


# -- The answer scorer ------------------------------------------------------------

CLOCK_TIME = re.compile(r"(?<![0-9])([0-9]{1,2}):([0-9]{2})(?![0-9])")
DIGITS = re.compile(r"[0-9]+")
_MAX_INT_DIGITS = 4000  # below Python's int/str conversion limit (4300)


def read_clock(text: str) -> tuple[int, int] | None:
    """The first H:MM of `text` as (hours, minutes), or None."""
    match = CLOCK_TIME.search(text)
    return (int(match[1]), int(match[2])) if match else None


def _gold(gold: Any) -> str | None:
    """The gold answer as a string: an integer column is read as its digits; anything else but a string is None."""
    if isinstance(gold, int) and not isinstance(gold, bool):
        return str(gold)
    return gold if isinstance(gold, str) else None


def _twelve_is_zero(time: tuple[int, int]) -> tuple[int, int]:
    return (0 if time[0] == 12 else time[0], time[1])


def is_integer(gold: str) -> bool:
    """Whether an answer is a run of ASCII digits (after stripping): the scorer's integer rule."""
    return DIGITS.fullmatch(gold.strip()) is not None


def _plain(text: str) -> str:
    text = text.strip()
    return text[:-1].strip().casefold() if text.endswith(".") else text.casefold()


def _read_pair(pred: Any, gold: Any, category: str | None) -> tuple[str, Any, Any] | None:
    """(kind, gold, prediction) as the scorers compare them, or None when the pair cannot score.

    kind `clock`: the first H:MM of each; `integer` (the gold is a run of digits): digit strings
    without leading zeros, the prediction's first run of digits; `text`: `_plain` of each.
    """
    gold = _gold(gold)
    if not isinstance(pred, str) or gold is None:
        return None
    if category == "clock":
        want, got = read_clock(gold), read_clock(pred)
        return None if want is None or got is None else ("clock", want, got)
    if is_integer(gold):
        match = DIGITS.search(pred)
        return None if not match else ("integer", gold.strip().lstrip("0") or "0", match[0].lstrip("0") or "0")
    return "text", _plain(gold), _plain(pred)


def _exact(kind: str, want: Any, got: Any) -> float:
    if kind == "clock":
        return float(_twelve_is_zero(want) == _twelve_is_zero(got))
    return float(bool(want) and want == got)


def score_answer(pred: str | None, gold: str | None, category: str | None) -> float:
    """Exact accuracy, 1.0 or 0.0: the one scorer of rewards and evaluation.

    - category `clock`: the first H:MM of each string (1-2 digits, colon, 2 digits); hour 12 = hour 0;
    - gold a run of digits: the first run of digits of the prediction, as an integer;
    - otherwise: case-insensitive, after stripping whitespace and one trailing period.
    A gold answer that does not parse scores 0.

    >>> score_answer("It is 12:05 now", "0:05", "clock"), score_answer("7 moves", "07", "maze")
    (1.0, 1.0)
    >>> score_answer("Left.", "left", "other"), score_answer(None, "4", "maze")
    (1.0, 0.0)
    """
    pair = _read_pair(pred, gold, category)
    return 0.0 if pair is None else _exact(*pair)


def _circular(a: int, b: int, period: int) -> int:
    d = abs(a % period - b % period)
    return min(d, period - d)


def partial_credit(pred: str | None, gold: str | None, category: str | None) -> float:
    """The Continuous reward's answer term.

    - clock: 0.5*H + 0.5*M with dh, dm circular distances on a 12-hour / 60-minute dial,
      H = 0 if dh > 2 else 1 - dh/5, M = 0 if dm > 10 else 1 - dm/20;
    - integers: d = |pred - gold|, 0 if d > 5 else 1/(1 + d);
    - otherwise: exact (`score_answer`).

    >>> partial_credit("11:58", "0:02", "clock"), partial_credit("8", "5", "maze")
    (0.8, 0.25)
    """
    pair = _read_pair(pred, gold, category)
    if pair is None:
        return 0.0
    kind, want, got = pair
    if kind == "clock":
        dh, dm = _circular(want[0], got[0], 12), _circular(want[1], got[1], 60)
        return 0.5 * (0.0 if dh > 2 else 1 - dh / 5) + 0.5 * (0.0 if dm > 10 else 1 - dm / 20)
    if kind == "integer":
        if abs(len(got) - len(want)) > 1:  # at least 10x apart: d > 5
            return 0.0
        if max(len(got), len(want)) > _MAX_INT_DIGITS:
            return float(got == want)
        d = abs(int(got) - int(want))
        return 0.0 if d > 5 else 1 / (1 + d)
    return _exact(kind, want, got)


# -- Terms and designs ---------------------------------------------------------------

Term = Callable[[Parsed, Any, Any], float]

TERMS: dict[str, Term] = {
    "image_description": lambda p, gold, category: p.image_description,
    "think": lambda p, gold, category: p.think,
    "rethink": lambda p, gold, category: p.rethink,
    "visual": lambda p, gold, category: p.visual,
    "accuracy": lambda p, gold, category: score_answer(p.answer, gold, category),
    "partial_credit": lambda p, gold, category: partial_credit(p.answer, gold, category),
    "answer_present": lambda p, gold, category: float(bool(p.answer)),  # never looks at correctness
}
ANSWER_TERMS = ("accuracy", "partial_credit", "answer_present")


def _column(values: Any, n: int, name: str) -> list:
    """A per-completion column: a list of length n, or one value broadcast."""
    if isinstance(values, (list, tuple)):
        if len(values) != n:
            raise VisreasonError(f"rewards: '{name}' has {len(values)} values for {n} completions")
        return list(values)
    return [values] * n


def score_designs(names, completions, answer, category) -> dict[str, dict[str, list[float]]]:
    """Per design: its unweighted terms and the weighted "total", parsing each completion once.

    >>> out = score_designs(["vanilla", "only_accuracy"], ["<answer>5</answer>"], ["5"], ["maze"])
    >>> out["vanilla"], out["only_accuracy"]["total"]
    ({'think': [0.0], 'accuracy': [1.0], 'total': [0.9]}, [1.0])
    """
    tables = {name: get_design(name).weights for name in names}
    needed = list(dict.fromkeys(term for table in tables.values() for term in table))
    n = len(completions)
    golds, categories = _column(answer, n, "answer"), _column(category, n, "category")
    out = {name: {**{term: [] for term in table}, "total": []} for name, table in tables.items()}
    for completion, gold, cat in zip(completions, golds, categories):
        parsed = parse(completion_text(completion))
        values = {term: TERMS[term](parsed, gold, cat) for term in needed}
        for name, table in tables.items():
            total = 0.0
            for term, weight in table.items():
                out[name][term].append(values[term])
                total += weight * values[term]
            out[name]["total"].append(total)
    return out


def reward_terms(name: str, completions, answer, category) -> dict[str, list[float]]:
    """The unweighted terms of one design plus its weighted "total" (for logging `rewards/<name>/<term>`)."""
    return score_designs([name], completions, answer, category)[name]


def _reward(name: str, completions, answer, category, kwargs: dict) -> list[float]:
    terms = reward_terms(name, completions, answer, category)
    log_metric = kwargs.get("log_metric")  # TRL's GRPOTrainer passes it: per-term means, once per batch
    if callable(log_metric) and terms["total"]:
        for term, values in terms.items():
            if term != "total":
                log_metric(f"rewards/{name}/{term}", sum(values) / len(values))
    return terms["total"]


def vanilla(completions, answer, category, **kwargs) -> list[float]:
    """think 0.1 + exact accuracy 0.9.

    >>> vanilla(["<think>Count. Add one.</think><answer>5</answer>", "<answer>6</answer>"], ["5", "5"], ["maze"] * 2)
    [0.9964027580075817, 0.0]
    """
    return _reward("vanilla", completions, answer, category, kwargs)


def only_accuracy(completions, answer, category, **kwargs) -> list[float]:
    """Exact accuracy alone (the format is asked for by the Vanilla prompt only).

    >>> only_accuracy(["<answer>4:23</answer>", "4:23"], ["4:23", "4:23"], ["clock", "clock"])
    [1.0, 0.0]
    """
    return _reward("only_accuracy", completions, answer, category, kwargs)


def mixture(completions, answer, category, **kwargs) -> list[float]:
    """image description 0.06 + think 0.06 + rethink 0.08 + exact accuracy 0.80.

    >>> text = "<image description>A clock.</image description><think>Add.</think><rethink>Ok.</rethink>"
    >>> text += "<answer>5</answer>"
    >>> round(mixture([text], ["5"], ["maze"])[0], 4)  # 0.8 + 0.2 * tanh(1)
    0.9523
    """
    return _reward("mixture", completions, answer, category, kwargs)


def continuous(completions, answer, category, **kwargs) -> list[float]:
    """As Mixture, but the 0.80 answer term is `partial_credit`.

    >>> round(continuous(["<answer>7</answer>"], ["5"], ["maze"])[0], 4)  # 0.8 * 1/(1+2)
    0.2667
    """
    return _reward("continuous", completions, answer, category, kwargs)


def visual_fusion(completions, answer, category, **kwargs) -> list[float]:
    """think 0.1 + visual 0.1 (the `<visual>` blocks inside `<think>`) + exact accuracy 0.8.

    >>> round(visual_fusion(["<think>Hm. <visual>Red.</visual></think><answer>2</answer>"], ["2"], ["maze"])[0], 4)
    0.9726
    """
    return _reward("visual_fusion", completions, answer, category, kwargs)


def no_accuracy(completions, answer, category, **kwargs) -> list[float]:
    """image description 0.3 + think 0.3 + rethink 0.3 + answer present 0.1 (correctness never read).

    >>> no_accuracy(["<answer>wrong</answer>", "<answer> </answer>"], ["5", "5"], ["maze", "maze"])
    [0.1, 0.0]
    """
    return _reward("no_accuracy", completions, answer, category, kwargs)


# -- Prompts and the registry --------------------------------------------------------

_FINAL = "Finally, write only the final answer inside <answer> </answer>, exactly once."
VANILLA_PROMPT = "Think step by step inside <think> </think>. " + _FINAL
MIXTURE_PROMPT = (
    "First describe {source} inside <image description> </image description>. "
    "Then think step by step inside <think> </think>. "
    "Then check your reasoning inside <rethink> </rethink>. " + _FINAL
)
VISUAL_FUSION_PROMPT = (
    "Think step by step inside <think> </think>. Inside your thinking, write every observation "
    "you take from {source} inside <visual> </visual>. " + _FINAL
)


@dataclass(frozen=True)
class Design:
    """One reward design: the weight of each of its terms, the instruction its prompt ends with
    (`{source}` names what the model is shown), and the reward function TRL calls."""

    weights: dict[str, float]
    prompt: str
    function: Callable[..., list[float]]

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags the prompt asks for, in the order it names them (evaluation checks this structure)."""
        return tuple(dict.fromkeys(re.findall(r"<([a-z][a-z ]*)>", self.prompt)))

    @property
    def tag_weight(self) -> float:
        """The sum of the non-answer weights: the design's rewards lie in [-this, 1]."""
        return sum(w for term, w in self.weights.items() if term not in ANSWER_TERMS)


DESIGNS: dict[str, Design] = {
    "vanilla": Design({"think": 0.1, "accuracy": 0.9}, VANILLA_PROMPT, vanilla),
    # The study's question: can the format be learnt from the prompt alone? Hence the Vanilla prompt.
    "only_accuracy": Design({"accuracy": 1.0}, VANILLA_PROMPT, only_accuracy),
    "mixture": Design(
        {"image_description": 0.06, "think": 0.06, "rethink": 0.08, "accuracy": 0.80}, MIXTURE_PROMPT, mixture
    ),
    "continuous": Design(
        {"image_description": 0.06, "think": 0.06, "rethink": 0.08, "partial_credit": 0.80}, MIXTURE_PROMPT, continuous
    ),
    "visual_fusion": Design({"think": 0.1, "visual": 0.1, "accuracy": 0.8}, VISUAL_FUSION_PROMPT, visual_fusion),
    "no_accuracy": Design(
        {"image_description": 0.3, "think": 0.3, "rethink": 0.3, "answer_present": 0.1}, MIXTURE_PROMPT, no_accuracy
    ),
}


def get_design(name: str) -> Design:
    """A design by name; an unknown name lists the valid ones."""
    if name not in DESIGNS:
        raise VisreasonError(f"unknown reward '{name}' (valid: {', '.join(DESIGNS)})")
    return DESIGNS[name]


def get_reward(name: str) -> Callable[..., list[float]]:
    """The reward function of a design, as TRL's `GRPOTrainer` takes it."""
    return get_design(name).function


def design_table() -> str:
    """The registry as a Markdown table: each design's terms and weights."""
    rows = ["| design | terms and weights |", "|---|---|"]
    for name, d in DESIGNS.items():
        rows.append(f"| `{name}` | " + ", ".join(f"{term} {w:g}" for term, w in d.weights.items()) + " |")
    return "\n".join(rows)


def format_prompt(
    reward: str,
    question: str,
    *,
    options: list[str] | None = None,
    description: str | None = None,
    caption: str | None = None,
) -> str:
    """The user-turn text for a design: puzzle, question, options, and the tag instruction.

    `options` asks for one of them verbatim (multiple choice); `description` gives the
    puzzle state as text instead of an image (text-only mode); `caption` puts a caption
    before the question, the image still shown (image+caption mode).

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
    return "\n".join(parts) + "\n\n" + template.format(source=source)
