"""The teacher: the paper's space-splitting solver, made fast by exact linear algebra.

For a fixed potential the map from one saved frame to the next is a fixed unitary matrix
``U = S**steps_per_frame``, where ``S`` is one space-splitting step.  We build ``S`` by
applying one step to the identity and raise it to the frame cadence by repeated squaring;
then every frame of every packet sharing that potential is one matrix product.  This is
the same scheme as :mod:`qwave.physics.reference`, only reassociated: results agree to rounding.

U is also local: in one frame (0.1 a.u.) amplitude moves a few tens of cells at most, and
|U_ij| < 1e-20 beyond ~40 cells on the paper's grid.  Both U and the powers of S that build
it are therefore kept as periodic block-tridiagonal matrices (blocks of ``block`` cells),
dropping only entries below ``BAND_TOL`` relative to the largest -- far below the double
precision rounding of the sums they would enter.  When a grid's propagator is not that
local (coarse cells, long frames) everything falls back to dense matrices.

Parallelism: the products are small (64-cell blocks), where a multithreaded BLAS only adds
synchronisation -- and on a busy machine its spinning threads slow a run by 10-100x.  So BLAS
runs single-threaded here, and a batch of packets is split into column chunks that separate
threads (numpy releases the GIL) advance through all frames independently.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid
from qwave.physics.potentials import check_potential
from qwave.physics.reference import ssm_step

BAND_TOL = 1e-18
OFFSETS = (-1, 0, 1)
MIN_COLUMNS = 4  # packets per thread below which splitting a batch does not pay


def step_matrix(grid: Grid, v: np.ndarray) -> np.ndarray:
    """The one-step operator S as a dense (nx, nx) matrix: column j is S applied to cell j."""
    return ssm_step(np.eye(grid.nx, dtype=np.complex128), v, grid).T


def _to_blocks(dense: np.ndarray, block: int) -> np.ndarray:
    """(nb, 3, block, block): [i, k] is the block at block-row i, block-column i + k - 1."""
    nb = dense.shape[0] // block
    tiles = dense.reshape(nb, block, nb, block).transpose(0, 2, 1, 3)
    rows = np.arange(nb)
    return np.stack([tiles[rows, (rows + k) % nb] for k in OFFSETS], axis=1)


def _from_blocks(blocks: np.ndarray) -> np.ndarray:
    nb, _, block, _ = blocks.shape
    tiles = np.zeros((nb, nb, block, block), dtype=blocks.dtype)
    rows = np.arange(nb)
    for k in OFFSETS:
        tiles[rows, (rows + k) % nb] = blocks[:, k + 1]
    return tiles.transpose(0, 2, 1, 3).reshape(nb * block, nb * block)


def _block_product(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """a @ b for block-tridiagonal a, b; None if the product is not block-tridiagonal to BAND_TOL."""
    nb = a.shape[0]
    rows = np.arange(nb)
    out = np.zeros_like(a)
    dropped = 0.0
    for p in OFFSETS:
        for q in OFFSETS:
            term = np.matmul(a[:, p + 1], b[(rows + p) % nb, q + 1])
            if abs(p + q) <= 1:
                out[:, p + q + 1] += term
            else:
                dropped = max(dropped, float(np.abs(term).max()))
    if dropped > BAND_TOL * float(np.abs(out).max()):
        return None
    return out


def _power(s, n: int, product):
    """s**n by binary exponentiation (about 2 log2 n products); None if a product fails."""
    result, base = None, s
    while n:
        if n & 1:
            result = base if result is None else product(base, result)
            if result is None:
                return None
        n >>= 1
        if n:
            base = product(base, base)
            if base is None:
                return None
    return result


def _block_size(grid: Grid) -> int | None:
    """A block comfortably wider than one frame's reach (4x the lattice light cone + 16 cells)."""
    reach = 4 * grid.frame_dt / grid.dx**2 + 16
    block = 1 << int(np.ceil(np.log2(reach)))
    if grid.nx % block or grid.nx // block < 4:
        return None
    return block


@dataclasses.dataclass(frozen=True)
class FramePropagator:
    """psi(t + frame_dt) = U psi(t) for one potential, banded (``blocks``) or ``dense``."""

    blocks: np.ndarray | None  # (nb, 3, block, block), see _to_blocks
    dense: np.ndarray | None

    def to_dense(self) -> np.ndarray:
        return self.dense if self.blocks is None else _from_blocks(self.blocks)

    @functools.cached_property
    def rows(self) -> np.ndarray:
        """(nb, block, 3 block): block-row i acting on block-columns [i-1 | i | i+1]."""
        nb, _, block, _ = self.blocks.shape
        return np.ascontiguousarray(self.blocks.transpose(0, 2, 1, 3).reshape(nb, block, 3 * block))

    def frames(self, psi: np.ndarray, n: int) -> Iterator[np.ndarray]:
        """Yield psi (nx, batch) after 1, 2, ..., n frames; the yielded array is reused, copy what you keep.

        The banded form keeps the state in a buffer with one periodic ghost block at each end, so
        the three neighbouring blocks every block-row needs are an overlapping strided view: one
        batched product per frame and no copies.
        """
        if self.blocks is None:
            for _ in range(n):
                psi = self.dense @ psi
                yield psi
            return
        nb, _, block, _ = self.blocks.shape
        batch = psi.shape[1]
        rows = self.rows
        cur, nxt = (np.empty((nb + 2, block, batch), np.complex128) for _ in range(2))
        cur[1:-1] = psi.reshape(nb, block, batch)
        item = cur.itemsize
        for _ in range(n):
            cur[0], cur[-1] = cur[-2], cur[1]
            neighbours = np.lib.stride_tricks.as_strided(
                cur, (nb, 3 * block, batch), (block * batch * item, batch * item, item), writeable=False
            )
            np.matmul(rows, neighbours, out=nxt[1:-1])
            cur, nxt = nxt, cur
            yield cur[1:-1].reshape(nb * block, batch)

    def __call__(self, psi: np.ndarray) -> np.ndarray:
        """Advance psi of shape (nx, batch) by one frame."""
        return next(self.frames(np.asarray(psi, np.complex128), 1)).copy()


def frame_propagator(grid: Grid, v: np.ndarray) -> FramePropagator:
    """The one-frame propagator for the potential ``v`` (the last few are cached)."""
    v = check_potential(grid, v)
    return _cached_propagator(grid, v.tobytes(), hashlib.sha1(v.tobytes()).hexdigest())


@functools.lru_cache(maxsize=4)
def _cached_propagator(grid: Grid, v_bytes: bytes, _key: str) -> FramePropagator:
    v = np.frombuffer(v_bytes, dtype=np.float64)
    s = step_matrix(grid, v)
    block = _block_size(grid)
    with threadpool_limits(1, user_api="blas"):
        if block is not None:
            u = _power(_to_blocks(s, block), grid.steps_per_frame, _block_product)
            if u is not None:
                return FramePropagator(np.ascontiguousarray(u), None)
    return FramePropagator(None, _power(s, grid.steps_per_frame, np.matmul))


def simulate(
    psi0: np.ndarray,
    v: np.ndarray,
    grid: Grid,
    n_frames: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Evolve one packet (nx,) or a batch (batch, nx) sharing the potential ``v``.

    Returns complex128 frames of shape (..., n_frames, nx), frame 0 being ``psi0``.
    """
    n_frames = grid.n_frames if n_frames is None else int(n_frames)
    if n_frames < 1:
        raise QwaveInputError(f"n_frames must be >= 1, got {n_frames}")
    psi0 = np.asarray(psi0, dtype=np.complex128)
    if psi0.shape[-1] != grid.nx or psi0.ndim not in (1, 2):
        raise QwaveInputError(f"psi0 must have shape ({grid.nx},) or (batch, {grid.nx}), got {psi0.shape}")
    if not np.all(np.isfinite(psi0)):
        raise QwaveInputError("psi0 has non-finite values (NaN or inf)")
    batch = psi0.reshape(-1, grid.nx)
    out = np.empty((batch.shape[0], n_frames, grid.nx), dtype=np.complex128)
    out[:, 0] = batch
    workers = max(1, min(os.cpu_count() or 1, batch.shape[0] // MIN_COLUMNS))
    bounds = np.linspace(0, batch.shape[0], workers + 1).astype(int)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_frames - 1, desc="frames", unit="frame", leave=False)

    def advance(chunk: slice, report: bool) -> None:
        for n, state in enumerate(u.frames(np.ascontiguousarray(batch[chunk].T), n_frames - 1), start=1):
            out[chunk, n] = state.T
            if report and bar is not None:
                bar.update(1)

    u = frame_propagator(grid, v)
    with threadpool_limits(1, user_api="blas"):
        chunks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        if workers == 1:
            advance(chunks[0], True)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(advance, chunks, [True] + [False] * (workers - 1)))
    if bar is not None:
        bar.close()
    return out[0] if psi0.ndim == 1 else out
