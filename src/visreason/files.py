"""Atomic writes, hashing, stage summaries and progress reporting.

Every stage writes its outputs through these helpers, so an interrupted run never
leaves a file or folder that looks complete: content goes to a temporary sibling
first and is renamed into place only when finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | Path, data: bytes) -> None:
    """`Path(path).write_bytes(data)`, but an OSError names `path`: a failed write() (a full disk) names no file.

    >>> write_bytes("/dev/full", b"x")  # a device that is always full
    Traceback (most recent call last):
    ...
    OSError: [Errno 28] No space left on device: '/dev/full'
    """
    try:
        Path(path).write_bytes(data)
    except OSError as err:
        err.filename = err.filename or str(path)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` via a temporary file in the same folder and a rename.

    An OSError names `path` (a failed write() names no file), and leaves no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename in (None, tmp):
            err.filename = str(path)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, fixed indentation, trailing newline (byte-stable)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, dumps_json(obj))


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def jsonl_text(rows: Iterable[dict]) -> str:
    """JSON lines, one object per line with sorted keys: the same rows give the same bytes."""
    return "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> str:
    """Write `rows` as JSON lines, atomically; return the sha256 of the file."""
    data = jsonl_text(rows).encode("utf-8")
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def append_jsonl(f, rows: Iterable[dict]) -> None:
    """Append `rows` to an open JSON-lines file and make them durable (fsync) before returning."""
    f.write(jsonl_text(rows))
    f.flush()
    os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a folder in a temporary sibling; rename it to `path` on success.

    An existing `path` is replaced only after the new one is complete. On error
    the temporary folder is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual mode
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_tree(path: str | Path) -> str:
    """One hash for a file or a folder (relative paths and contents, in sorted order)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(p.relative_to(path).as_posix().encode() + b"\0")
        h.update(sha256_file(p).encode() + b"\n")
    return h.hexdigest()


def is_interactive() -> bool:
    return sys.stderr.isatty()


def progress(items: Iterable[T], desc: str, total: int | None = None, every: float = 10.0) -> Iterator[T]:
    """A tqdm bar on a terminal; plain timestamped lines in logs (SLURM, CI, pipes).

    In non-interactive mode a line is printed at most every `every` seconds and
    once at the end, so logs stay readable.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if is_interactive():
        from tqdm import tqdm

        yield from tqdm(items, desc=desc, total=total, file=sys.stderr)
        return
    start = last = time.monotonic()
    n = 0
    for n, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every:
            last = now
            _progress_line(desc, n, total, now - start)
    _progress_line(desc, n, total, time.monotonic() - start)


def _progress_line(desc: str, n: int, total: int | None, elapsed: float) -> None:
    of = f"/{total}" if total is not None else ""
    rate = n / elapsed if elapsed > 0 else 0.0
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {desc}: {n}{of} ({rate:.1f}/s, {elapsed:.0f}s)", file=sys.stderr, flush=True)
