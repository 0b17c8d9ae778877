"""The study's settings: `params.yaml` checked against the schema and the registries.

Every command and the Snakefile load params through `load_params` (or `validate`
plus `config.resolve`), which adds to `visreason.config` the checks of names
against the registries: the puzzle categories and the reward designs. It also
holds the study's small shared vocabulary: the evaluation input modes and the
run tags (`base`, `<reward>-seed<seed>`) that name trained models.
"""

from __future__ import annotations

from pathlib import Path

from visreason import VisreasonError
from visreason.config import DEFAULT_PARAMS, check_schema, read_yaml, resolve
from visreason.puzzles import CATEGORIES
from visreason.rewards import DESIGNS

# The values that settings and command options take, named once (the schema lists the same).
MODES = ("image", "text", "image+caption", "blank")  # image; oracle description; image and caption; blank image
ANSWER_FORMATS = ("open", "multiple_choice")
BACKENDS = ("auto", "transformers", "vllm")
CAPTIONERS = ("oracle", "model")
BASE_TAG = "base"
_SEED = "-seed"


def validate(params: object, source: str = "params.yaml") -> None:
    """Raise VisreasonError naming the first invalid key: the schema first, then the registry names."""
    check_schema(params, source)
    check_names(params, source)


def check_names(params: dict, source: str) -> None:
    """Every category and reward design named in `params` (and in each scale) is registered."""

    def check(values, valid, key):
        for v in values:
            if v not in valid:
                raise VisreasonError(f"{source}: '{key}': unknown name '{v}' (valid: {', '.join(sorted(valid))})")

    for scope, section in [("", params), *((f"scales.{k}.", v) for k, v in params.get("scales", {}).items())]:
        cats = section.get("categories", {})
        for key in ("in_domain", "out_of_domain"):
            check(cats.get(key, []), CATEGORIES, f"{scope}categories.{key}")
        check(section.get("rewards", {}), DESIGNS, f"{scope}rewards")


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
