"""Evaluation: scoring path, Wilson intervals, behaviour metrics, description fidelity, the stage on the
tiny model in every mode, explicit decoding, resume. (Faults and bad files: tests/test_faults_eval.py.)"""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections import defaultdict
from types import SimpleNamespace

import pytest
from PIL import Image

from visreason import VisreasonError
from visreason.answers import score_answer
from visreason.cli import main
from visreason.evaluate import (
    accuracy_summary,
    behaviour_flags,
    behaviour_summary,
    compute_metrics,
    description_fact_scores,
    run_evaluate,
    score_sample,
)
from visreason.files import sha256_file
from visreason.generation import (
    Generation,
    Request,
    Sampling,
    TransformersBackend,
    VLLMBackend,
    load_image,
    transformers_decoding,
    vllm_decoding,
)
from visreason.params import load_params
from visreason.puzzles import CATEGORIES
from visreason.records import load_records
from visreason.rewards import format_prompt
from visreason.stats import wilson

CLOCK_STATE = {"current_hour": 3, "current_minute": 15, "add_hour": 1, "add_minute": 0}
CATEGORIES9 = [
    "clock",
    "maze",
    "move_box",
    "n_queens",
    "number_slide",
    "tower_of_hanoi",
    "water_jugs",
    "checker_move",
    "rotting_kiwi",
]


# ------------------------------------------------------------------ scoring and intervals


def test_wilson_against_hand_computed_values():
    # Textbook 95% Wilson intervals (e.g. Newcombe 1998): 5/10, 1/10, 0/10, 10/10.
    assert [round(x, 4) for x in wilson(5, 10)] == [0.2366, 0.7634]
    assert [round(x, 4) for x in wilson(1, 10)] == [0.0179, 0.4042]
    assert [round(x, 4) for x in wilson(0, 10)] == [0.0, 0.2775]
    assert [round(x, 4) for x in wilson(10, 10)] == [0.7225, 1.0]
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.fixture(scope="module")
def released(shared_data):
    """The 900 released AlgoPuzzleVQA records of the 9 categories (id, category, answer, solution)."""
    rows = []
    for cat in CATEGORIES9:
        for i, line in enumerate((shared_data / "data" / f"{cat}.json").read_text().splitlines()):
            rec = json.loads(line)
            rows.append({"id": f"{cat}-{i}", "category": cat, "answer": rec["answer"], "solution": rec["solution"]})
    return rows


def score_all(records, answers):
    return [
        score_sample(r, "prompt", Generation(f"<think>Solving.</think><answer>{a}</answer>", 5, False), "vanilla")
        for r, a in zip(records, answers)
    ]


def test_gold_answers_score_100_and_shuffled_answers_score_chance(released):
    params = load_params(scale="smoke")
    cats = params["categories"]
    gold = accuracy_summary(
        score_all(released, [r["answer"] for r in released]), cats["in_domain"], cats["out_of_domain"]
    )
    assert gold["mean"]["accuracy"] == gold["in_domain"]["accuracy"] == gold["out_of_domain"]["accuracy"] == 1.0
    assert all(c["accuracy"] == 1.0 and c["n"] == 100 for c in gold["per_category"].values())

    by_cat = defaultdict(list)
    for r in released:
        by_cat[r["category"]].append(r["answer"])
    # Expected accuracy of a uniformly shuffled answer column, with the scorer itself:
    # E = mean over (i, j) of score(answer_j as prediction, answer_i as gold).
    chance = {c: sum(score_answer(p, g, c) for g in a for p in a) / len(a) ** 2 for c, a in by_cat.items()}
    rng, reps, seen = random.Random(0), 20, defaultdict(list)
    for _ in range(reps):
        shuffled = []
        for cat in CATEGORIES9:
            answers = by_cat[cat][:]
            rng.shuffle(answers)
            shuffled += answers
        summary = accuracy_summary(score_all(released, shuffled), cats["in_domain"], cats["out_of_domain"])
        for cat, v in summary["per_category"].items():
            seen[cat].append(v["accuracy"])
    for cat in CATEGORIES9:
        observed = sum(seen[cat]) / reps
        se = (chance[cat] * (1 - chance[cat]) / (100 * reps)) ** 0.5
        assert abs(observed - chance[cat]) < 5 * se + 1e-9, (cat, observed, chance[cat])
    assert 0.05 < sum(chance.values()) / 9 < 0.4  # the released answers are far from constant


def test_empty_and_answerless_completions_score_zero_and_are_counted():
    rec = {"id": "clock-1", "category": "clock", "answer": "3:15", "solution": CLOCK_STATE}
    gens = [
        Generation("", 0, False),
        Generation("<think>3:15</think>", 4, True),
        Generation("<answer>3:15</answer><answer>3:15</answer>", 9, False),
    ]
    samples = [score_sample(rec, "p", g, "vanilla") for g in gens]
    assert [s["correct"] for s in samples] == [False] * 3 and [s["extracted"] for s in samples] == [None] * 3
    metrics = compute_metrics(samples, load_params(scale="smoke"), {})
    assert metrics["n_empty"] == 1 and metrics["n_no_answer"] == 3
    assert metrics["accuracy"]["per_category"]["clock"]["accuracy"] == 0.0


def test_means_use_params_categories_and_intervals():
    samples = (
        [{"category": "clock", "correct": 1}] * 3
        + [{"category": "clock", "correct": 0}]
        + [{"category": "maze", "correct": 0}] * 4
    )
    samples += [{"category": "water_jugs", "correct": 1}] * 2
    acc = accuracy_summary(samples, ["clock", "maze"], ["water_jugs", "checker_move"])
    assert acc["per_category"]["clock"]["accuracy"] == 0.75
    assert acc["in_domain"]["accuracy"] == pytest.approx(0.375) and acc["in_domain"]["categories"] == ["clock", "maze"]
    assert acc["out_of_domain"]["accuracy"] == 1.0 and acc["out_of_domain"]["categories"] == ["water_jugs"]
    assert acc["mean"]["accuracy"] == pytest.approx((0.75 + 0 + 1) / 3)
    assert acc["in_domain"]["ci95"] == pytest.approx(list(wilson(0.375 * 8, 8)))
    assert accuracy_summary(samples, ["n_queens"], [])["in_domain"] is None


# ------------------------------------------------------------------ behaviour


def flags(text, category="clock", gold="4:15", prompt="mixture"):
    from visreason.rewards import extract_answer

    return behaviour_flags(text, extract_answer(text), category, gold, prompt)


MIXTURE_OK = (
    "<image description>A clock shows 3:15.</image description>"
    "<think>The event starts in 1 hour. So the time is 4:15.</think>"
    "<rethink>Let me verify: 3:15 plus one hour = 4:15.</rethink><answer>4:15</answer>"
)


def test_behaviour_flags_on_hand_written_completions():
    f = flags(MIXTURE_OK)
    assert f["structure"] and f["reflection"] and f["contradiction"] is False
    # Sentences: "A clock shows 3:15." / "The event starts in 1 hour." / "So the time is 4:15." /
    # "Let me verify: 3:15 plus one hour = 4:15." -> only the first names something shown.
    assert f["visual_share"] == pytest.approx(1 / 4)
    # Missing <rethink> breaks the mixture structure; vanilla only needs think + answer.
    plain = "<think>The hour hand is at 3. Therefore 4:15.</think><answer>4:15</answer>"
    assert not flags(plain)["structure"] and flags(plain, prompt="vanilla")["structure"]
    assert not flags(plain + "<answer>4:15</answer>", prompt="vanilla")["structure"]  # two answers
    assert not flags("<answer>4:15</answer><think>x</think>", prompt="vanilla")["structure"]  # wrong order
    fused = "<think><visual>The clock shows 3:15.</visual> So 4:15.</think><answer>4:15</answer>"
    assert flags(fused, prompt="visual_fusion")["structure"] and not flags(plain, prompt="visual_fusion")["structure"]
    assert not flags(plain)["reflection"] and flags("<think>Wait, so 4:15.</think><answer>4:15</answer>")["reflection"]
    assert flags("<think>I double-check it.</think>")["reflection"]


def test_contradiction_definition():
    # The last conclusion sentence says 7, the answer says 5.
    assert (
        flags("<think>Row 3 has 2 cells. The total is 7.</think><answer>5</answer>", "maze", "5")["contradiction"]
        is True
    )
    # Agreeing values; 12:05 and 0:05 are the same clock time for the scorer.
    assert flags("<think>So it is 12:05.</think><answer>0:05</answer>", gold="0:05")["contradiction"] is False
    # No conclusion cue, no answer, or no value: not counted.
    assert flags("<think>The hour hand points at 3:15.</think><answer>4:15</answer>")["contradiction"] is None
    assert flags("<think>So it is 4:15.</think>")["contradiction"] is None
    assert flags("<think>So it is late.</think><answer>4:15</answer>")["contradiction"] is None


def test_behaviour_summary_rates():
    rec = {"id": "c", "category": "clock", "answer": "4:15", "solution": CLOCK_STATE}
    samples = [
        score_sample(rec, "p", Generation(MIXTURE_OK, 40, False), "mixture"),
        score_sample(rec, "p", Generation("<think>So it is 5:15.</think><answer>4:15</answer>", 128, True), "mixture"),
    ]
    b = behaviour_summary(samples)
    assert set(b) == {"all", "clock"}
    clock = b["clock"]
    assert clock["mean_tokens"] == 84 and clock["truncation_rate"] == 0.5 and clock["structure_rate"] == 0.5
    assert clock["self_reflection_rate"] == 0.5 and clock["contradiction_rate"] == 0.5 and clock["contradiction_n"] == 2
    assert clock["visual_reference_rate"] == pytest.approx((1 / 4 + 0) / 2)


# ------------------------------------------------------------------ description fidelity

TOY = {"start_state": [["blue", "yellow", "blue"], ["yellow", "blue"], ["blue", "blue", "yellow"]]}  # think_dot
FLIPPED = {"start_state": [[{"blue": "yellow", "yellow": "blue"}[c] for c in row] for row in TOY["start_state"]]}


def test_description_fact_scores_rank_faithful_wrong_and_listing():
    think_dot = CATEGORIES["think_dot"]
    faithful = think_dot.describe(TOY)
    assert description_fact_scores(faithful, "think_dot", TOY) == (1.0, 1.0)
    assert "top-left disk: blue" in faithful
    wrong = faithful.replace("top-left disk: blue", "top-left disk: yellow")
    assert description_fact_scores(wrong, "think_dot", TOY) == (7 / 8, 7 / 8)
    # Listing every disk in both colours states every fact, and as many false claims.
    listing = ". ".join(think_dot.facts(TOY) + think_dot.facts(FLIPPED))
    assert description_fact_scores(listing, "think_dot", TOY) == (0.5, 1.0)
    # Repeating a claim changes nothing (distinct claims); no claim has no precision.
    assert description_fact_scores(faithful + " " + faithful, "think_dot", TOY) == (1.0, 1.0)
    assert description_fact_scores("The toy has disks.", "think_dot", TOY) == (None, 0.0)


def test_description_fact_scores_need_a_claims_reader(monkeypatch):
    class NoClaims(type(CATEGORIES["think_dot"])):
        claim_pattern = ""  # Puzzle.claims then raises NotImplementedError

    monkeypatch.setitem(CATEGORIES, "no_claims", NoClaims())
    assert description_fact_scores(CATEGORIES["think_dot"].describe(TOY), "no_claims", TOY) == (None, None)


def described(description: str, answer: str) -> str:
    return (
        f"<image description>{description}</image description><think>I count the disks.</think>"
        f"<rethink>Checked.</rethink><answer>{answer}</answer>"
    )


def test_description_fidelity_per_sample_and_per_category():
    rec = {"id": "t", "category": "think_dot", "answer": "5", "solution": TOY}
    faithful = CATEGORIES["think_dot"].describe(TOY)
    wrong = faithful.replace("top-left disk: blue", "top-left disk: yellow")
    completions = [
        described(faithful, "5"),  # right description, right answer
        described(wrong, "5"),  # wrong description, right answer
        described(wrong, "4"),  # wrong description, wrong answer
        "<think>I count.</think><answer>5</answer>",  # no description: not counted
    ]
    samples = [score_sample(rec, "p", Generation(c, 9, False), "mixture") for c in completions]
    flags = [s["behaviour"] for s in samples]
    assert [(f["fact_precision"], f["fact_recall"]) for f in flags] == [(1, 1), (7 / 8, 7 / 8), (7 / 8, 7 / 8)] + [
        (None, None)
    ]
    b = behaviour_summary(samples)["think_dot"]
    assert b["fact_n"] == 3 and b["fact_recall"] == pytest.approx((1 + 7 / 8 + 7 / 8) / 3)
    assert b["fact_precision"] == pytest.approx((1 + 7 / 8 + 7 / 8) / 3)
    # Of the two correct answers with a description, one came from a wrong description.
    assert b["correct_described_n"] == 2 and b["correct_from_wrong_description_rate"] == 0.5
    # Facts stated: the recall, and 0 for the answer without a description, so every answer counts.
    assert [f["facts_stated"] for f in flags] == [1, 7 / 8, 7 / 8, 0.0]
    assert b["facts_stated"] == pytest.approx((1 + 7 / 8 + 7 / 8 + 0) / 4)
    # A prompt that asks for no description is not scored for one.
    vanilla = score_sample(rec, "p", Generation(completions[0], 9, False), "vanilla")
    assert vanilla["behaviour"]["fact_recall"] is None and vanilla["behaviour"]["fact_precision"] is None
    assert vanilla["behaviour"]["facts_stated"] is None


# ------------------------------------------------------------------ the stage on the tiny model


@pytest.fixture(scope="module")
def params():
    p = load_params(scale="smoke")
    p["evaluate"] |= {"max_new_tokens": 6, "batch_size": 4}
    p["captions"] |= {"max_new_tokens": 6, "batch_size": 4}
    return p


@pytest.fixture(scope="module")
def dataset(small_eval_dataset):
    return small_eval_dataset


@pytest.fixture(scope="module")
def oracle_captions(params, dataset, tmp_path_factory):
    from visreason.captions import run_captions

    out = tmp_path_factory.mktemp("captions") / "oracle"
    run_captions(params, data=dataset, captioner="oracle", out=out)
    return out


def read_samples(out):
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


ALL_MODES = ["image", "text", "image+caption", "blank"]


@pytest.fixture(scope="module")
def all_modes(params, dataset, oracle_captions, tiny_model, tmp_path_factory):
    """One call evaluating every mode in turn, as the workflow's evaluation job does."""
    out = tmp_path_factory.mktemp("eval") / "mixture-seed3"
    results = run_evaluate(
        params,
        model=str(tiny_model),
        data=dataset,
        modes=ALL_MODES,
        prompt="mixture",
        tag="mixture-seed3",
        out=out,
        captions=oracle_captions,
    )
    return out, results


@pytest.mark.parametrize("mode", ALL_MODES)
def test_evaluate_tiny_model_all_modes(mode, all_modes, params, dataset, tiny_model):
    tag_out, results = all_modes
    out, metrics = tag_out / mode, results[mode]
    samples = read_samples(out)
    assert len(samples) == metrics["n"] == 9 and json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["mode"] == mode and (metrics["captions"] is not None) == (mode == "image+caption")
    assert set(metrics["accuracy"]["per_category"]) == set(CATEGORIES9)
    assert metrics["accuracy"]["in_domain"]["categories"] == params["categories"]["in_domain"]
    for s in samples:
        assert 0 < s["n_tokens"] <= 6 and s["correct"] in (0, 1) and s["truncated"] == (s["n_tokens"] == 6)
    prompt = samples[0]["prompt"]
    assert ("described below instead of shown" in prompt) == (mode == "text")
    assert prompt.startswith("A caption of the image: ") == (mode == "image+caption")
    if mode == "blank":  # the image mode's prompt, word for word
        records = load_records(dataset)
        assert [s["prompt"] for s in samples] == [format_prompt("mixture", r["question"]) for r in records]
    # The effective settings: every decoding setting the backend applied, and the image resolution.
    assert metrics["backend"] == "transformers" and metrics["decoding"] == transformers_decoding(Sampling(6))
    assert metrics["image_resolution"] == {"min_pixels": 1024, "max_pixels": 9216}
    assert metrics["model_label"] == str(tiny_model)
    assert all(isinstance(s["prompt_tokens"], int) for s in samples)
    assert metrics["prompt_tokens"]["max"] == max(s["prompt_tokens"] for s in samples)
    assert {"fact_precision", "fact_recall", "correct_from_wrong_description_rate"} <= set(metrics["behaviour"]["all"])

    import mlflow

    runs = mlflow.search_runs(filter_string=f"tags.mode = '{mode}' and tags.reward = 'mixture'", output_format="list")
    assert runs and runs[0].data.tags["seed"] == "3" and runs[0].info.run_name == f"mixture-seed3/{mode}"
    assert "accuracy/mean" in runs[0].data.metrics and "input.data" in runs[0].data.tags
    assert metrics["mlflow_run_id"] == runs[0].info.run_id  # the report's provenance names it


def test_a_mode_alone_samples_what_it_samples_beside_others(params, dataset, tiny_model, tmp_path):
    """The batch seed depends on the puzzles only, so one mode run alone, or in another order,
    gives the samples it gives in the workflow's multi-mode job."""
    sampled = params | {"evaluate": params["evaluate"] | {"temperature": 1.0}}

    def evaluate(modes, out):
        return run_evaluate(
            sampled, model=str(tiny_model), data=dataset, modes=modes, prompt="mixture", tag="t", out=tmp_path / out
        )

    alone = evaluate(["blank"], "a")
    pair, reverse = evaluate(["blank", "image"], "b"), evaluate(["image", "blank"], "c")
    assert alone["blank"]["decoding"]["do_sample"] is True
    completions = {k: [s["completion"] for s in read_samples(tmp_path / k / "blank")] for k in "abc"}
    assert completions["a"] == completions["b"] == completions["c"]
    assert pair["image"]["accuracy"] == reverse["image"]["accuracy"]


def test_modes_must_be_distinct_and_known(params, dataset, tiny_model, tmp_path):
    for modes, message in (([], "one or more distinct modes"), (["image", "image"], "one or more distinct modes")):
        with pytest.raises(VisreasonError, match=message):
            run_evaluate(
                params, model=str(tiny_model), data=dataset, modes=modes, prompt="vanilla", tag="b", out=tmp_path
            )
    assert not any(tmp_path.iterdir())


def test_evaluate_multiple_choice_shows_options(params, dataset, tiny_model, tmp_path):
    run_evaluate(
        params,
        model=str(tiny_model),
        data=dataset,
        modes=["text"],
        prompt="vanilla",
        tag="base",
        out=tmp_path,
        answer_format="multiple_choice",
    )
    assert all("Options: " in s["prompt"] for s in read_samples(tmp_path / "text"))


def test_resume_only_generates_the_rest(params, dataset, tiny_model, tmp_path):
    def evaluate(out):  # OUT/image
        return run_evaluate(
            params, model=str(tiny_model), data=dataset, modes=["image"], prompt="vanilla", tag="base", out=out.parent
        )["image"]

    full = tmp_path / "full" / "image"
    evaluate(full)
    done = read_samples(full)
    # Simulate a kill after 5 samples: settings and part of samples.jsonl written, a last
    # line cut off mid-write, no metrics.json. Marked completions tell redone samples apart.
    part = tmp_path / "part" / "image"
    part.mkdir(parents=True)
    shutil.copy(full / "settings.json", part / "settings.json")
    kept = [dict(s, completion="<answer>KEPT</answer>") for s in done[:5]]
    lines = "".join(json.dumps(s) + "\n" for s in kept) + json.dumps(done[5])[:40]
    (part / "samples.jsonl").write_text(lines)
    metrics = evaluate(part)
    resumed = {s["id"]: s for s in read_samples(part)}
    assert len(resumed) == len(read_samples(part)) == metrics["n"] == 9
    assert all(resumed[s["id"]]["completion"] == "<answer>KEPT</answer>" for s in kept)
    assert all(resumed[s["id"]] == s for s in done[5:])  # greedy: the rest is what a full run gives

    # A finished evaluation rerun starts over; so does one with other settings.
    evaluate(part)
    assert all("KEPT" not in s["completion"] for s in read_samples(part))


def test_blank_image_has_the_size_of_the_image_and_nothing_on_it(dataset):
    record = load_records(dataset)[0]
    path = dataset / record["image"]
    blank = load_image(Request("q", path, blank=True))
    with Image.open(path) as im:
        assert blank.size == im.size and blank.mode == "RGB"
    assert blank.getcolors() == [(blank.width * blank.height, (255, 255, 255))]  # one colour: white
    assert load_image(Request("q", path)).getcolors(maxcolors=1 << 20) != blank.getcolors()


def _with_sha(folder, name: str) -> None:
    """Record `name`'s new sha256 in the model's visreason_model.json (a deliberate edit, not damage)."""
    summary = json.loads((folder / "visreason_model.json").read_text())
    summary["sha256"][name] = sha256_file(folder / name)
    (folder / "visreason_model.json").write_text(json.dumps(summary))


def test_the_models_own_generation_config_does_not_leak_in(dataset, tiny_model, tmp_path):
    """A model whose generation_config.json asks for sampling, penalties and other lengths decodes exactly
    as the plain tiny model does: only its token ids are read."""
    leaky = tmp_path / "leaky"
    shutil.copytree(tiny_model, leaky)
    config = json.loads((leaky / "generation_config.json").read_text())
    config |= {
        "do_sample": True,
        "temperature": 5.0,
        "top_k": 2,
        "repetition_penalty": 50.0,
        "no_repeat_ngram_size": 1,
        "min_new_tokens": 6,
        "max_new_tokens": 2,
    }
    (leaky / "generation_config.json").write_text(json.dumps(config))
    _with_sha(leaky, "generation_config.json")
    reqs = [Request(format_prompt("vanilla", r["question"]), dataset / r["image"]) for r in load_records(dataset)]
    sampling = Sampling(max_new_tokens=6)
    plain = TransformersBackend(str(tiny_model), sampling).generate(reqs, seed=0)
    backend = TransformersBackend(str(leaky), sampling)
    assert backend.generate(reqs, seed=0) == plain
    # The check can fail: given only do_sample=False, transformers takes the rest from the model's config.
    from transformers import AutoModelForImageTextToText

    naive = AutoModelForImageTextToText.from_pretrained(leaky)
    images = [load_image(q) for q in reqs]
    texts = [backend.prompt_text(q) for q in reqs]
    inputs = backend.processor(text=texts, images=images, padding=True, padding_side="left", return_tensors="pt")
    out = naive.generate(**inputs, do_sample=False, max_new_tokens=6, pad_token_id=backend.pad_id)
    assert [backend._decode(row) for row in out[:, inputs["input_ids"].shape[1] :].tolist()] != plain


class FakeVLLM:
    """The two vLLM classes the backend uses, recording what they are given."""

    def __init__(self):
        self.engine, self.calls = None, []
        fake = self

        class LLM:
            def __init__(self, **kwargs):
                fake.engine = kwargs

            def generate(self, prompts, params, use_tqdm):
                fake.calls.append((prompts, params.kwargs))
                done = SimpleNamespace(text="<answer>1</answer>", token_ids=[5, 6, 7], finish_reason="stop")
                return [SimpleNamespace(outputs=[done]) for _ in prompts]

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        self.module = SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams)


def test_vllm_backend_is_given_every_setting(monkeypatch, dataset, tiny_model):
    fake = FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    sampling = Sampling(max_new_tokens=6, temperature=0.5, top_p=0.9)
    backend = VLLMBackend(str(tiny_model), sampling, max_prompt_tokens=300, min_pixels=1024, max_pixels=4096)
    assert fake.engine["max_model_len"] == 306 and fake.engine["generation_config"] == "vllm"
    assert fake.engine["mm_processor_kwargs"] == {"min_pixels": 1024, "max_pixels": 4096}
    image = dataset / load_records(dataset)[0]["image"]
    gens = backend.generate([Request("q", image, blank=True), Request("q2")], seed=7)
    assert gens == [Generation("<answer>1</answer>", 3, False)] * 2
    prompts, settings = fake.calls[0]
    assert settings == vllm_decoding(sampling) | {"seed": 7}
    assert settings["top_k"] == -1 and settings["repetition_penalty"] == 1.0 and settings["top_p"] == 0.9
    blank = prompts[0]["multi_modal_data"]["image"]
    assert blank.getcolors() == [(blank.width * blank.height, (255, 255, 255))]
    assert "multi_modal_data" not in prompts[1]


def test_evaluate_sizes_the_vllm_context_from_the_longest_prompt(monkeypatch, params, dataset, tiny_model, tmp_path):
    fake = FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    monkeypatch.setattr("visreason.backends.vllm_available", lambda: True)
    metrics = run_evaluate(
        params,
        model=str(tiny_model),
        data=dataset,
        modes=["image"],
        prompt="mixture",
        tag="base",
        out=tmp_path,
        backend="vllm",
    )["image"]
    longest = metrics["prompt_tokens"]["max"]
    assert (
        metrics["backend"] == "vllm" and fake.engine["max_model_len"] == longest + params["evaluate"]["max_new_tokens"]
    )
    assert metrics["decoding"] == vllm_decoding(Sampling(6)) | {"max_model_len": longest + 6}


def test_batched_generation_matches_one_at_a_time(params, dataset, tiny_model):
    """Left padding: a prompt's greedy output does not depend on the others in its batch.
    (Image batches are checked by the resume test, whose batches differ from the full run's.)"""
    from dataclasses import replace

    from visreason.generation import Request, Sampling, TransformersBackend
    from visreason.records import load_records
    from visreason.rewards import format_prompt

    # Clock descriptions are short, maze ones long: the batch needs padding.
    recs = [r for r in load_records(dataset) if r["category"] in ("clock", "maze", "n_queens")]
    reqs = [Request(format_prompt("vanilla", r["question"], description=r["description"])) for r in recs]
    backend = TransformersBackend(str(tiny_model), Sampling(max_new_tokens=6))
    assert backend.generate(reqs, seed=0) == [backend.generate([q], seed=0)[0] for q in reqs]

    backend.sampling = replace(backend.sampling, temperature=1.0, top_p=0.9)
    assert backend.generate(reqs, seed=1) == backend.generate(reqs, seed=1)  # seeded sampling
    with pytest.raises(VisreasonError, match="top_p"):
        Sampling(top_p=0)


# ------------------------------------------------------------------ bad input


def test_bad_inputs_fail_before_generation(params, dataset, oracle_captions, tiny_model, tmp_path, capsys):
    common = ["--data", str(dataset), "--prompt", "vanilla", "--tag", "base"]
    out = tmp_path / "out"
    cases = [
        (["--model", str(tmp_path / "no-such-model"), "--mode", "image", "--out", str(out)], "no-such-model"),
        (["--model", str(tiny_model), "--mode", "image+caption", "--out", str(out)], "needs --captions"),
        (
            ["--model", str(tiny_model), "--mode", "image+caption", "--captions", str(tmp_path), "--out", str(out)],
            "captions not found",
        ),
        (["--model", "claude:", "--mode", "text", "--out", str(out)], "missing the model id"),
    ]
    for args, message in cases:
        assert main(["evaluate", *common, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()
    for bad in (["--mode", "video"], ["--mode", "image", "--prompt", "nope"]):  # argparse's choices: exit 2
        with pytest.raises(SystemExit, match="2"):
            main(["evaluate", *common, "--model", str(tiny_model), *bad, "--out", str(out)])
    with pytest.raises(VisreasonError, match="unknown mode 'video'"):
        run_evaluate(params, model=str(tiny_model), data=dataset, modes=["video"], prompt="vanilla", tag="b", out=out)


def test_split_without_descriptions_or_captions_is_refused(params, dataset, oracle_captions, tiny_model, tmp_path):
    bad = tmp_path / "data"
    shutil.copytree(dataset, bad)
    records = [json.loads(line) for line in (bad / "records.jsonl").read_text().splitlines()]
    (bad / "records.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "description"}) + "\n" for r in records)
    )
    with pytest.raises(VisreasonError, match="description"):
        run_evaluate(
            params, model=str(tiny_model), data=bad, modes=["text"], prompt="vanilla", tag="base", out=tmp_path / "o1"
        )
    caps = tmp_path / "caps"
    shutil.copytree(oracle_captions, caps)
    lines = (caps / "captions.jsonl").read_text().splitlines()
    (caps / "captions.jsonl").write_text("\n".join(lines[1:]) + "\n")
    missing = json.loads(lines[0])["id"]
    with pytest.raises(VisreasonError, match=f"record {missing}: no caption"):
        run_evaluate(
            params,
            model=str(tiny_model),
            data=dataset,
            modes=["image+caption"],
            captions=caps,
            prompt="vanilla",
            tag="base",
            out=tmp_path / "o2",
        )
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_claude_without_key_is_one_clear_line(dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code = main(
        [
            "evaluate",
            "--model",
            "claude:claude-3-5-sonnet-20241022",
            "--data",
            str(dataset),
            "--mode",
            "text",
            "--prompt",
            "vanilla",
            "--tag",
            "claude",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "cannot run" in err
