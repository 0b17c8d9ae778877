"""The study's settings: `params.yaml` checked against the schema and the registries.

Every command and the Snakefile load params through `load_params` (or `validate`
plus `config.resolve`), which adds to `visreason.config` the checks of names
against the registries: the puzzle categories and the reward designs. `validate`
resolves every scale, so a mistake in the paper scale stops the smoke run too. This
module also holds the study's small shared vocabulary: the evaluation input modes
and the run tags (`base`, `<reward>-seed<seed>`) that name trained models.
"""

from __future__ import annotations

from pathlib import Path

from visreason import VisreasonError
from visreason.config import DEFAULT_PARAMS, check_schema, merge_scale, read_yaml, resolve, resolve_categories
from visreason.puzzles import CATEGORIES
from visreason.rewards import DESIGNS

# The values that settings and command options take, named once (the schema lists the same).
MODES = ("image", "text", "image+caption", "blank")  # image; oracle description; image and caption; blank image
ANSWER_FORMATS = ("open", "multiple_choice")
BACKENDS = ("auto", "transformers", "vllm")
CAPTIONERS = ("oracle", "model")
REWARD_DESIGNS = tuple(DESIGNS)
BASE_TAG = "base"
_SEED = "-seed"


def validate(params: object, source: str = "params.yaml") -> None:
    """Raise VisreasonError naming the first invalid key: the schema first, then, at every
    scale, the registry names and the resolved categories."""
    check_schema(params, source)
    for scope, section in [("", params), *((f"scales.{k}.", v) for k, v in params["scales"].items())]:
        _check(section.get("rewards", {}), DESIGNS, f"{scope}rewards", source)
    for scale in [params["scale"], *(s for s in params["scales"] if s != params["scale"])]:
        # The file's own scale is what the file says; another scale's errors come from its overrides.
        where = source if scale == params["scale"] else f"{source} (scale '{scale}')"
        try:
            merged = merge_scale(params, scale)
            check_names(merged, where)
            resolve_categories(merged)
        except VisreasonError as err:
            raise VisreasonError(str(err).replace("params:", f"{where}:", 1)) from None


def check_names(params: dict, source: str) -> None:
    """Every category of the chosen set and training preset is registered. Sets not chosen
    are checked when they are chosen: they may name categories this version lacks."""
    cats, train = params["categories"], params["data"]["train"]
    if cats["set"] in cats["sets"]:
        _check(cats["sets"][cats["set"]], CATEGORIES, f"categories.sets.{cats['set']}", source)
    for category in train["presets"].get(train["preset"], {}):
        _check([category], CATEGORIES, f"data.train.presets.{train['preset']}.{category}", source)
    check_design_settings(params["rewards"], source)


def check_design_settings(rewards: dict, source: str) -> None:
    """Each design in the sweep sets every setting it takes itself (fact_f1's `fact_weight`), and no
    other design's: the schema admits these keys under any design."""
    own = {key: name for name, design in DESIGNS.items() for key in design.settings}
    for name, settings in rewards.items():
        for key in DESIGNS[name].settings:
            if key not in (settings or {}):
                raise VisreasonError(f"{source}: missing key 'rewards.{name}.{key}' (the {name} design reads it)")
        for key in settings or {}:
            if key in own and own[key] != name:
                raise VisreasonError(f"{source}: 'rewards.{name}.{key}': a setting of the {own[key]} design only")


def _check(values, valid, key: str, source: str) -> None:
    for v in values:
        if v not in valid:
            raise VisreasonError(f"{source}: '{key}': unknown name '{v}' (valid: {', '.join(sorted(valid))})")


def load_params(path: str | Path | None = None, scale: str | None = None) -> dict:
    """Load, validate and resolve a params file (default: the repository's params.yaml)."""
    path = Path(path) if path else DEFAULT_PARAMS
    raw = read_yaml(path)
    validate(raw, source=str(path))
    return resolve(raw, scale)


def all_categories(params: dict) -> list[str]:
    """The study's categories: in-domain first, then out-of-domain."""
    cats = params["categories"]
    return [*cats["in_domain"], *cats["out_of_domain"]]


def run_tag(reward: str, seed: int) -> str:
    """The name of a trained model: `<reward>-seed<seed>`.

    >>> run_tag("mixture", 3)
    'mixture-seed3'
    """
    return f"{reward}{_SEED}{seed}"


def split_tag(tag: str) -> tuple[str, int | None]:
    """A model's design and seed from its tag; `base` has no seed.

    >>> split_tag("mixture-seed3"), split_tag("base")
    (('mixture', 3), ('base', None))
    """
    if _SEED in tag:
        reward, seed = tag.rsplit(_SEED, 1)
        if seed.isdigit():
            return reward, int(seed)
    return tag, None
