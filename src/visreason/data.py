"""Puzzle datasets: build, load, verify and preview.

A dataset is a folder that `visreason data build` writes atomically:

    records.jsonl                 one JSON record per line (fields: RECORD_FIELDS)
    images/<category>/<id>.png    generated images (.jpg for released ones, copied byte for byte)
    manifest.json                 written last: sha256 of every file, per-category counts,
                                  answer histograms, the parameters used and the source

Three sources give interchangeable records:
- `generated`: our generators (`visreason.puzzles`), offline, any size;
- `local`: a folder in the released AlgoPuzzleVQA layout (e.g. ../shared/algopuzzlevqa);
- `huggingface`: the Hub copy `declare-lab/AlgoPuzzleVQA`.
The last two go through one converter (`visreason.released`), which copies the
released images byte for byte.

Generation is deterministic whatever the number of worker processes: every puzzle draws
from its own RNG, seeded with a stable hash of (seed, split, category, index, attempt),
and all choices that depend on other puzzles (deduplication) are made in the main
process in index order. Generated PNGs are encoded with fixed settings (`encode_png`), so the same
parameters give byte-identical files and manifest.

Balancing: the generators' natural answer distributions can be peaked (a maze asking
for left turns is often answered 1 or 2). Per category, a pilot sample of
`data.balance.pilot` states estimates each answer's frequency p(a); a puzzle's draw is
then accepted with probability min(1, c / p(a)). The kept answers have frequencies
proportional to min(p(a), c): common answers are capped at c, rarer ones keep their
natural rate. c is the lowest cap whose acceptance rate sum_a min(p(a), c) is still
`data.balance.acceptance` (so flattening costs at most 1/acceptance draws per puzzle on
average; rendering happens once, after acceptance), raised to the rarest answer's
frequency where that gives the same (uniform) result with fewer rejections, and never
below 5/pilot: answers seen fewer than 5 times in the pilot are too noisy to
down-weight, so large, already flat answer spaces (clock: 720 times) are left as they
are. After `data.balance.max_tries` rejected
draws the last draw is kept. The manifest's `balance` holds, per category, the pilot's
answer histogram (the natural distribution), these fallbacks and the dedupe redraws.

Deduplication: no two puzzles of a dataset, and no training puzzle and puzzle of the
`--exclude` dataset, share an identity (`records.identity`: the start state the image
shows and what the question asks, never the fields a solver derives from them). A
duplicate is redrawn with the next attempt number.

Every build verifies what it made before anything is renamed into place, whatever its
source: unique ids, unique identities, and answers that the category's solver agrees
with, read back from the records as they are written (`records.check_built`). A failure,
including a full disk, is one VisreasonError naming the record or file, and leaves no
dataset folder behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import random
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from visreason import VisreasonError, __version__, released
from visreason.files import (
    atomic_dir,
    atomic_write_bytes,
    progress,
    read_json,
    sha256_bytes,
    sha256_file,
    write_bytes,
    write_json,
    write_jsonl,
)
from visreason.params import all_categories
from visreason.puzzles import CATEGORIES
from visreason.records import MANIFEST, RECORDS, SPLITS, check_built, identity, load_records

TRUSTED_COUNT = 5  # pilot counts below this are noise: such answers are never down-weighted
MAX_REDRAWS = 50  # rounds of redrawing duplicates before a category's state space is declared too small
CHUNK = 32  # puzzles per worker task
# Files that workflow tools write into a finished dataset folder, which `verify_dataset` does not
# count as the dataset's: Snakemake marks every directory output with `.snakemake_timestamp`.
BOOKKEEPING = frozenset({".snakemake_timestamp"})


def stable_seed(*parts: Any) -> int:
    """A 64-bit seed from `parts`, the same in every process and Python version (unlike hash()).

    >>> stable_seed(0, "train", "clock", 7) == stable_seed(0, "train", "clock", 7)
    True
    """
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def _manifest(records: list[dict], files: dict[str, str], split: str, source: str, params: dict, **extra) -> dict:
    counts, histograms = Counter(), {}
    for r in records:
        counts[r["category"]] += 1
        histograms.setdefault(r["category"], Counter())[r["answer"]] += 1
    return {
        "visreason_version": __version__,
        "split": split,
        "source": source,
        "params": params,
        "num_records": len(records),
        "counts": dict(counts),
        "answer_histograms": {c: dict(h) for c, h in histograms.items()},
        "files": files,
        **extra,
    }


# --------------------------------------------------------------------------- generation


def check_counts(counts: Any, key: str) -> dict[str, int]:
    """Validate a {category: count} mapping from params; errors name `key.<category>`."""
    if not isinstance(counts, dict) or not counts:
        raise VisreasonError(f"params: '{key}': expected a non-empty mapping of category -> count")
    for category, n in counts.items():
        if category not in CATEGORIES:
            raise VisreasonError(
                f"params: '{key}.{category}': unknown category '{category}' (valid: {', '.join(CATEGORIES)})"
            )
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise VisreasonError(f"params: '{key}.{category}': count must be a positive integer, got {n!r}")
    return dict(counts)


def train_counts(params: dict) -> dict[str, int]:
    """The {category: count} of the training preset that params select."""
    train = params["data"]["train"]
    presets = train.get("presets", {})
    if train["preset"] not in presets:
        raise VisreasonError(
            f"params: 'data.train.preset': unknown preset '{train['preset']}' (valid: {', '.join(presets)})"
        )
    return check_counts(presets[train["preset"]], f"data.train.presets.{train['preset']}")


def eval_counts(params: dict) -> dict[str, int]:
    """`data.eval.per_category` puzzles of every category in `categories`, but `data.eval.counts.<category>`
    where given (the lab evaluates its probe on many puzzles and the real categories on a few)."""
    n, counts = params["data"]["eval"]["per_category"], params["data"]["eval"].get("counts", {})
    cats = all_categories(params)
    for category in counts:
        if category not in cats:
            raise VisreasonError(f"params: 'data.eval.counts.{category}': '{category}' is not in `categories`")
    return check_counts({c: counts.get(c, n) for c in cats}, "data.eval.per_category")


def acceptance(pilot: Counter, pilot_size: int, rate: float) -> dict[str, float]:
    """Per-answer acceptance probabilities that flatten an answer distribution (module docstring).

    The cap c solves sum_a min(p(a), c) = rate by water-filling over the sorted
    frequencies, then is raised to the rarest answer's frequency (below it every answer
    is capped and the result is uniform whatever c, so a higher c only rejects less)
    and to the noise floor TRUSTED_COUNT / pilot_size.

    >>> acceptance(Counter({"1": 200, "2": 100, "3": 100}), 400, rate=0.75)  # keeps 1/4 of each
    {'1': 0.5, '2': 1.0, '3': 1.0}
    >>> acceptance(Counter({"a": 320, "b": 80}), 400, rate=0.25)  # 50/50, keeping 40% of draws
    {'a': 0.25, 'b': 1.0}
    >>> set(acceptance(Counter({"a": 17, "b": 19, "c": 60, "d": 38, "e": 110, "f": 70, "g": 23, "h": 63}), 400,
    ...                rate=1.0).values())  # balancing off: the frequencies sum to 1 - 1e-16 in floating point
    {1.0}
    """
    freqs = sorted(n / pilot_size for n in pilot.values())
    below = 0.0  # mass of the answers that stay under the cap
    for i, f in enumerate(freqs):
        if below + f * (len(freqs) - i) >= rate:
            cap = (rate - below) / (len(freqs) - i)
            break
        below += f
    else:  # the rate is the whole mass (rounding kept the sum below it): keep every draw
        cap = freqs[-1]
    cap = max(cap, freqs[0], TRUSTED_COUNT / pilot_size)
    return {a: min(1.0, cap * pilot_size / n) for a, n in pilot.items()}


def _pilot_task(task) -> Counter:
    puzzle, seed, size = task
    rng = random.Random(stable_seed(seed, "pilot", puzzle.name))
    answers = Counter()
    for _ in range(size):
        solution, question = puzzle.sample(rng)
        answers[puzzle.solve(solution, question)] += 1
    return answers


def _draw_task(task) -> list[dict]:
    """Draw the states of a chunk of slots (category, index, attempt); no rendering."""
    puzzle, accept, seed, split, tries, slots = task
    out = []
    for index, attempt in slots:
        rng = random.Random(stable_seed(seed, split, puzzle.name, index, attempt))
        for _ in range(tries):
            solution, question = puzzle.sample(rng)
            answer = puzzle.solve(solution, question)
            accepted = rng.random() < accept.get(answer, 1.0)
            if accepted:
                break
        options = puzzle.options(answer, solution, rng)
        out.append(
            {
                "question": question,
                "options": list(options),
                "answer": answer,
                "solution": solution,
                "description": puzzle.describe(solution),
                "fallback": not accepted,  # every draw rejected: the last one is kept
            }
        )
    return out


def encode_png(image, compress_level: int) -> bytes:
    """An RGB image as PNG bytes, every row unfiltered (filter type 0), deflated at `compress_level`.

    Pillow's encoder spends most of its time choosing a filter for every row; our
    rendered puzzles are large flat areas that deflate well unfiltered, so this is 2-3x
    faster at similar size (benchmarks/bench_data.py), and as deterministic: the
    bytes depend only on the pixels, the level and zlib.
    """
    pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    rows = np.hstack([np.zeros((height, 1), np.uint8), pixels.reshape(height, 3 * width)]).tobytes()  # filter byte 0

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, compress_level))
        + chunk(b"IEND", b"")
    )


def _render_task(task) -> list[str]:
    """Render a chunk of puzzles into PNG files; return their sha256."""
    puzzle, size, compress_level, root, items = task
    hashes = []
    for rel, solution in items:
        data = encode_png(puzzle.render(solution, size), compress_level)
        write_bytes(Path(root) / rel, data)
        hashes.append(sha256_bytes(data))
    return hashes


@contextlib.contextmanager
def _mapper(workers: int) -> Iterator[Callable]:
    """An ordered `map(fn, tasks)`: in-process for 1 worker, else a process pool.

    `spawn` keeps workers clean of the parent's threads (MLflow, tqdm), so fork-safety
    never matters; results come back in task order, so output never depends on timing.
    """
    if workers <= 1:
        yield map
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield lambda fn, tasks: pool.imap(fn, tasks)


def _chunks(items: list, size: int = CHUNK) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def generate(
    counts: dict[str, int],
    split: str,
    out: Path,
    data_params: dict,
    exclude: set[str] = frozenset(),
) -> tuple[list[dict], dict[str, str], dict]:
    """Generate, balance, deduplicate and render `counts` puzzles into folder `out`.

    Returns (records, {relative path: sha256} of the images, per-category statistics).
    """
    seed, size = data_params["seed"], data_params["image_size"]
    balance = data_params["balance"]
    pilot_size, tries = balance["pilot"], balance["max_tries"]
    puzzles = {c: CATEGORIES[c] for c in counts}
    with _mapper(data_params["workers"]) as pmap:
        pilots = list(pmap(_pilot_task, [(p, seed, pilot_size) for p in puzzles.values()]))
        accept = {c: acceptance(pilot, pilot_size, balance["acceptance"]) for c, pilot in zip(puzzles, pilots)}

        attempts = {(c, i): 0 for c, n in counts.items() for i in range(n)}
        drawn: dict[tuple[str, int], dict] = {}
        seen, pending, redraws = set(exclude), list(attempts), Counter()
        for _ in range(MAX_REDRAWS + 1):
            tasks = [
                (puzzles[c], accept[c], seed, split, tries, [(i, attempts[c, i]) for _, i in chunk])
                for c in puzzles
                for chunk in _chunks([s for s in pending if s[0] == c])
            ]
            results = chain.from_iterable(pmap(_draw_task, tasks))
            order = [s for c in puzzles for s in pending if s[0] == c]
            retry = []
            for slot, state in progress(zip(order, results), f"draw {split} puzzles", total=len(order)):
                key = identity(slot[0], state["solution"], state["question"])
                if key in seen:
                    attempts[slot] += 1
                    redraws[slot[0]] += 1
                    retry.append(slot)
                else:
                    seen.add(key)
                    drawn[slot] = state
            if not retry:
                break
            pending = retry
        else:
            category = pending[0][0]
            raise VisreasonError(
                f"data: cannot draw {counts[category]} distinct '{category}' puzzles for split '{split}' "
                f"(still duplicates after {MAX_REDRAWS} redraws): lower its count"
            )

        records = []
        for (c, i), state in sorted(drawn.items(), key=lambda kv: (list(puzzles).index(kv[0][0]), kv[0][1])):
            rid = f"{c}-{split}-{i:05d}"
            state = dict(state)
            state.pop("fallback")
            records.append(
                {
                    "id": rid,
                    "category": c,
                    "image": f"images/{c}/{rid}.png",
                    "source": "generated",
                    "split": split,
                    **state,
                }
            )
        # Verified as written (JSON), as every later stage will read them, before any rendering.
        check_built((json.loads(json.dumps(r)), f"generated record {r['id']}") for r in records)
        for c in puzzles:
            (out / "images" / c).mkdir(parents=True, exist_ok=True)
        tasks = [
            (
                puzzles[chunk[0]["category"]],
                size,
                data_params["png_compress_level"],
                str(out),
                [(r["image"], r["solution"]) for r in chunk],
            )
            for c in puzzles
            for chunk in _chunks([r for r in records if r["category"] == c])
        ]
        hashes = list(
            progress(chain.from_iterable(pmap(_render_task, tasks)), f"render {split} images", total=len(records))
        )
    stats = {
        c: {
            "pilot_answers": dict(pilot),  # the natural answer distribution that balancing flattened
            "fallbacks": sum(s["fallback"] for (cc, _), s in drawn.items() if cc == c),
            "redraws": redraws[c],
        }
        for c, pilot in zip(puzzles, pilots)
    }
    return records, {r["image"]: h for r, h in zip(records, hashes)}, stats


# --------------------------------------------------------------------------- build / verify


def plan(params: dict, split: str) -> tuple[str, dict[str, int], dict]:
    """(source, {category: count} to generate, the parameters that determine the output).

    Checks every setting the build depends on, so that the CLI fails before it starts
    an MLflow run. `workers` is not among the parameters: the output does not depend on it.
    """
    if split not in SPLITS:
        raise VisreasonError(f"unknown split '{split}' (valid: {', '.join(SPLITS)})")
    data = params["data"]
    source = "generated" if split == "train" else data["eval"]["source"]
    if source == "generated":
        counts = train_counts(params) if split == "train" else eval_counts(params)
        return (
            source,
            counts,
            {k: data[k] for k in ("seed", "image_size", "png_compress_level", "balance")} | {"counts": counts},
        )
    check_counts({c: 1 for c in all_categories(params)}, "categories")
    if source == "local":
        return source, {}, {"local_path": data["eval"]["local_path"], "categories": all_categories(params)}
    return (
        source,
        {},
        {
            "hf_dataset": data["eval"]["hf_dataset"],
            "hf_split": data["eval"]["hf_split"],
            "categories": all_categories(params),
        },
    )


def build_dataset(params: dict, split: str, out: str | Path, exclude: str | Path | None = None) -> dict:
    """Build the `split` dataset that params ask for into `out` (atomically); return its manifest."""
    source, counts, used = plan(params, split)
    data = params["data"]
    excluded, extra = {}, {}
    if exclude is not None:
        records = load_records(exclude, check_images=False)
        excluded = {identity(r["category"], r["solution"], r["question"]): r["id"] for r in records}
        extra["excluded"] = {"records": len(records), "manifest_sha256": sha256_file(Path(exclude) / MANIFEST)}
    tmp = None
    try:
        with atomic_dir(out) as tmp:
            if source == "generated":
                records, files, stats = generate(counts, split, tmp, data, set(excluded))
                extra["balance"] = stats
            else:
                records, files = _convert_released(params, source, split, tmp)
                _check_not_excluded(records, excluded, source)
            files[RECORDS] = write_jsonl(tmp / RECORDS, records)
            manifest = _manifest(records, files, split, source, used, **extra)
            write_json(tmp / MANIFEST, manifest)
    except OSError as err:
        # A full disk, a read-only folder, an unreadable source file: atomic_dir has removed
        # the temporary folder already, and `out` is as it was. A file being written is named
        # by its place in `out`, the temporary folder being gone.
        name = str(err.filename or "")
        if tmp is not None and name.startswith(str(tmp)):
            name = str(Path(out) / Path(name).relative_to(tmp))
        raise VisreasonError(
            f"data: building {out} failed, nothing written: {err.strerror or type(err).__name__}"
            + (f": {name}" if name else "")
        ) from None
    return manifest


def _convert_released(params: dict, source: str, split: str, out: Path) -> tuple[list[dict], dict[str, str]]:
    data = params["data"]["eval"]
    if source == "local":
        rows = released.local_rows(data["local_path"], all_categories(params))
    else:
        rows = released.huggingface_rows(data["hf_dataset"], data["hf_split"], all_categories(params))
    records, files = released.convert(progress(rows, f"convert {source} records"), out, split)
    released.check_counts(records, all_categories(params), source)
    return records, files


def _check_not_excluded(records: list[dict], excluded: dict[str, str], source: str) -> None:
    keys = [identity(r["category"], r["solution"], r["question"]) for r in records]
    shared = [(r["id"], excluded[k]) for r, k in zip(records, keys) if k in excluded]
    if shared:
        rid, other = shared[0]
        raise VisreasonError(
            f"data: {len(shared)} {source} record(s) are puzzles of the --exclude dataset, the first {rid} "
            f"(the same start state and question as its record {other})"
        )


def verify_dataset(data_dir: str | Path) -> dict:
    """Re-hash every file against the manifest and re-solve every record.

    Returns {"records": n, "files": n}; problems raise one VisreasonError (one line)
    that counts them and names the first three.
    """
    root = Path(data_dir)
    records = load_records(root)
    manifest = read_json(root / MANIFEST)
    problems = []
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {MANIFEST, *BOOKKEEPING}
    listed = manifest.get("files", {})
    problems += [f"file {f} is in the manifest but missing" for f in sorted(set(listed) - on_disk)]
    problems += [f"file {f} is not in the manifest" for f in sorted(on_disk - set(listed))]
    for rel in progress(sorted(on_disk & set(listed)), "hash files"):
        if sha256_file(root / rel) != listed[rel]:
            problems.append(f"file {rel}: sha256 differs from the manifest")
    counts = dict(Counter(r["category"] for r in records))
    if counts != manifest.get("counts"):
        problems.append(f"per-category counts {counts} differ from the manifest's {manifest.get('counts')}")
    for r in progress(records, "re-solve records"):
        try:
            solved = CATEGORIES[r["category"]].solve(r["solution"], r["question"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            problems.append(f"record {r['id']}: solver failed: {err}")
            continue
        if solved != r["answer"]:
            problems.append(f"record {r['id']}: solver gives {solved!r}, record says {r['answer']!r}")
    if problems:
        more = "; ..." if len(problems) > 3 else ""
        raise VisreasonError(f"{root}: {len(problems)} problem(s): {'; '.join(problems[:3])}{more}")
    return {"records": len(records), "files": len(listed)}


# --------------------------------------------------------------------------- preview


def _wrap(text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def _shorten(lines: list[str], limit: int, head: int = 3) -> list[str]:
    """Keep the first `head` lines (the setting) and the last ones (the actual question)."""
    if len(lines) <= limit:
        return lines
    return lines[:head] + ["[...]"] + lines[len(lines) - (limit - head - 1) :]


def preview(data_dir: str | Path, out: str | Path, per_category: int = 3, tile: int = 320) -> Path:
    """Write a PNG contact sheet: one row per category, `per_category` puzzles each, every
    tile showing the image, the question (wrapped; long ones keep their first and last
    lines) and the answer."""
    if per_category < 1:
        raise VisreasonError(f"--per-category must be at least 1, got {per_category}")
    groups: dict[str, list[dict]] = {}
    for r in load_records(data_dir):
        if len(groups.setdefault(r["category"], [])) < per_category:
            groups[r["category"]].append(r)
    body, bold = ImageFont.load_default(13), ImageFont.load_default(16)
    line_h, pad, label_w, max_lines = 17, 12, 150, 12
    text_h = line_h * (max_lines + 3)
    width = label_w + per_category * (tile + pad) + pad
    height = pad + len(groups) * (tile + text_h + pad)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (category, records) in enumerate(groups.items()):
        y = pad + row * (tile + text_h + pad)
        draw.text((pad, y + tile // 2), category, fill="black", font=bold)
        for col, r in enumerate(records):
            x = label_w + col * (tile + pad)
            with Image.open(Path(data_dir) / r["image"]) as img:
                thumb = img.convert("RGB")
            thumb.thumbnail((tile, tile))
            sheet.paste(thumb, (x + (tile - thumb.width) // 2, y + (tile - thumb.height) // 2))
            draw.rectangle((x, y, x + tile, y + tile), outline="#bbbbbb")
            ty = y + tile + 4
            draw.text((x, ty), r["id"], fill="#555555", font=body)
            question = _shorten(_wrap(re.sub(r"\s+", " ", r["question"]), body, tile), max_lines)
            for i, line in enumerate(question, 1):
                draw.text((x, ty + i * line_h), line, fill="black", font=body)
            answer = _wrap(f"Answer: {r['answer']}", bold, tile)[:1]
            draw.text((x, ty + (len(question) + 1) * line_h + 2), answer[0], fill="#b00020", font=bold)
        if row:
            draw.line((0, y - pad // 2, width, y - pad // 2), fill="#dddddd")
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", compress_level=6)
    return atomic_write_bytes(out, buf.getvalue())


# --------------------------------------------------------------------------- the stage


def run_build(params: dict, split: str, out: str | Path, exclude: str | Path | None = None) -> dict:
    """The `data build` stage: build the dataset inside its own MLflow run; return the manifest."""
    # mlflow takes about 3 s to import; the generation workers import this module and never log.
    import mlflow

    from visreason import tracking

    plan(params, split)
    if exclude is not None and not Path(exclude).is_dir():
        raise VisreasonError(f"--exclude: dataset folder not found: {exclude}")
    inputs = {"exclude": exclude} if exclude else {}
    tags = {"seed": params["data"]["seed"], "split": split}
    with tracking.start_run(params, "data", run_name=f"data-{split}", inputs=inputs, tags=tags):
        manifest = build_dataset(params, split, out, exclude)
        mlflow.log_metrics(
            {"num_records": manifest["num_records"], **{f"count.{c}": n for c, n in manifest["counts"].items()}}
        )
        for c, stats in manifest.get("balance", {}).items():
            mlflow.log_metrics({f"fallbacks.{c}": stats["fallbacks"], f"redraws.{c}": stats["redraws"]})
        mlflow.log_dict(manifest["answer_histograms"], "answer_histograms.json")
    return manifest
