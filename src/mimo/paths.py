"""Where mimo keeps things ($MIMO_HOME) and how it writes them (atomically)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def home() -> Path:
    """The cache root: ``$MIMO_HOME`` or ``~/.cache/mimo``."""
    return Path(os.environ.get("MIMO_HOME", Path.home() / ".cache" / "mimo")).expanduser()


def models_dir() -> Path:
    return home() / "models"


def data_dir() -> Path:
    return home() / "data"


def downloads_dir() -> Path:
    return home() / "downloads"


def teacher_cache_dir() -> Path:
    return home() / "teacher-cache"


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temp dir beside ``target``; on success it replaces ``target`` in one rename.

    A crash inside the block leaves any previous ``target`` untouched and removes the temp dir.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the usual permissions
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + fsync + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def log_command(path: str | Path, command: str) -> None:
    """Append ``command`` as a line of the commands log ``path`` unless it is already there (atomically)."""
    path = Path(path)
    old = path.read_text() if path.is_file() else ""
    if command not in old.splitlines():
        atomic_write_text(path, old + command + "\n")


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
