"""gnnkit's threading policy (README "Threads"): one thread count for torch, the C++ extension and
numba; no busy-waiting; small work on the calling thread.

Three thread pools can run gnnkit code: torch's intra-op pool (OpenMP, torch's bundled libgomp; the
C++ kernels use it through ``at::parallel_for``), MKL (the same pool in torch's wheels) and numba's
pool (the analysis kernels; numba's ``omp`` layer loads the system libgomp: a second pool).

- **One count.** :func:`set_num_threads` sets torch's intra-op count and numba's (capped at
  ``NUMBA_NUM_THREADS``, the size numba's pool is created with); the numba kernels also read
  torch's count at every call (:func:`numba_threads`), so ``torch.set_num_threads`` governs them
  too. The pools never run at the same time: numba kernels are called from Python between torch
  ops, and a numba kernel never calls torch.
- **No spinning.** libgomp's default lets idle workers spin for ~300k iterations after every
  parallel region; with other processes on the cores the spinning worker steals the time the
  working threads need (measured: Cora GCN 3.8x slower with 2 threads than with 1 beside 4 busy
  loops). :func:`configure_environment` sets ``OMP_WAIT_POLICY=PASSIVE`` when neither it nor
  ``GOMP_SPINCOUNT`` is set. libgomp reads it once, when it is loaded, so it takes effect only if
  gnnkit is imported before torch (``import gnnkit`` first; the ``gnnkit`` command does) or when
  the variable is exported by the user; :func:`thread_info` says whether it did.
- **Small work stays serial.** The numba kernels use their pool only above
  :data:`NUMBA_SERIAL_WORK` element operations (:func:`numba_threads`); below, a serially compiled
  twin runs without touching the pool.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

#: Below this many element operations a numba analysis kernel runs its serial twin on the calling
#: thread (a parallel numba region costs ~20-100 us idle and a scheduler slice on a busy machine).
NUMBA_SERIAL_WORK = 1 << 17

_ENV_STATE = {"set_by_gnnkit": False, "torch_loaded_first": None}


def configure_environment() -> None:
    """Ask libgomp for passive waiting unless the user chose a policy (``OMP_WAIT_POLICY`` or
    ``GOMP_SPINCOUNT`` set); must run before torch (or numba's omp layer) loads libgomp."""
    if _ENV_STATE["torch_loaded_first"] is None:
        _ENV_STATE["torch_loaded_first"] = "torch" in sys.modules
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        _ENV_STATE["set_by_gnnkit"] = True


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in torch's intra-op pool (the C++ kernels, MKL) and in numba's pool.

    Args:
        n (int): number of threads, ``>= 1``. numba's share is capped at ``NUMBA_NUM_THREADS``
            (fixed when numba starts its pool; default: the number of cores).

    Raises:
        ValueError: ``n`` is not a positive integer.

    >>> import gnnkit, torch
    >>> old = gnnkit.get_num_threads()
    >>> gnnkit.set_num_threads(1); torch.get_num_threads()
    1
    >>> gnnkit.set_num_threads(old)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got n={n!r}")
    import torch

    torch.set_num_threads(n)
    _set_numba(n)


def get_num_threads() -> int:
    """The thread count gnnkit uses (torch's intra-op count)."""
    import torch

    return torch.get_num_threads()


def _set_numba(n: int) -> int:
    try:
        import numba
    except ImportError:  # numba is a dependency, but the torch-only parts must not need it
        return 0
    k = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(k)
    return k


@contextmanager
def numba_threads(work: int):
    """Run a numba kernel with gnnkit's policy; yields True when the parallel compilation should
    be called (numba's pool sized to torch's count), False when ``work`` (element operations) is
    below :data:`NUMBA_SERIAL_WORK` or one thread is configured: call the serial twin.

    numba's thread count is per calling thread; it is restored on exit.
    """
    import numba

    threads = get_num_threads()
    if work < NUMBA_SERIAL_WORK or threads <= 1:
        yield False
        return
    old = numba.get_num_threads()
    _set_numba(threads)
    try:
        yield True
    finally:
        numba.set_num_threads(old)


def thread_info() -> dict:
    """What the policy resolved to: thread counts, the wait policy libgomp read, and whether gnnkit
    set it (it could not if torch was imported first and the variable was unset).

    >>> sorted(thread_info())
    ['numba_threads', 'omp_wait_policy', 'passive_effective', 'set_by_gnnkit', 'torch_threads']
    """
    import numba
    import torch

    policy = os.environ.get("OMP_WAIT_POLICY")
    spin = os.environ.get("GOMP_SPINCOUNT")
    effective = (not _ENV_STATE["torch_loaded_first"] or not _ENV_STATE["set_by_gnnkit"]) and (
        (policy or "").upper() == "PASSIVE" or spin == "0")
    return {"torch_threads": torch.get_num_threads(), "numba_threads": numba.get_num_threads(),
            "omp_wait_policy": policy, "set_by_gnnkit": _ENV_STATE["set_by_gnnkit"],
            "passive_effective": bool(effective)}
