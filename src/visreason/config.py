"""`params.yaml` as data: YAML, the JSON schema, and the merging of scales.

The same file is Snakemake's config and DVC's params. This module knows the file's
shape only: it imports nothing of the package but its error type, so that the
Snakefile and every command can read params cheaply. `visreason.params` adds the
checks against the registries (categories, reward designs) on top.
1. `read_yaml` parses the YAML (a syntax error names the line);
2. `check_schema` validates it against `workflow/schemas/params.schema.yaml` (an
   invalid or misspelt key is reported with its dotted path);
3. `resolve` merges the section `scales.<scale>` over the top-level settings, so
   `scale: paper` switches to the study's full scale.
"""

from __future__ import annotations

import copy
import difflib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from visreason import VisreasonError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = REPO_ROOT / "params.yaml"
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "params.schema.yaml"


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VisreasonError(f"params file not found: {path}") from None
    except OSError as err:
        raise VisreasonError(f"cannot read params file {path}: {err.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise VisreasonError(f"{path}:{where}: invalid YAML: {problem}") from None


@lru_cache(maxsize=1)
def load_schema() -> dict:
    return read_yaml(SCHEMA_PATH)


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def check_schema(params: Any, source: str = "params.yaml") -> None:
    """Raise VisreasonError naming the first key (by dotted path) that the schema rejects."""
    if not isinstance(params, dict):
        raise VisreasonError(f"{source}: expected a mapping at the top level, got {type(params).__name__}")
    validator = jsonschema.Draft202012Validator(load_schema())
    # The shallowest error first; at equal depth an unknown key (a typo) before
    # the "required" error that the same typo causes.
    errors = sorted(
        validator.iter_errors(params),
        key=lambda e: (len(e.absolute_path), e.validator != "additionalProperties", list(map(str, e.absolute_path))),
    )
    if errors:
        err = errors[0]
        if err.validator == "additionalProperties":
            known = set(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - known)
            key = _key_path([*err.absolute_path, extra[0]]) if extra else _key_path(err.absolute_path)
            close = difflib.get_close_matches(str(extra[0]), sorted(known), n=1) if extra else []
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise VisreasonError(f"{source}: unknown key '{key}'{hint}")
        raise VisreasonError(f"{source}: '{_key_path(err.absolute_path)}': {err.message}")


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` merged in; nested mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(params: dict, scale: str | None = None) -> dict:
    """Apply `scales.<scale>` over the top-level settings; drop the `scales` table."""
    scale = scale or params["scale"]
    scales = params.get("scales", {})
    if scale not in scales:
        raise VisreasonError(f"params: 'scale': unknown scale '{scale}' (valid: {', '.join(sorted(scales))})")
    base = {k: v for k, v in params.items() if k != "scales"}
    resolved = deep_merge(base, scales[scale])
    resolved["scale"] = scale
    return resolved
