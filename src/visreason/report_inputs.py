"""The report's inputs, read and checked, and the estimates its tables print.

Everything here reads the files the stages write (see `visreason.report`) and
turns them into per-puzzle values and estimates with 95% intervals:
- an evaluation folder's samples are the primary data: every accuracy, rate and
  paired difference is computed from `samples.jsonl`, and metrics.json's
  per-category counts must agree with them (a stale or mixed folder is an error);
- several seeds of a design are averaged per puzzle before any interval;
- two models are compared on the same puzzles, paired by id, or not at all.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from visreason import VisreasonError
from visreason.answers import score_answer
from visreason.files import read_json, sha256_file
from visreason.params import BASE_TAG, MODES, split_tag
from visreason.puzzles import ALGOPUZZLEVQA
from visreason.stats import bootstrap_mean, guess_interval, mean_over, wilson, window_rise

# ---------------------------------------------------------------- the study's numbers

# Transcribed by hand from arXiv 2601.00215 (second-hand, not checked against a
# machine-readable source): accuracy in %, open-ended, Qwen2.5-VL-7B, GRPO without SFT,
# mean over the study's nine categories (STUDY9).
PUBLISHED_SOURCE = "arXiv 2601.00215, Qwen2.5-VL-7B, GRPO without SFT; transcribed by hand"
PUBLISHED_MEAN = {
    "base": 10.00,
    "vanilla": 13.22,
    "only_accuracy": 15.11,
    "mixture": 15.56,
    "continuous": 14.67,
    "visual_fusion": 13.33,
    "no_accuracy": 11.22,
}
PUBLISHED_DOMAIN = {"mixture": (21.25, 11.0)}  # (in-domain, out-of-domain)
# Perception: mean over the nine categories, image -> text description, and clock alone.
PUBLISHED_PERCEPTION = {"Claude 3.5 Sonnet": (25.9, 52.6, 3, 84), "Claude 3.7 Sonnet (thinking)": (42.4, 66.0, 7, 83)}
STUDY9_IN_DOMAIN = ("clock", "maze", "move_box", "n_queens")
STUDY9 = (*STUDY9_IN_DOMAIN, "number_slide", "tower_of_hanoi", "water_jugs", "checker_move", "rotting_kiwi")
GUESSED = ("checker_move", "rotting_kiwi")  # the study never names two of its nine categories: our guess
RANDOM, MIXTURE = "random", "mixture"  # the random-reward control arm and the study's best design

# Training-log keys (TRL GRPOTrainer) drawn as curves: key -> (figure file, y-axis label).
CURVES = {
    "reward": ("reward_curves.png", "mean reward per completion"),
    "completions/mean_length": ("response_length.png", "mean completion length (tokens)"),
    "frac_reward_zero_std": ("reward_spread.png", "groups with zero reward spread (%)"),
}
MEANS = ("in_domain", "out_of_domain", "mean")
MEAN_LABELS = {"in_domain": "in-domain mean", "out_of_domain": "out-of-domain mean", "mean": "mean"}


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class Evaluation:
    """One `eval/<tag>/<mode>/` folder: its summary and its samples by puzzle id."""

    tag: str
    mode: str
    folder: Path
    metrics: dict
    samples: dict[str, dict]
    columns: dict[str, dict[str, tuple[str, float]]] = field(default_factory=dict, compare=False, repr=False)

    def column(self, value: str) -> dict[str, tuple[str, float]]:
        """id -> (category, value) for the samples that have `value` (computed once)."""
        if value not in self.columns:
            get = VALUES[value]
            self.columns[value] = {i: (s["category"], v) for i, s in self.samples.items() if (v := get(s)) is not None}
        return self.columns[value]


def _read(path: Path) -> dict:
    try:
        obj = read_json(path)
    except json.JSONDecodeError as err:
        raise VisreasonError(f"{path}: invalid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(obj, dict):
        raise VisreasonError(f"{path}: expected a JSON object")
    return obj


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSON-lines file; a bad line is an error naming file and line."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise VisreasonError(f"{path}:{lineno}: invalid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise VisreasonError(f"{path}:{lineno}: expected a JSON object")
            rows.append(row)
    return rows


def _samples(folder: Path, metrics: dict) -> dict[str, dict]:
    """id -> sample, checked, and checked against metrics.json's per-category counts."""
    path = folder / "samples.jsonl"
    if not path.is_file():
        raise VisreasonError(f"{path}: missing (metrics.json without its samples)")
    out: dict[str, dict] = {}
    for lineno, s in enumerate(read_jsonl(path), 1):
        for key in ("id", "category"):
            if not (isinstance(s.get(key), str) and s[key]):
                raise VisreasonError(f"{path}:{lineno}: field '{key}' must be a non-empty string")
        if s.get("correct") not in (0, 1) or isinstance(s.get("correct"), float):
            raise VisreasonError(f"{path}:{lineno}: field 'correct' must be 0, 1, true or false")
        if s["id"] in out:
            raise VisreasonError(f"{path}:{lineno}: puzzle '{s['id']}' appears twice")
        out[s["id"]] = s
    summary = (metrics.get("behaviour") or {}).get("all") or {}
    for key in ("fact_precision", "fact_recall"):
        if summary.get(key) is not None and not any(
            (s.get("behaviour") or {}).get(key) is not None for s in out.values()
        ):
            raise VisreasonError(f"{path}: metrics.json reports {key} but no sample has behaviour.{key}")
    per_cat = metrics["accuracy"]["per_category"]
    if set(per_cat) != {s["category"] for s in out.values()}:
        raise VisreasonError(
            f"{folder}: metrics.json and samples.jsonl hold different categories (stale or mixed files)"
        )
    for cat, entry in per_cat.items():
        got = [int(s["correct"]) for s in out.values() if s["category"] == cat]
        if (entry.get("correct", sum(got)), entry.get("n", len(got))) != (sum(got), len(got)):
            raise VisreasonError(
                f"{folder}: metrics.json counts {entry.get('correct')}/{entry.get('n')} correct in '{cat}', "
                f"samples.jsonl {sum(got)}/{len(got)} (stale or mixed files)"
            )
    return out


def load_evaluations(results: Path) -> dict[str, dict[str, Evaluation]]:
    """{tag: {mode: Evaluation}} from every `eval/<tag>/<mode>/metrics.json`."""
    out: dict[str, dict[str, Evaluation]] = defaultdict(dict)
    for path in sorted((results / "eval").glob("*/*/metrics.json")):
        metrics = _read(path)
        if not isinstance(metrics.get("accuracy"), dict) or "per_category" not in metrics["accuracy"]:
            raise VisreasonError(f"{path}: not an evaluation summary (no accuracy.per_category)")
        tag, mode = path.parent.parent.name, path.parent.name
        out[tag][mode] = Evaluation(tag, mode, path.parent, metrics, _samples(path.parent, metrics))
    if not out:
        raise VisreasonError(f"no evaluation metrics under {results / 'eval'} (run `visreason evaluate` first)")
    return dict(out)


@dataclass(frozen=True)
class Training:
    """One `train/<design>/seed<seed>/` run: its summary and its per-step log."""

    design: str
    seed: int
    summary: dict
    history: list[dict]


def _step(path: Path) -> int:
    """checkpoints/checkpoint-12/trainer_state.json -> 12."""
    return int(path.parent.name.rsplit("-", 1)[-1])


def load_trainings(results: Path) -> dict[str, dict[int, Training]]:
    """{design: {seed: Training}}; `history` is [] when no log was found."""
    out: dict[str, dict[int, Training]] = defaultdict(dict)
    for path in sorted((results / "train").glob("*/seed*/train_summary.json")):
        summary = _read(path)
        history = summary.get("log_history")
        if history is None:
            # Trainer state beside the model, else the newest checkpoint's (kept
            # between runs but not pushed by DVC).
            ckpts = sorted(path.parent.glob("checkpoints/checkpoint-*/trainer_state.json"), key=_step)
            states = [path.parent / "final" / "trainer_state.json", *reversed(ckpts)]
            state = next((s for s in states if s.is_file()), None)
            history = _read(state).get("log_history") if state else None
        design, seed = path.parent.parent.name, int(path.parent.name[4:])
        steps = sorted((h for h in history or [] if "step" in h), key=lambda h: h["step"])
        out[design][seed] = Training(design, seed, summary, steps)
    return dict(out)


def load_captions(results: Path) -> dict[str, dict]:
    """{<split>/<captioner>: summary}."""
    return {
        f"{p.parent.parent.name}/{p.parent.name}": _read(p)
        for p in sorted((results / "captions").glob("*/*/summary.json"))
    }


def load_manifests(results: Path) -> dict[str, tuple[str, dict]]:
    """{split: (sha256 of its manifest.json, the manifest)}."""
    return {p.parent.name: (sha256_file(p), _read(p)) for p in sorted((results / "data").glob("*/manifest.json"))}


def load_eval_records(results: Path) -> dict[str, dict] | None:
    """id -> record of the evaluation split, or None when the split is not under `results`."""
    path = results / "data" / "eval" / "records.jsonl"
    if not path.is_file():
        return None
    out = {}
    for lineno, r in enumerate(read_jsonl(path), 1):
        if not (isinstance(r.get("options"), list) and r["options"] and isinstance(r.get("answer"), str)):
            raise VisreasonError(f"{path}:{lineno}: a record needs 'options' (a list) and 'answer' (a string)")
        if not isinstance(r.get("id"), str) or r["id"] in out:
            raise VisreasonError(f"{path}:{lineno}: 'id' missing, not a string, or repeated")
        out[r["id"]] = r
    return out


# ---------------------------------------------------------------- models and per-puzzle values


@dataclass(frozen=True)
class Group:
    """A model as the tables show it: `base`, a design (one evaluation per seed), or an external model."""

    name: str
    runs: dict[str, list[Evaluation]]  # mode -> one evaluation per seed

    @property
    def trained(self) -> bool:
        return any(split_tag(e.tag)[1] is not None for runs in self.runs.values() for e in runs)

    def seeds(self, mode: str = "image") -> list[int]:
        return sorted(s for e in self.runs.get(mode, []) if (s := split_tag(e.tag)[1]) is not None)

    @property
    def label(self) -> str:
        """The name, with the external model and "thinking" when evaluation recorded them."""
        if self.trained or self.name == BASE_TAG:
            return self.name
        m = next(iter(self.runs.values()))[0].metrics
        return f"{self.name} ({m.get('model', '?')}{', thinking' if thinking(m) else ''})"


def thinking(metrics: dict) -> bool:
    """Whether evaluation ran the model in thinking mode: metrics.json `thinking` (or
    `sampling.thinking`) as a flag, a budget, or the API's `{"type": "enabled", ...}`.

    >>> thinking({"thinking": {"type": "enabled", "budget_tokens": 2048}}), thinking({"thinking": {"type": "disabled"}})
    (True, False)
    >>> thinking({"sampling": {"thinking": 0}}), thinking({"model": "claude:x"})
    (False, False)
    """
    value = metrics.get("thinking", (metrics.get("sampling") or {}).get("thinking"))
    if isinstance(value, dict):
        return value.get("type", "enabled") != "disabled" and value.get("budget_tokens", 1) != 0
    return bool(value)


def group_models(evals: dict[str, dict[str, Evaluation]], designs: list[str]) -> dict[str, Group]:
    """Models in table order: base, the sweep's designs, other designs, then external models.

    Every seed of a design, in one mode, must have evaluated the same puzzles.
    """
    runs: dict[str, dict[str, list[Evaluation]]] = defaultdict(lambda: defaultdict(list))
    for tag, modes in evals.items():
        for mode, ev in modes.items():
            runs[split_tag(tag)[0]][mode].append(ev)
    for by_mode in runs.values():
        for evs in by_mode.values():
            for ev in evs[1:]:
                if set(ev.samples) != set(evs[0].samples):
                    raise VisreasonError(f"{ev.folder} and {evs[0].folder} evaluated different puzzles")

    def order(name: str) -> tuple:
        seeded = any(split_tag(e.tag)[1] is not None for evs in runs[name].values() for e in evs)
        rank = 0 if name == BASE_TAG else 1 if name in designs else 2 if seeded else 3
        return (rank, designs.index(name) if name in designs else 0, name)

    return {name: Group(name, dict(runs[name])) for name in sorted(runs, key=order)}


def _flag(key: str) -> Callable[[dict], float | None]:
    def get(sample: dict) -> float | None:
        value = (sample.get("behaviour") or {}).get(key)
        return None if value is None else float(value)

    return get


# Per-sample values the tables average: name -> sample -> value (None: not measured for this sample).
VALUES: dict[str, Callable[[dict], float | None]] = {
    "accuracy": lambda s: float(s["correct"]),
    "tokens": lambda s: None if s.get("n_tokens") is None else float(s["n_tokens"]),
    "truncation": lambda s: None if s.get("truncated") is None else float(s["truncated"]),
    "structure": _flag("structure"),
    "reflection": _flag("reflection"),
    "visual_reference": _flag("visual_share"),
    "contradiction": _flag("contradiction"),
    "fact_precision": _flag("fact_precision"),
    "fact_recall": _flag("fact_recall"),
    "facts_stated": _flag("facts_stated"),
}


def item_means(runs: list[Evaluation], value: str, categories: list[str]) -> dict[str, tuple[str, float]]:
    """id -> (category, mean over seeds of the value) for the puzzles of `categories` that have one."""
    cats = set(categories)
    per_item: dict[str, tuple[str, list[float]]] = {}
    for ev in runs:
        for pid, (cat, v) in ev.column(value).items():
            if cat in cats:
                per_item.setdefault(pid, (cat, []))[1].append(v)
    return {pid: (cat, sum(vs) / len(vs)) for pid, (cat, vs) in per_item.items()}


@dataclass(frozen=True)
class Est:
    """An estimate with its 95% interval and n, and how to print it."""

    value: float
    lo: float | None
    hi: float | None
    n: int
    scale: float = 100.0  # 100: a share printed in % (or points when signed)
    signed: bool = False
    digits: int = 1
    note: str | None = None  # said instead of an interval that resampling cannot give

    def text(self) -> str:
        f = f"{{:{'+' if self.signed else ''}.{self.digits}f}}"
        core = f.format(self.scale * self.value)
        if self.lo is None:
            return f"{core} ({self.note})" if self.note else core
        return f"{core} [{self.scale * self.lo:.{self.digits}f}, {self.scale * self.hi:.{self.digits}f}]"


def proportion(runs: list[Evaluation], value: str, categories: list[str], by_category: bool = True) -> Est | None:
    """The mean of a 0/1 value (seeds averaged per puzzle) with Wilson's interval.

    `by_category`: the unweighted mean over categories (as accuracy means are),
    else pooled over puzzles (as behaviour rates are).
    """
    items = item_means(runs, value, categories)
    if not items:
        return None
    if by_category:
        per_cat = defaultdict(list)
        for cat, v in items.values():
            per_cat[cat].append(v)
        m = mean_over({c: {"accuracy": statistics.fmean(v), "n": len(v)} for c, v in per_cat.items()}, categories)
        return Est(m["accuracy"], *m["ci95"], m["n"])
    p, n = statistics.fmean(v for _, v in items.values()), len(items)
    return Est(p, *wilson(p * n, n), n)


def mean_value(runs: list[Evaluation], value: str, categories: list[str], scale: float = 100.0) -> Est | None:
    """The mean of a real value over puzzles (seeds averaged per puzzle), bootstrap interval."""
    items = item_means(runs, value, categories)
    if not items:
        return None
    values = [v for _, v in items.values()]
    if len(set(values)) == 1:  # a bootstrap interval would claim a certainty n puzzles do not give
        return Est(values[0], None, None, len(values), scale=scale, note="the same on every puzzle")
    est, lo, hi = bootstrap_mean(values)
    return Est(est, lo, hi, len(items), scale=scale)


def paired(
    a: list[Evaluation], b: list[Evaluation], value: str, categories: list[str], stratify: bool = True, scale=100.0
) -> Est | None:
    """a - b on the puzzles both measured, paired by id, with a bootstrap interval.

    `stratify`: the difference of the unweighted category means (accuracy), else of
    the pooled means (behaviour). The two sides must have evaluated the same puzzles.
    """
    if not a or not b:
        return None
    ids_a = {i for i, s in a[0].samples.items() if s["category"] in categories}
    ids_b = {i for i, s in b[0].samples.items() if s["category"] in categories}
    if ids_a != ids_b:
        only = sorted(ids_a ^ ids_b)[0]
        raise VisreasonError(f"{a[0].folder} and {b[0].folder} evaluated different puzzles (e.g. '{only}')")
    x, y = item_means(a, value, categories), item_means(b, value, categories)
    common = sorted(set(x) & set(y))
    if not common:
        return None
    diffs = [x[i][1] - y[i][1] for i in common]
    if len(set(diffs)) == 1:  # no discordant pair: resampling gives a zero-width interval, which n does not
        note = "identical on every puzzle" if diffs[0] == 0 else "the same difference on every puzzle"
        return Est(diffs[0], None, None, len(common), scale=scale, signed=True, note=note)
    est, lo, hi = bootstrap_mean(diffs, [x[i][0] for i in common] if stratify else None)
    return Est(est, lo, hi, len(common), scale=scale, signed=True)


# ---------------------------------------------------------------- training


def window(history: list[dict], key: str) -> tuple[list[float], list[float]] | None:
    """The values of `key` in the first and last tenth of the logged steps (at least two each)."""
    values = [float(h[key]) for h in history if key in h]
    k = max(2, len(values) // 10)
    return None if len(values) < 2 * k else (values[:k], values[-k:])


def reward_rise(trainings: dict[int, Training]) -> Est | None:
    """Mean reward of the last tenth of steps minus the first tenth, over seeds (`stats.window_rise`)."""
    windows = [w for t in trainings.values() if (w := window(t.history, "reward"))]
    if not windows:
        return None
    r = window_rise([w[0] for w in windows], [w[1] for w in windows])
    n = sum(len(w[0]) for w in windows)
    if r["ci95"][0] == r["ci95"][1]:
        return Est(r["rise"], None, None, n, scale=1.0, signed=True, digits=3, note="constant in both windows")
    return Est(r["rise"], *r["ci95"], n, scale=1.0, signed=True, digits=3)


def no_update_reasons(t: Training) -> list[str]:
    """Why a run made no update: train_summary.json's `no_update`, or what its log shows."""
    reasons = []
    if t.summary.get("no_update"):
        flag = t.summary["no_update"]
        reasons.append(t.summary.get("no_update_reason") or (flag if isinstance(flag, str) else "train_summary.json"))
    grads = [h["grad_norm"] for h in t.history if "grad_norm" in h]
    if grads and all(g == 0 for g in grads):
        reasons.append(f"grad_norm 0 at all {len(grads)} logged steps")
    zero = [h["frac_reward_zero_std"] for h in t.history if "frac_reward_zero_std" in h]
    if zero and all(z == 1 for z in zero):
        reasons.append(f"every group had zero reward spread (frac_reward_zero_std 1 at all {len(zero)} steps)")
    return list(dict.fromkeys(reasons))


def zero_spread(trainings: dict[int, Training]) -> Est | None:
    """The mean share of groups with zero reward spread, over steps and seeds."""
    values = [h["frac_reward_zero_std"] for t in trainings.values() for h in t.history if "frac_reward_zero_std" in h]
    return Est(statistics.fmean(values), None, None, len(values)) if values else None


# ---------------------------------------------------------------- categories and baselines


@dataclass(frozen=True)
class CategorySet:
    """The categories the tables follow: the chosen set's in-domain and out-of-domain lists."""

    name: str
    in_domain: list[str]
    out_of_domain: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.in_domain, *self.out_of_domain]

    def of(self, key: str) -> list[str]:
        """The categories of a mean (`in_domain`, `out_of_domain`, `mean`) or of one category."""
        return {"in_domain": self.in_domain, "out_of_domain": self.out_of_domain, "mean": self.all}.get(key, [key])

    @classmethod
    def from_params(cls, params: dict) -> CategorySet:
        cats = params["categories"]
        ind, ood = list(cats["in_domain"]), list(cats["out_of_domain"])
        name = cats.get("set") if isinstance(cats.get("set"), str) else None
        if name is None:
            everything = set(ALGOPUZZLEVQA)
            study9 = (tuple(ind), set(ood)) == (STUDY9_IN_DOMAIN, set(STUDY9) - set(STUDY9_IN_DOMAIN))
            name = (
                "study9" if study9 else "all18" if len(everything) == 18 and set(ind + ood) == everything else "custom"
            )
        return cls(name, ind, ood)


def label(category: str) -> str:
    """A category's name, marked when the study never names it (our guess)."""
    return f"{category}†" if category in GUESSED else category


def baselines(records: dict[str, dict], manifests: dict, cats: CategorySet, ids: set[str]) -> dict[str, dict]:
    """{"chance"|"majority": {category or mean: Est}} over the evaluated puzzles `ids`.

    chance: a uniform guess over each puzzle's options, scored with the answer scorer
    (the expected accuracy, and where 95% of such guessers land); majority: always
    the category's commonest answer in the training set (ties: the first in sort
    order), scored on the evaluation puzzles, with Wilson's interval. A category
    absent from the training set has no majority answer.
    """
    missing = sorted(ids - set(records))
    if missing:
        raise VisreasonError(f"evaluated puzzle '{missing[0]}' is not in data/eval/records.jsonl (stale evaluation?)")
    hist = manifests.get("train", (None, {}))[1].get("answer_histograms", {})
    commonest = {c: min(h, key=lambda a: (-h[a], a)) for c, h in hist.items() if h}
    chance, majority = defaultdict(list), defaultdict(list)
    for pid in sorted(ids):
        r = records[pid]
        cat, gold = r["category"], r["answer"]
        if cat in cats.all:
            chance[cat].append(statistics.fmean(score_answer(o, gold, cat) for o in r["options"]))
            if cat in commonest:
                majority[cat].append(score_answer(commonest[cat], gold, cat))
    out: dict[str, dict] = {"chance": {}, "majority": {}, "answers": commonest}
    for key in (*cats.all, *MEANS):
        pairs = [(c, p) for c in cats.of(key) for p in chance.get(c, [])]
        if pairs:
            out["chance"][key] = Est(*guess_interval([p for _, p in pairs], [c for c, _ in pairs]), len(pairs))
        present = [c for c in cats.of(key) if c in chance]
        if present and all(c in majority for c in present):
            per_cat = {c: {"accuracy": statistics.fmean(majority[c]), "n": len(majority[c])} for c in present}
            m = mean_over(per_cat, present)
            out["majority"][key] = Est(m["accuracy"], *m["ci95"], m["n"])
    return out


# ---------------------------------------------------------------- everything the report reads


@dataclass
class Inputs:
    results: Path
    params: dict
    cats: CategorySet
    groups: dict[str, Group]
    trainings: dict[str, dict[int, Training]]
    captions: dict[str, dict]
    manifests: dict[str, tuple[str, dict]]
    records: dict[str, dict] | None
    model_summary: dict | None

    @property
    def modes(self) -> list[str]:
        present = {m for g in self.groups.values() for m in g.runs}
        return [m for m in MODES if m in present] + sorted(present - set(MODES))

    @property
    def base(self) -> Group | None:
        return self.groups.get(BASE_TAG)

    def designs(self) -> list[Group]:
        """The trained designs, in sweep order."""
        return [g for g in self.groups.values() if g.trained]


def collect(results: str | Path, params: dict) -> Inputs:
    """Read every file the report uses; any inconsistency is an error naming the file."""
    results = Path(results)
    evals = load_evaluations(results)
    groups = group_models(evals, list(params.get("rewards", {})))
    trainings = load_trainings(results)
    order = list(groups)  # figures list the designs as the tables do
    model_file = results / "model" / str(params["model"]["name"]) / "visreason_model.json"
    return Inputs(
        results=results,
        params=params,
        cats=CategorySet.from_params(params),
        groups=groups,
        trainings={
            d: trainings[d]
            for d in sorted(trainings, key=lambda d: (d not in order, order.index(d) if d in order else 0, d))
        },
        captions=load_captions(results),
        manifests=load_manifests(results),
        records=load_eval_records(results),
        model_summary=_read(model_file) if model_file.is_file() else None,
    )
