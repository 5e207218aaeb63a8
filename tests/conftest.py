"""Shared pytest fixtures for the gnnkit test suite (keep this file small and generic)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import gnnkit  # noqa: F401  (before any test imports torch: gnnkit's thread policy, README "Threads")

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_data_root() -> Path | None:
    """The real-data folder: ``$GNNKIT_DATA``, else ``<repo>/../shared/datasets``; None if absent."""
    env = os.environ.get("GNNKIT_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "datasets")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder with the real datasets (``planetoid/``, ``heterophily/``); skips when absent."""
    root = find_data_root()
    if root is None:
        pytest.skip("real datasets not found: set GNNKIT_DATA or place them in "
                    f"{REPO_ROOT.parent / 'shared' / 'datasets'}")
    return root


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny problems: OpenMP start-up would dominate (and
    explodes on a loaded 2-core machine).  Use as ``pytestmark = pytest.mark.usefixtures(
    "one_thread")``; the previous thread count is restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
