"""gnnkit's threading policy (README "Threads"): one thread count, passive OpenMP waiting, small work
on the calling thread, results independent of the thread count on both sides of the threshold."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import torch

import gnnkit
from gnnkit import _threads

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_threads():
    old_t, old_n = torch.get_num_threads(), numba.get_num_threads()
    yield
    torch.set_num_threads(old_t)
    numba.set_num_threads(old_n)


def test_set_num_threads_sets_torch_and_numba(restore_threads):
    gnnkit.set_num_threads(1)
    assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
    assert gnnkit.get_num_threads() == 1
    big = numba.config.NUMBA_NUM_THREADS + 3
    gnnkit.set_num_threads(big)  # numba's share is capped at the size of its pool
    assert torch.get_num_threads() == big and numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
            gnnkit.set_num_threads(bad)


def test_numba_threads_follow_torch_and_threshold(restore_threads):
    torch.set_num_threads(2)
    numba.set_num_threads(1)
    with _threads.numba_threads(_threads.NUMBA_SERIAL_WORK - 1) as parallel:
        assert parallel is False
    with _threads.numba_threads(_threads.NUMBA_SERIAL_WORK) as parallel:
        assert parallel is True
        assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    assert numba.get_num_threads() == 1  # restored
    torch.set_num_threads(1)
    with _threads.numba_threads(10 * _threads.NUMBA_SERIAL_WORK) as parallel:
        assert parallel is False  # one thread configured: the serial twin


def test_passive_wait_policy_when_imported_first():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["PYTHONPATH"] = str(ROOT)
    code = ("import sys; import gnnkit, os; i = gnnkit.thread_info(); "
            "print(os.environ['OMP_WAIT_POLICY'], i['passive_effective'], i['set_by_gnnkit'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["PASSIVE", "True", "True"], out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # the user's choice is kept
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["ACTIVE", "False", "False"], out.stderr


def test_analysis_kernels_serial_equals_parallel(restore_threads):
    """The numba serial twins give the same values as the parallel kernels."""
    from gnnkit.analysis._curvature_numba import (balanced_forman_kernel, balanced_forman_serial,
                                                  ollivier_ricci_kernel, ollivier_ricci_serial)
    from gnnkit.analysis.curvature import simple_graph

    rng = np.random.default_rng(0)
    a = np.triu(rng.random((40, 40)) < 0.15, 1)
    sg = simple_graph(torch.tensor(np.stack(np.nonzero(a))))
    args = (sg.indptr, sg.indices, sg.eu, sg.ev)
    assert np.array_equal(balanced_forman_kernel(*args, 3), balanced_forman_serial(*args, 3))
    z = np.zeros((1, 1), np.uint64)
    orc = (0.5, z, z, False, False, 1 << 40, 0.01, 100, 3)
    p, s = ollivier_ricci_kernel(*args, *orc), ollivier_ricci_serial(*args, *orc)
    assert np.array_equal(p[0], s[0]) and np.array_equal(p[1], s[1])
