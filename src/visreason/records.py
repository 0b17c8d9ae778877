"""The record contract between stages: a puzzle record's fields, their checks, loading, and
the puzzle identity.

A record is AlgoPuzzleVQA-compatible (`image`, `question`, `options`, `answer`,
`solution`) plus `id`, `category`, `description`, `source` and `split`. Generated
and released records are interchangeable. A dataset folder holds `records.jsonl`,
the images it names, and `manifest.json`, written last. Two records are one puzzle
when they share an `identity` (start state and question); a build refuses that, a
repeated id, and an answer the solver contradicts (`check_built`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from visreason import VisreasonError
from visreason.puzzles import CATEGORIES

RECORD_FIELDS = (
    "id",
    "category",
    "image",
    "question",
    "options",
    "answer",
    "solution",
    "description",
    "source",
    "split",
)
SPLITS = ("train", "eval")
RECORDS, MANIFEST = "records.jsonl", "manifest.json"
IMAGE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError)  # what Pillow raises on bad bytes


def identity(category: str, solution: dict, question: str) -> str:
    """The puzzle's identity: its category, the start state its image shows and what the question
    asks (`Puzzle.identity`), never the fields derived from them (a solver may derive another,
    equally short path). Datasets deduplicate on it, and a training set shares none with the set
    it excludes."""
    try:
        return CATEGORIES[category].identity(solution, question)
    except NotImplementedError as err:  # a category module without start_state
        raise VisreasonError(f"{err}, so its puzzles cannot be told apart") from None


def check_built(items: Iterable[tuple[dict, str]]) -> None:
    """Verify what a build made. `items` are (record, where), `where` naming the record (its file
    and line, or its id); raise VisreasonError naming the first record whose id or identity repeats
    an earlier record's, or whose answer its category's solver contradicts."""
    ids: dict[str, str] = {}
    puzzles: dict[str, str] = {}
    for rec, where in items:
        if rec["id"] in ids:
            raise VisreasonError(f"{where}: duplicate id '{rec['id']}' (first: {ids[rec['id']]})")
        ids[rec["id"]] = where
        try:
            key = identity(rec["category"], rec["solution"], rec["question"])
            solved = CATEGORIES[rec["category"]].solve(rec["solution"], rec["question"])
        except (VisreasonError, KeyError, TypeError, ValueError, IndexError) as err:
            raise VisreasonError(f"{where}: cannot check the record: {err}") from None
        if key in puzzles:
            raise VisreasonError(f"{where}: the same puzzle (start state and question) as {puzzles[key]}")
        puzzles[key] = where
        if solved != rec["answer"]:
            raise VisreasonError(f"{where}: the answer is {rec['answer']!r}, but the solver gives {solved!r}")


def check_fields(rec: Any, fields: Iterable[str], where: str) -> None:
    """Raise VisreasonError naming `where` (file and line, record id) and the first missing or mistyped field."""
    if not isinstance(rec, dict):
        raise VisreasonError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    for field in fields:
        if field not in rec:
            raise VisreasonError(f"{where}: record is missing field '{field}'")
    for field in ("question", "answer", "image", "id", "category", "description", "source", "split"):
        if field in rec and not (isinstance(rec[field], str) and rec[field]):
            raise VisreasonError(f"{where}: field '{field}' must be a non-empty string")
    options = rec.get("options")
    if "options" in rec and not (
        isinstance(options, list) and len(options) >= 2 and all(isinstance(o, str) for o in options)
    ):
        raise VisreasonError(f"{where}: field 'options' must be a list of at least 2 strings")
    if "answer" in rec and "options" in rec and rec["answer"] not in options:
        raise VisreasonError(f"{where}: field 'answer' {rec['answer']!r} is not one of the options {options}")


def load_records(data_dir: str | Path, check_images: bool = True) -> list[dict]:
    """The validated records of a dataset folder written by `visreason data build`.

    Every record must have RECORD_FIELDS, a known category, and an image inside the
    folder that exists and passes Pillow's integrity check (PNG chunk CRCs); anything
    else raises VisreasonError naming the line, the record id and the field.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise VisreasonError(f"dataset folder not found: {root}")
    if not (root / MANIFEST).is_file():
        raise VisreasonError(f"{root}: no {MANIFEST}, so not a complete dataset (build it with `visreason data build`)")
    path = root / RECORDS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise VisreasonError(f"cannot read {path}: {err.strerror}") from None
    records, first_line = [], {}
    for n, line in enumerate(lines, 1):
        where = f"{path} line {n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise VisreasonError(f"{where}: invalid JSON: {err.msg}") from None
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            where += f" (record {rec['id']})"
        check_fields(rec, RECORD_FIELDS, where)
        if rec["category"] not in CATEGORIES:
            raise VisreasonError(f"{where}: unknown category '{rec['category']}' (valid: {', '.join(CATEGORIES)})")
        if not isinstance(rec["solution"], dict):
            raise VisreasonError(f"{where}: field 'solution' must be an object")
        if rec["id"] in first_line:
            raise VisreasonError(f"{where}: duplicate id '{rec['id']}' (first at line {first_line[rec['id']]})")
        first_line[rec["id"]] = n
        image = Path(rec["image"])
        if image.is_absolute() or ".." in image.parts:
            raise VisreasonError(
                f"{where}: field 'image' must be a path inside the dataset folder, got {rec['image']!r}"
            )
        if check_images:
            _check_image_file(root / image, where)
        records.append(rec)
    if not records:
        raise VisreasonError(f"{path}: no records")
    return records


def _check_image_file(path: Path, where: str) -> None:
    if not path.is_file():
        raise VisreasonError(f"{where}: image not found: {path}")
    try:
        with Image.open(path) as img:
            img.verify()
    except IMAGE_ERRORS as err:
        raise VisreasonError(f"{where}: corrupt image {path}: {image_problem(err)}") from None


def image_problem(err: Exception) -> str:
    """Pillow's complaint about an image, without the in-memory buffer it may name instead of the file.

    >>> import io
    >>> try:
    ...     Image.open(io.BytesIO(b"not an image"))
    ... except UnidentifiedImageError as err:
    ...     image_problem(err)
    'not an image format Pillow reads'
    """
    if isinstance(err, UnidentifiedImageError):
        return "not an image format Pillow reads"
    return str(err) or type(err).__name__
