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


def _probe_write(directory: Path) -> None:
    """Create and remove a file in ``directory``: the only reliable test (``os.access`` says yes to root
    on read-only mounts and to anyone where ACLs or quotas say no)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".qwave-write-test-")
    except OSError as exc:
        raise QwaveInputError(f"output directory {directory} is not writable: {exc.strerror}") from None
    os.close(fd)
    os.unlink(tmp)


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if the file ``path`` cannot be written."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise QwaveInputError(f"output path {path} is a directory")
    if not parent.is_dir():
        raise QwaveInputError(f"output directory {parent} does not exist")
    _probe_write(parent)
    return path


def check_output_dir(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if the directory ``path`` can neither be written nor created (its first
    existing ancestor must be a writable directory)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise QwaveInputError(f"output path {path} exists and is not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise QwaveInputError(f"cannot create {path}: {existing} is not a directory")
    _probe_write(existing)
    return path


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    """np.savez_compressed, atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return Path(path)
