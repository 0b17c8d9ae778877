"""`params.yaml` as data: YAML, the JSON schema, and the merging of scales.

The same file is Snakemake's config and DVC's params. This module knows the file's
shape only: it imports nothing of the package but its error type, so that the
Snakefile and every command can read params cheaply. `visreason.params` adds the
checks against the registries (categories, reward designs) on top.
1. `read_yaml` parses the YAML: a syntax error names the line, a duplicated key both
   lines, a binary or non-UTF-8 file the offending byte;
2. `check_schema` validates it against the schema shipped with the package
   (`params.schema.yaml`, linked from `workflow/schemas/`): an invalid, misspelt or
   missing key is reported with its dotted path, and every number must be finite;
3. `resolve` merges the section `scales.<scale>` over the top-level settings
   (`merge_scale`), so `scale: paper` switches to the study's full scale, and turns the
   chosen category set and training preset into the lists every stage reads
   (`resolve_categories`): `categories.in_domain`, the set's categories that the preset
   trains on, and `categories.out_of_domain`, the rest of the set.
"""

from __future__ import annotations

import copy
import difflib
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from visreason import VisreasonError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = REPO_ROOT / "params.yaml"
# Package data, so that an installed wheel validates params as a checkout does.
SCHEMA_PATH = Path(__file__).with_name("params.schema.yaml")
_MERGE_TAG = "tag:yaml.org,2002:merge"  # the `<<` key, which merges a mapping in on purpose


def read_yaml(path: str | Path) -> Any:
    """The YAML document in `path`; every problem with the file is one VisreasonError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise VisreasonError(f"params file not found: {path}") from None
    except OSError as err:
        raise VisreasonError(f"cannot read params file {path}: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise VisreasonError(
            f"{path}: line {line}: not a UTF-8 text file (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as err:  # a control character: a binary file, or text that is not YAML
        line = text.count("\n", 0, err.position) + 1
        raise VisreasonError(
            f"{path}: line {line}: not a YAML text file (character {err.character:#04x} at offset {err.position})"
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_duplicate_keys(node, str(path))
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise VisreasonError(f"{path}:{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def check_duplicate_keys(node: yaml.Node, source: str, path: tuple = (), ancestors: tuple = ()) -> None:
    """Raise VisreasonError naming the first key that a YAML mapping repeats, and both its lines,
    or an alias that refers to its own anchor (a structure that contains itself).

    PyYAML keeps the last value of a repeated key silently, so `scale: paper` appended to a
    file would win.

    >>> check_duplicate_keys(yaml.compose("a:\\n  b: 1\\n  c: 2\\n  b: 3\\n"), "p.yaml")
    Traceback (most recent call last):
    ...
    visreason.VisreasonError: p.yaml: duplicate key 'a.b' at lines 2 and 4
    """
    if id(node) in ancestors:
        raise VisreasonError(f"{source}: '{_key_path(path)}': an alias refers to its own anchor")
    ancestors = (*ancestors, id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and key.tag != _MERGE_TAG:
                line = key.start_mark.line + 1
                if (key.tag, name) in first_line:
                    raise VisreasonError(
                        f"{source}: duplicate key '{_key_path([*path, name])}' at lines "
                        f"{first_line[key.tag, name]} and {line}"
                    )
                first_line[key.tag, name] = line
            check_duplicate_keys(value, source, (*path, name if name is not None else "?"), ancestors)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            check_duplicate_keys(item, source, (*path, i), ancestors)


def _complete(schema: Any) -> Any:
    """A copy of `schema` in which every mapping requires every key it declares under `properties`.

    So the file must set every key the code reads. Only `properties` are descended
    (inlining `$ref`s on the way): the values of open mappings, such as a scale's
    overrides or a design's settings, keep the schema as written and set any subset.
    """
    defs = load_schema()["$defs"]

    def walk(node):
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[1]]
            node = {**{k: v for k, v in node.items() if k != "$ref"}, **walk(target)}
        if "properties" in node:
            node = {**node, "properties": {k: walk(v) for k, v in node["properties"].items()}}
            node["required"] = sorted(set(node.get("required", [])) | set(node["properties"]))
        return node

    return walk(schema)


@lru_cache(maxsize=1)
def load_schema() -> dict:
    return read_yaml(SCHEMA_PATH)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_complete(load_schema()))


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def check_finite(value: Any, source: str, path: tuple = ()) -> None:
    """Raise VisreasonError naming the first number in `value` that is NaN or infinite.

    JSON Schema bounds cannot catch these (NaN compares false with every bound), and
    the trainer would only fail after its run had started.

    >>> check_finite({"train": {"learning_rate": float("nan")}}, "p.yaml")
    Traceback (most recent call last):
    ...
    visreason.VisreasonError: p.yaml: 'train.learning_rate': must be a finite number, got nan
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise VisreasonError(f"{source}: '{_key_path(path)}': must be a finite number, got {value}")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, source, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, source, (*path, i))


def check_schema(params: Any, source: str = "params.yaml") -> None:
    """Raise VisreasonError naming the first key (by dotted path) that the schema rejects."""
    if not isinstance(params, dict):
        raise VisreasonError(f"{source}: expected a mapping at the top level, got {type(params).__name__}")
    check_finite(params, source)
    # The shallowest error first; at equal depth an unknown key (a typo) before
    # the "required" error that the same typo causes.
    errors = sorted(
        _validator().iter_errors(params),
        key=lambda e: (len(e.absolute_path), e.validator != "additionalProperties", list(map(str, e.absolute_path))),
    )
    if not errors:
        return
    err = errors[0]
    if err.validator == "additionalProperties":
        known = set(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - known)
        key = _key_path([*err.absolute_path, extra[0]]) if extra else _key_path(err.absolute_path)
        close = difflib.get_close_matches(str(extra[0]), sorted(known), n=1) if extra else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise VisreasonError(f"{source}: unknown key '{key}'{hint}")
    if err.validator == "required":
        missing = next(k for k in err.validator_value if k not in err.instance)
        raise VisreasonError(f"{source}: missing key '{_key_path([*err.absolute_path, missing])}'")
    raise VisreasonError(f"{source}: '{_key_path(err.absolute_path)}': {err.message}")


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` merged in; nested mappings merge, everything else replaces.

    >>> deep_merge({"train": {"lr": 1, "steps": 8}}, {"train": {"lr": 2}})
    {'train': {'lr': 2, 'steps': 8}}
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(params: dict, scale: str | None = None) -> dict:
    """The settings every stage reads: `merge_scale`, then `resolve_categories`."""
    merged = merge_scale(params, scale)
    return {**merged, "categories": resolve_categories(merged)}


def merge_scale(params: dict, scale: str | None = None) -> dict:
    """Apply `scales.<scale>` (default: the file's `scale`) over the top-level settings; drop `scales`."""
    scale = scale or params["scale"]
    scales = params.get("scales", {})
    if scale not in scales:
        raise VisreasonError(f"params: 'scale': unknown scale '{scale}' (valid: {', '.join(sorted(scales))})")
    base = {k: v for k, v in params.items() if k != "scales"}
    merged = deep_merge(base, scales[scale])
    merged["scale"] = scale
    return merged


def resolve_categories(params: dict) -> dict:
    """`{set, in_domain, out_of_domain}` from `categories.set`, `categories.sets` and the training preset.

    A preset names its in-domain categories by training on them: the in-domain
    categories are the set's categories that `data.train.presets.<preset>` counts,
    the out-of-domain ones the rest of the set, both in the set's order. So the
    Clock-3k preset counts clock alone as in-domain, Diverse-8k its four categories.

    >>> resolve_categories({"categories": {"set": "s", "sets": {"s": ["clock", "maze", "water_jugs"]}},
    ...                     "data": {"train": {"preset": "p", "presets": {"p": {"maze": 10}}}}})
    {'set': 's', 'in_domain': ['maze'], 'out_of_domain': ['clock', 'water_jugs']}
    """
    cats, train = params["categories"], params["data"]["train"]
    name, sets = cats["set"], cats["sets"]
    if name not in sets:
        raise VisreasonError(f"params: 'categories.set': unknown set '{name}' (valid: {', '.join(sorted(sets))})")
    preset, presets = train["preset"], train["presets"]
    if preset not in presets:
        raise VisreasonError(
            f"params: 'data.train.preset': unknown preset '{preset}' (valid: {', '.join(sorted(presets))})"
        )
    chosen, trained = sets[name], presets[preset]
    outside = [c for c in trained if c not in chosen]
    if outside:
        raise VisreasonError(
            f"params: 'data.train.presets.{preset}.{outside[0]}': category '{outside[0]}' is not in the "
            f"category set '{name}' (categories.sets.{name}), so it would never be evaluated"
        )
    out_of_domain = [c for c in chosen if c not in trained]
    if not out_of_domain:
        raise VisreasonError(
            f"params: 'categories.sets.{name}': every category of the set is trained on by preset '{preset}', "
            "so the out-of-domain list would be empty"
        )
    return {"set": name, "in_domain": [c for c in chosen if c in trained], "out_of_domain": out_of_domain}


def train_settings(params: dict, reward: str) -> dict:
    """The settings of a training job: `train` with `rewards.<reward>` merged over it.

    A design that `rewards` does not list trains with `train` as it is.

    >>> train_settings({"train": {"lr": 1, "steps": 8}, "rewards": {"mixture": {"lr": 2}}}, "mixture")
    {'lr': 2, 'steps': 8}
    """
    return deep_merge(params["train"], params["rewards"].get(reward) or {})
