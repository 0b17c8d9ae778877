"""The study's six reward designs and the answer scorer, checked against hand-computed values."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visreason import VisreasonError, rewards
from visreason.answers import partial_credit, score_answer
from visreason.cli import main
from visreason.rewards import (
    DESIGNS,
    blocks,
    extract_answer,
    format_prompt,
    get_reward,
    parse,
    reward_terms,
    score_designs,
    sentences,
    tag_score,
)

T1, T2, T3 = math.tanh(1), math.tanh(2), math.tanh(3)
NAMES = list(DESIGNS)
# The study's six designs; the perception-aware ones and the random arm: tests/test_rewards_perception.py
SIX = NAMES[:6]

# image description: U=2 | think: 3 lines, U=3 | visual: U=1 | rethink: U=1, D=1 | answer 6:03
TYPICAL = (
    "<image description>A clock. Hands at 4 and 23.</image description>\n"
    "<think>Add 100 minutes.\n<visual>Hour hand at 4.</visual>\nSo 6:03.</think>\n"
    "<rethink>Yes. yes.</rethink>\n"
    "<answer> 6:03 </answer>"
)


# -- Parsing ----------------------------------------------------------------------


def test_sentence_split_rules():
    text = "Pi is 3.14 exactly. Is it?Yes!  e.g. this\nnew   line\r\nWow!!! Next...  end.\n\n"
    assert sentences(text) == [
        "Pi is 3.14 exactly.",
        "Is it?Yes!",
        "e.g.",
        "this",
        "new   line",
        "Wow!!!",
        "Next...",
        "end.",
    ]
    assert sentences(" \n\t. ") == ["."]
    assert sentences("") == []


def test_unique_and_duplicate_sentences():
    assert tag_score("One. Two. Three.") == pytest.approx(T3)  # U=3, D=0
    assert tag_score("One. Two. One.") == pytest.approx(T2 - T1)  # U=2, D=1
    # Duplicates after lower-casing and collapsing whitespace: U=2, D=2.
    assert tag_score("A   b.  a B.\nc!\n  C! ") == pytest.approx(0.0)
    assert tag_score("one\none.") == pytest.approx(T2)  # the period is part of the sentence
    assert tag_score("Same. " * 40) == pytest.approx(T1 - math.tanh(39))
    assert tag_score("") == tag_score(" \n ") == tag_score(None) == 0.0


def test_blocks_first_closing_tag_left_to_right():
    assert blocks("</t><t>a</t><t>b", "t") == ["a"]
    assert blocks("<t>a <t>b</t> c</t><t>d</t>", "t") == ["a <t>b", "d"]
    assert blocks("<T>a</T>", "t") == []  # tags are literal, case-sensitive


def test_nested_markup_is_kept_verbatim():
    parsed = parse("<think>a. <think>b.</think> c.</think>")
    assert parsed.think == pytest.approx(T2)  # "a.", "<think>b."


def test_visual_blocks_only_inside_first_think():
    text = "<visual>Out.</visual><think>In. <visual>A.</visual> <visual>B.</visual></think>"
    text += "<think><visual>C.</visual></think>"
    assert parse(text).visual == pytest.approx(T2)  # "A.\nB."
    assert parse("<visual>Out.</visual><think>No visual.</think>").visual == 0.0
    assert parse("<think>x</think><think><visual>Later.</visual></think>").visual == 0.0
    assert parse("<visual>x.</visual>").visual == 0.0  # no think at all


def test_missing_and_unclosed_tags_score_zero():
    parsed = parse("<image description>Open. <think>Also open. <rethink>Still. <answer>5")
    assert parsed == (0.0, 0.0, 0.0, 0.0, None, None)


def test_answer_needs_exactly_one_block():
    assert extract_answer("<answer> 5 </answer>") == "5"
    assert extract_answer("no answer 5") is None
    assert extract_answer("<answer>5</answer> <answer>5</answer>") is None
    assert extract_answer("<answer>5</answer> <answer>6") == "5"  # an unclosed tag is no block
    assert extract_answer("<answer><answer>4</answer></answer>") == "<answer>4"
    assert extract_answer("<answer> </answer>") == ""
    assert extract_answer(None) is None
    for name in SIX:
        assert get_reward(name)(["<answer>5</answer><answer>5</answer>"], ["5"], ["maze"]) == [0.0]
        assert get_reward(name)(["5"], ["5"], ["maze"]) == [0.0]


# -- The scorer -------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("12:05", "0:05", 1.0),
        ("0:05", "12:05", 1.0),
        ("It is 04:23 PM", "4:23", 1.0),
        ("4:23 or 5:10", "4:23", 1.0),  # the first H:MM
        ("5:10 or 4:23", "4:23", 0.0),
        ("16:23", "4:23", 0.0),  # only 12 and 0 are the same hour
        ("123:45", "23:45", 0.0),  # not an H:MM
        ("4:2", "4:02", 0.0),
        ("noon", "noon", 0.0),  # a gold answer that does not parse never scores
        ("4:23", "", 0.0),
    ],
)
def test_score_answer_clock(pred, gold, expected):
    assert score_answer(pred, gold, "clock") == expected


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("7", "07", 1.0),
        ("There are 12 moves", "12", 1.0),
        ("5.5", "5", 1.0),  # the first run of digits
        ("1 2", "12", 0.0),
        ("three", "3", 0.0),
        ("0" * 10_000 + "5", "5", 1.0),  # beyond Python's int/str limit: no error
        ("9" * 10_000, "5", 0.0),
    ],
)
def test_score_answer_integers(pred, gold, expected):
    assert score_answer(pred, gold, "maze") == expected


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("Left.", "left", 1.0),
        ("  LEFT ", "left.", 1.0),
        ("left..", "left", 0.0),
        ("right", "left", 0.0),
        ("", "", 0.0),
        (".", ".", 0.0),
    ],
)
def test_score_answer_other(pred, gold, expected):
    assert score_answer(pred, gold, "board_tile") == expected


def test_score_answer_bad_types():
    assert score_answer(None, "5", "maze") == score_answer("5", None, "maze") == score_answer(5, "5", "maze") == 0.0
    assert score_answer("5", 5, "maze") == 1.0 and partial_credit("6", 5, "maze") == 0.5  # an integer column
    assert score_answer("1", True, "maze") == score_answer("5", 5.0, "maze") == 0.0
    assert partial_credit(None, "5", "maze") == partial_credit("4:23", None, "clock") == 0.0


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("6:23", "4:23", 0.5 * (1 - 2 / 5) + 0.5),  # dh = 2
        ("7:23", "4:23", 0.5),  # dh = 3
        ("4:33", "4:23", 0.5 + 0.5 * (1 - 10 / 20)),  # dm = 10
        ("4:34", "4:23", 0.5),  # dm = 11
        ("12:05", "0:05", 1.0),
        ("11:58", "0:02", 0.5 * 0.8 + 0.5 * 0.8),  # dh = 1, dm = 4 across the dial
        ("2:00", "11:00", 0.5),  # dh = 3 across 12
        ("7:34", "4:23", 0.0),
        ("no time", "4:23", 0.0),
    ],
)
def test_partial_credit_clock(pred, gold, expected):
    assert partial_credit(pred, gold, "clock") == pytest.approx(expected)


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("5", "5", 1.0),
        ("6", "5", 0.5),
        ("10", "5", 1 / 6),
        ("0", "5", 1 / 6),
        ("11", "5", 0.0),
        ("9" * 5000, "5", 0.0),
        ("x", "5", 0.0),
    ],
)
def test_partial_credit_integers(pred, gold, expected):
    assert partial_credit(pred, gold, "maze") == pytest.approx(expected)


def test_partial_credit_other_is_exact():
    assert partial_credit("Left.", "left", "board_tile") == 1.0
    assert partial_credit("right", "left", "board_tile") == 0.0


# -- The six designs ----------------------------------------------------------------


def test_design_table():
    # The weights themselves are the module docstring's table (a doctest, read from DESIGNS).
    assert SIX == ["vanilla", "only_accuracy", "mixture", "continuous", "visual_fusion", "no_accuracy"]
    for name, design in DESIGNS.items():
        assert design.function.__name__ == name
        assert sum(design.weights.values()) == pytest.approx(1.0)
        assert set(design.weights) <= {*rewards.TERMS, rewards.RANDOM}
        assert min(design.weights.values()) > 0
    assert DESIGNS["no_accuracy"].function.bounds == pytest.approx((-0.9, 1.0))
    assert DESIGNS["only_accuracy"].function.bounds == (0.0, 1.0)


def test_hand_computed_typical_completion():
    fmt = {"image_description": T2, "think": T3, "rethink": 0.0, "visual": T1}
    expected = {
        "vanilla": 0.1 * T3 + 0.9,
        "only_accuracy": 1.0,
        "mixture": 0.06 * T2 + 0.06 * T3 + 0.8,
        "continuous": 0.06 * T2 + 0.06 * T3 + 0.8,
        "visual_fusion": 0.1 * T3 + 0.1 * T1 + 0.8,
        "no_accuracy": 0.3 * T2 + 0.3 * T3 + 0.1,
    }
    assert parse(TYPICAL)[:4] == pytest.approx(tuple(fmt.values()))
    for name in SIX:
        assert get_reward(name)([TYPICAL], ["6:03"], ["clock"]) == pytest.approx([expected[name]])
    wrong = TYPICAL.replace(" 6:03 ", "6:05")  # dm = 2: partial credit 0.5 + 0.5 * 0.9
    assert get_reward("mixture")([wrong], ["6:03"], ["clock"]) == pytest.approx([0.06 * T2 + 0.06 * T3])
    assert get_reward("continuous")([wrong], ["6:03"], ["clock"]) == pytest.approx([0.06 * T2 + 0.06 * T3 + 0.8 * 0.95])
    assert get_reward("no_accuracy")([wrong], ["6:03"], ["clock"]) == pytest.approx([expected["no_accuracy"]])


def test_reward_terms_and_shared_parse_agree():
    terms = reward_terms("mixture", [TYPICAL, ""], "6:03", "clock")
    assert list(terms) == ["image_description", "think", "rethink", "accuracy", "total"]
    assert terms["accuracy"] == [1.0, 0.0] and terms["rethink"] == [0.0, 0.0]
    everything = score_designs(SIX, [TYPICAL, "<answer>6:03</answer>", ""], "6:03", "clock")
    for name in SIX:
        assert everything[name]["total"] == get_reward(name)([TYPICAL, "<answer>6:03</answer>", ""], "6:03", "clock")


def test_chat_message_completions():
    text = "<think>Ok.</think><answer>5</answer>"
    as_chat = [
        [{"role": "assistant", "content": text}],
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "<think>Ok.</think>"},
                    {"type": "text", "text": "<answer>5</answer>"},
                ],
            }
        ],
        {"role": "assistant", "content": text},
    ]
    assert get_reward("vanilla")(as_chat, ["5"] * 3, ["maze"] * 3) == pytest.approx([0.1 * T1 + 0.9] * 3)
    odd = [
        [{"role": "assistant", "content": None}],
        [{"role": "user", "content": text}],
        None,
        42,
        [{"content": [{"type": "image"}]}],
    ]
    for name in SIX:
        assert get_reward(name)(odd, ["5"] * 5, ["maze"] * 5) == [0.0] * 5


def test_trl_keyword_call_and_per_term_metrics():
    logged = {}
    out = get_reward("visual_fusion")(
        prompts=["p"], completions=[TYPICAL], completion_ids=[[1]], answer=["6:03"], category=["clock"],
        trainer_state=None, log_extra=lambda *a: None, log_metric=lambda k, v: logged.__setitem__(k, v),
    )  # fmt: skip
    assert out == pytest.approx([0.1 * T3 + 0.1 * T1 + 0.8])
    assert logged == pytest.approx(
        {"rewards/visual_fusion/think": T3, "rewards/visual_fusion/visual": T1, "rewards/visual_fusion/accuracy": 1.0}
    )


def test_unknown_name_and_bad_columns():
    for call in (
        lambda: get_reward("mixtur"),
        lambda: reward_terms("mixtur", [], [], []),
        lambda: format_prompt("mixtur", "q"),
    ):
        with pytest.raises(
            VisreasonError,
            match="unknown reward 'mixtur'.*vanilla, only_accuracy, mixture, continuous, visual_fusion, no_accuracy",
        ):
            call()
    with pytest.raises(VisreasonError, match="'answer' has 1 values for 2 completions"):
        get_reward("mixture")(["a", "b"], ["5"], "maze")
    assert get_reward("only_accuracy")([], [], []) == []


@pytest.mark.parametrize(
    "completions, kind",
    [(None, "NoneType"), ((c for c in ["<answer>5</answer>"]), "generator"), ("<answer>5</answer>", "str"),
     ({"role": "assistant", "content": "<answer>5</answer>"}, "dict"), (5, "int")],
)  # fmt: skip
def test_completions_must_be_a_list_or_tuple(completions, kind):
    for name in NAMES:
        with pytest.raises(VisreasonError, match=f"'completions' must be a list or tuple of completions, got {kind}$"):
            get_reward(name)(completions, "5", "maze", solution={}, question="q", step=0)
    with pytest.raises(VisreasonError, match="'completions' must be a list or tuple"):
        score_designs(SIX, completions, "5", "maze")
    assert get_reward("vanilla")(("<answer>5</answer>",), "5", "maze") == [0.9]  # a tuple is a batch


# -- Properties -----------------------------------------------------------------------

TOKENS = [f"<{t}>" for t in ("image description", "think", "rethink", "visual", "answer")]
TOKENS += [t.replace("<", "</") for t in TOKENS] + [
    ". ",
    "! ",
    "?",
    "\n",
    " ",
    "5",
    "4:23",
    "12:05",
    "Same.",
    "ΑΣ.",
    "İ",
    "\u2028",
    "\x00",
    "\t",
    "\x1f",
    "  ",
    "\r\n",
]
tag_soup = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)), max_size=60).map("".join)
completions = st.one_of(st.text(), tag_soup)
golds = st.one_of(st.sampled_from(["5", "12", "4:23", "0:05", "left"]), st.text(max_size=6))
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(st.lists(completions, min_size=1, max_size=4), golds, st.sampled_from(["clock", "maze", "board_tile", None]))
def test_no_reward_raises_and_values_are_bounded(texts, gold, category):
    batch = texts + [[{"role": "assistant", "content": t}] for t in texts]
    scores = score_designs(SIX, batch, gold, category)
    for name in SIX:
        assert get_reward(name)(batch, gold, category) == scores[name]["total"]
        low, high = DESIGNS[name].function.bounds
        assert all(low <= v <= high for v in scores[name]["total"]), (name, scores[name])
        for term, values in scores[name].items():
            bound = (0.0, 1.0) if term in rewards.ANSWER_TERMS else (-1.0, 1.0)
            assert all(bound[0] <= v <= bound[1] for v in values)


@fast
@given(completions, golds, st.sampled_from(["clock", "maze", "board_tile"]))
def test_each_term_reads_only_its_fields(text, gold, category):
    assert set(rewards.TERM_FIELDS) == set(rewards.TERMS)
    row = rewards.Row(gold, category, None, None, None)
    full = parse(text)
    for term in set(rewards.TERMS) - {"fact_f1", "sufficiency"}:  # those two: tests/test_rewards_perception.py
        assert rewards.TERMS[term](parse(text, rewards.TERM_FIELDS[term]), row) == rewards.TERMS[term](full, row)


@fast
@given(completions)
def test_tag_score_matches_the_sentence_definition(text):
    keys = [" ".join(s.lower().split()) for s in sentences(text)]
    assert tag_score(text) == math.tanh(len(set(keys))) - math.tanh(len(keys) - len(set(keys)))


# Times on and off a 12-hour dial (hours to 99, minutes to 99), digit runs, and free text.
times = st.builds("{}:{:02d}".format, st.integers(0, 99), st.integers(0, 99))
answers = st.one_of(times, st.integers(0, 40).map(str), st.text(max_size=8), times.map(lambda t: f"It is {t}."))


@settings(max_examples=400, deadline=None)
@given(answers, st.one_of(times, answers), st.sampled_from(["clock", "maze", "other"]))
def test_full_partial_credit_exactly_when_exact(pred, gold, category):
    exact, partial = score_answer(pred, gold, category), partial_credit(pred, gold, category)
    assert exact in (0.0, 1.0) and 0.0 <= partial <= 1.0
    assert (partial == 1.0) == (exact == 1.0), (pred, gold, category, exact, partial)


@pytest.mark.parametrize(
    "pred, gold",
    [("15:55", "3:55"), ("3:55", "15:55"), ("4:75", "4:15"), ("24:00", "0:00"), ("13:00", "1:00")],
)
def test_partial_credit_off_the_dial_is_exact(pred, gold):
    assert score_answer(pred, gold, "clock") == partial_credit(pred, gold, "clock") == 0.0
    assert score_answer(pred, pred, "clock") == partial_credit(pred, pred, "clock") == 1.0


def test_pathological_inputs_are_linear_and_bounded():
    n = 100_000
    texts = [
        "<think>" * n,  # openings, no closing
        "<answer></answer>" * n,  # many answers
        "<think>" + "<visual>x.</visual>" * n + "</think><answer>5</answer>",  # many visual blocks
        "<think>" + "5 " * n + "</think>" + "<answer>" + "9" * n + "</answer>",  # a huge number
        "<rethink>" + "\u00a0.\u2028ΣΑΣ. " * n + "</rethink>",  # unicode whitespace and line breaks
    ]
    scores = score_designs(SIX, texts, "5", "maze")
    # think is one sentence ("." is followed by "<"); visual is "x." and n - 1 repeats
    assert scores["visual_fusion"]["think"][2] == pytest.approx(T1)
    assert scores["visual_fusion"]["visual"][2] == pytest.approx(T1 - 1.0)
    for name in SIX:
        low, high = DESIGNS[name].function.bounds
        assert all(low <= v <= high for v in scores[name]["total"])
    assert scores["continuous"]["partial_credit"][3] == 0.0


# -- Prompts --------------------------------------------------------------------------


def test_prompts_name_each_designs_tags():
    assert DESIGNS["only_accuracy"].prompt == DESIGNS["vanilla"].prompt
    for name in SIX:
        prompt = format_prompt(name, "What time is it?")
        assert prompt.startswith("What time is it?") and "<think>" in prompt and "<answer>" in prompt
        assert ("<image description>" in prompt) == (name in ("mixture", "continuous", "no_accuracy"))
        assert ("<rethink>" in prompt) == (name in ("mixture", "continuous", "no_accuracy"))
        assert ("<visual>" in prompt) == (name == "visual_fusion")
        assert "the image" in prompt or name in ("vanilla", "only_accuracy")


def test_prompt_options_and_text_mode():
    prompt = format_prompt(
        "mixture", "How many moves?", options=["1", "4", "2"], description="A 3 x 3 grid, box at (1, 2)."
    )
    assert prompt.startswith("The puzzle state is described below instead of shown:\nA 3 x 3 grid, box at (1, 2).\n")
    assert "Options: 1, 4, 2." in prompt and "the image" not in prompt and "the puzzle state inside" in prompt
    for kwargs in (
        {"options": []},
        {"options": ["1", " "]},
        {"options": "12"},
        {"description": ""},
        {"description": 3},
    ):
        with pytest.raises(VisreasonError, match="format_prompt"):
            format_prompt("vanilla", "q", **kwargs)
    with pytest.raises(VisreasonError, match="question"):
        format_prompt("vanilla", "  ")


# -- Audit ----------------------------------------------------------------------------


def test_audit_command_writes_table_and_flags(tmp_path, capsys):
    out = tmp_path / "rewards" / "audit.md"
    assert main(["rewards", "audit", "--out", str(out)]) == 0
    table = out.read_text()
    summary = json.loads((tmp_path / "rewards" / "audit.json").read_text())
    assert "| `correct_well_formed` |" in table and "⚑" in table and "## Flags" in table
    flagged = {(f["reward"], f["probe"]): f for f in summary["flags"]}
    assert flagged["only_accuracy", "correct_no_reasoning"]["expected"]
    assert flagged["no_accuracy", "wrong_verbose"]["expected"]
    assert flagged["mixture", "listing_attack"]["expected"]  # Mixture pays for sentences, not for facts
    assert ("mixture", "padded_repetition") not in flagged and ("vanilla", "empty") not in flagged
    assert summary["n_unexpected"] == 0 and summary["golds"]["clock"] == "4:23"
    assert summary["probe_chars"]["huge_100k"] == 100_000
    assert set(summary["scores"]) == set(DESIGNS)
    for reward, categories in summary["not_applicable"].items():  # the perception designs, where unreadable
        assert reward in ("fact_f1", "sufficiency")
        assert categories and not set(categories) & set(summary["scores"][reward]["correct_well_formed"])
    assert "0 unexpected" in capsys.readouterr().out
    assert main(["rewards", "audit", "--out", str(tmp_path / "audit.json")]) == 2


def test_audit_generates_its_banks_without_the_released_records(tmp_path):
    from visreason.params import load_params
    from visreason.rewards_audit import N_GENERATED, audit, puzzle_banks, to_markdown

    params = load_params(scale="smoke")
    params["data"]["eval"]["local_path"] = str(tmp_path)
    banks, sources = puzzle_banks(params)
    assert set(sources.values()) == {"generated"} and all(len(b) == N_GENERATED for b in banks.values())
    result = audit(banks, sources)
    assert result["n_unexpected"] == 0 and "from generated" in to_markdown(result)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "clock.json").write_text("not json\n")
    with pytest.raises(VisreasonError, match="clock.json: line 1: not a record"):
        puzzle_banks(params)


def test_caption_prompt_keeps_the_image_and_precedes_the_question():
    text = rewards.format_prompt("mixture", "What time is it?", caption="A clock showing 2:43.")
    assert text.index("A caption of the image: A clock showing 2:43.") < text.index("What time is it?")
    assert "instead of shown" not in text and "describe the image" in text
    with pytest.raises(VisreasonError, match="caption"):
        rewards.format_prompt("mixture", "What time is it?", caption="  ")
