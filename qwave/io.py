"""Atomic file writing: write beside the target, then rename, so nothing is left half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from qwave.errors import QwaveInputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success."""
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if ``path`` cannot be written."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise QwaveInputError(f"output path {path} is a directory")
    if not parent.is_dir():
        raise QwaveInputError(f"output directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise QwaveInputError(f"output directory {parent} is not writable")
    return path


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    """np.savez_compressed, atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return Path(path)
