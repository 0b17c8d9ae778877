"""Released AlgoPuzzleVQA records -> visreason records: a local folder or the Hugging Face copy.

Both sources yield rows (category, where, raw record, image) into one converter, so
the Hub path (which needs the network) shares every line of checking and conversion
with the local path that the tests exercise:

- `local_rows`: a folder in the released layout, `data/<category>.json` (JSON lines with
  `image`, `question`, `options`, `answer`, `solution`) plus `data/images/...`;
- `huggingface_rows`: `datasets.load_dataset("declare-lab/AlgoPuzzleVQA", split="data")`.

`convert` gives ids `<category>-<index:04d>` in file order, computes `description` with
the category's `describe`, and copies each image byte for byte (JPEG stays JPEG: no
re-encoding loss, and the dataset no longer depends on the source folder or Hub cache).
An image path must stay inside the folder. What it converts is verified as a generated
build is (`records.check_built`): one puzzle, one record, and answers the solvers agree with.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from visreason import VisreasonError
from visreason.files import sha256_bytes, write_bytes
from visreason.puzzles import CATEGORIES
from visreason.records import IMAGE_ERRORS, check_built, check_fields, image_problem

RELEASED_FIELDS = ("image", "question", "options", "answer", "solution")


def local_rows(root: str | Path, categories: Iterable[str]) -> Iterator[tuple[str, str, Any, Any]]:
    """(category, where, raw record, image path) of a folder in the released layout."""
    data = Path(root) / "data"
    if not data.is_dir():
        raise VisreasonError(f"released dataset not found: {data} (expected data/<category>.json and data/images/)")
    for category in categories:
        path = data / f"{category}.json"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise VisreasonError(f"cannot read {path} (category '{category}'): {err.strerror}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as err:
                raise VisreasonError(f"{where}: invalid JSON: {err.msg}") from None
            yield category, where, raw, _image_path(data, raw, where)


def _image_path(data: Path, raw: Any, where: str) -> Path | None:
    """The image file a released record names, which must lie inside `data`: an absolute path or
    `..` would read any file on the machine into the dataset."""
    image = raw.get("image") if isinstance(raw, dict) else None
    if not (isinstance(image, str) and image):
        return None
    rel = Path(image)
    if rel.is_absolute() or ".." in rel.parts:
        raise VisreasonError(f"{where}: field 'image' must be a path inside {data}, got {image!r}")
    return data / rel


def huggingface_rows(name: str, split: str, categories: Iterable[str]) -> Iterator[tuple[str, str, Any, Any]]:
    """(category, where, raw record, image bytes) of the Hub copy of AlgoPuzzleVQA.

    Its one split (`data`) holds the 1,800 released records of all 18 categories; the
    columns read are `image`, `question`, `options`, `answer` and `solution`, the latter
    a dict or a JSON string (one Arrow struct cannot hold every category's keys). A row's
    category is its `category` column where there is one, else the one category among
    `categories` whose exact solver reproduces the row's answer; rows of other
    categories are skipped, and `check_counts` fails if a wanted category got none.
    """
    try:
        import datasets  # about 3 s to import, and only this source needs it

        ds = datasets.load_dataset(name, split=split)
    except Exception as err:  # noqa: BLE001 - offline, missing, renamed: all end the same way
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise VisreasonError(
            f"cannot load Hugging Face dataset '{name}' (split '{split}'): {reason}; "
            "offline? set data.eval.source: local (a released-layout folder) or generated"
        ) from None
    missing = [c for c in ("image", "solution") if c not in ds.column_names]
    if missing:
        raise VisreasonError(
            f"Hugging Face dataset '{name}' (split '{split}') has no '{missing[0]}' column "
            f"(columns: {', '.join(ds.column_names)}); set data.eval.source: local or generated"
        )
    ds = ds.cast_column("image", datasets.Image(decode=False))
    wanted = list(categories)
    for n, row in enumerate(ds):
        where = f"{name}[{split}] row {n}"
        if isinstance(row.get("solution"), str):
            try:
                row["solution"] = json.loads(row["solution"])
            except json.JSONDecodeError as err:
                raise VisreasonError(f"{where}: field 'solution' is not valid JSON: {err.msg}") from None
        category = row.get("category") or _solver_category(row, wanted)
        if category not in wanted:
            continue
        image = row.get("image") or {}
        data = image.get("bytes") or (Path(image["path"]).read_bytes() if image.get("path") else None)
        yield category, f"{where} ({category})", {**row, "image": image.get("path") or "<embedded>"}, data


def _solver_category(row: dict, candidates: list[str]) -> str | None:
    matches = []
    for c in candidates:
        try:
            if CATEGORIES[c].solve(row.get("solution"), row.get("question", "")) == row.get("answer"):
                matches.append(c)
        except Exception:  # noqa: BLE001 - another category's state: its solver cannot read it
            continue
    return matches[0] if len(matches) == 1 else None


def convert(rows: Iterable[tuple[str, str, Any, Any]], out: Path, split: str) -> tuple[list[dict], dict[str, str]]:
    """Released records -> our records in `out`, ids `<category>-<index:04d>`, images copied.

    Each row is (category, where, raw record, image path or bytes); a bad row raises
    VisreasonError naming `where` (file and line, or Hub row) and the field, as does a
    record that repeats an earlier puzzle or whose answer its solver contradicts.
    """
    records, files, index, wheres = [], {}, Counter(), []
    for category, where, raw, image in rows:
        if category not in CATEGORIES:
            raise VisreasonError(f"{where}: unknown category '{category}' (valid: {', '.join(CATEGORIES)})")
        check_fields(raw, RELEASED_FIELDS, where)
        if not isinstance(raw["solution"], dict):
            raise VisreasonError(f"{where}: field 'solution' must be an object")
        data, ext = _read_image(image, where)
        rid = f"{category}-{index[category]:04d}"
        index[category] += 1
        wheres.append(f"{where} (record {rid})")
        try:
            description = CATEGORIES[category].describe(raw["solution"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise VisreasonError(f"{where}: cannot describe its solution: {err}") from None
        rel = f"images/{category}/{rid}{ext}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        write_bytes(out / rel, data)
        files[rel] = sha256_bytes(data)
        records.append(
            {
                "id": rid,
                "category": category,
                "image": rel,
                "question": raw["question"],
                "options": list(raw["options"]),
                "answer": raw["answer"],
                "solution": raw["solution"],
                "description": description,
                "source": "algopuzzlevqa",
                "split": split,
            }
        )
    check_built(zip(records, wheres))
    return records, files


def _read_image(image: Path | bytes | None, where: str) -> tuple[bytes, str]:
    """The image's bytes (fully decoded once to prove they are sound) and its extension."""
    if image is None:
        raise VisreasonError(f"{where}: field 'image' has no image")
    name = "embedded image"
    if isinstance(image, Path):
        if not image.is_file():
            raise VisreasonError(f"{where}: image not found: {image}")
        name, image = f"image {image}", image.read_bytes()
    try:
        with Image.open(io.BytesIO(image)) as img:
            img.load()
            fmt = img.format
            if fmt not in ("PNG", "JPEG"):
                buf = io.BytesIO()
                img.convert("RGB").save(buf, format="PNG")
                return buf.getvalue(), ".png"
    except IMAGE_ERRORS as err:
        raise VisreasonError(f"{where}: corrupt {name}: {image_problem(err)}") from None
    return image, ".png" if fmt == "PNG" else ".jpg"


def check_counts(records: list[dict], categories: list[str], source: str) -> None:
    found = Counter(r["category"] for r in records)
    missing = [c for c in categories if not found[c]]
    if missing:
        raise VisreasonError(f"data: the {source} evaluation source has no records of category '{missing[0]}'")
