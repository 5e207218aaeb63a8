"""Property-based fuzzing of every op of ``TORCH_LIBRARY(gnnkit, ...)`` (issue #14).

The cases live in ``fuzz_ops_cases.py`` (one entry per op); they run in a subprocess so that a
crash (a signal) fails the test with the last case started, instead of killing the test run.
The CI-sized run (20 examples per op, derandomized) is in the default suite; ``-m slow`` runs
400 random examples per op.
"""
import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is in the 'test' extra: pip install hypothesis")

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "fuzz_ops_cases.py"


def _cases():
    spec = importlib.util.spec_from_file_location("fuzz_ops_cases", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_every_op_has_fuzz_coverage():
    mod = _cases()
    missing = sorted(set(mod.schema_ops()) - set(mod.CASES))
    assert not missing, (f"ops without fuzz coverage: {missing}; add a @case('<op>') entry to "
                         f"{SCRIPT.relative_to(HERE.parents[1])}")
    stale = sorted(set(mod.CASES) - set(mod.schema_ops()))
    assert not stale, f"fuzz cases for ops that are not in the schema: {stale}"


def run_fuzz(examples: int, seed=None, timeout=600):
    cmd = [sys.executable, str(SCRIPT), "--examples", str(examples)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    cases = [ln for ln in p.stderr.splitlines() if ln.startswith("CASE ")]
    if p.returncode < 0 or not p.stdout.strip().splitlines()[-1:] or \
            not p.stdout.strip().splitlines()[-1].startswith("SUMMARY "):
        pytest.fail(f"fuzz worker died (exit {p.returncode}) during: {cases[-1] if cases else '?'}\n"
                    f"{p.stderr[-3000:]}")
    summary = json.loads(p.stdout.strip().splitlines()[-1][len("SUMMARY "):])
    return summary, len(cases)


def _assert_clean(summary):
    failures = {op: v["failure"] for op, v in summary.items() if v["failure"]}
    assert not failures, "\n\n".join(f"{op}: {msg}" for op, msg in failures.items())
    for op, v in summary.items():
        assert v["ok"] > 0, f"{op}: no valid case ran (the generator only produced errors)"
        assert v["typed_error"] > 0, f"{op}: no malformed case ran"


def test_fuzz_ops_ci():
    summary, n = run_fuzz(20)
    _assert_clean(summary)


@pytest.mark.slow
def test_fuzz_ops_long():
    seed = random.randrange(2**31)
    print(f"fuzz seed {seed}")
    summary, n = run_fuzz(400, seed=seed, timeout=3600)
    _assert_clean(summary)
