"""Peer environments of the benchmarks: one command creates them, every benchmark finds them.

Peers that pin old numpy/scipy (GraphRicciCurvature, PecanPy, gensim) must not enter gnnkit's
environment, so each group lives in its own virtualenv under one git-ignored folder,
``$GNNKIT_PEERS_DIR`` or ``<repository>/.peers``; a benchmark runs the peer with that venv's python
as a subprocess. PyG is a test extra of gnnkit and is used from the main environment; a ``pyg``
venv exists only for runs that want PyG isolated.

    python experiments/peers.py setup            # every peer (downloads from PyPI)
    python experiments/peers.py setup ricci      # one group
    python experiments/peers.py list             # what exists, with versions

In a benchmark::

    from peers import peer_python
    py = peer_python("ricci")        # Path of the venv's python, or None (the message says how to make it)

Groups: ``ricci`` (GraphRicciCurvature + POT + networkx: exact ORC), ``pecanpy`` (PecanPy + gensim:
node2vec walks and word2vec training), ``pyg`` (torch 2.13.0 CPU + torch_geometric). A venv counts as
present once its imports were checked after installation (``.peer-ok`` with the versions).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: group -> (pip requirement lines, modules whose import proves the install, needs torch first)
PEERS: dict[str, dict] = {
    "ricci": {"packages": ["GraphRicciCurvature", "networkx", "pot", "numpy"],
              "imports": ["GraphRicciCurvature", "ot", "networkx", "scipy"], "torch": False,
              "what": "GraphRicciCurvature (exact Ollivier-Ricci, bench_analysis.py)"},
    "pecanpy": {"packages": ["pecanpy", "gensim"], "imports": ["pecanpy", "gensim", "numba", "numba_progress"], "torch": False,
                "what": "PecanPy + gensim (node2vec walks / word2vec, bench_precompute.py, link benchmarks)"},
    "pyg": {"packages": ["torch-geometric"], "imports": ["torch", "torch_geometric"], "torch": True,
            "what": "PyG in its own venv (the main environment's PyG is used by default)"},
}
TORCH_PIN = "torch==2.13.0"  # the CPU wheel gnnkit is built against (a local file on these machines)
STAMP = ".peer-ok"


def peers_dir() -> Path:
    """``$GNNKIT_PEERS_DIR`` or ``<repository>/.peers``."""
    env = os.environ.get("GNNKIT_PEERS_DIR")
    return Path(env).expanduser().resolve() if env else ROOT / ".peers"


def setup_command(group: str | None = None) -> str:
    return f"python {Path(__file__).relative_to(ROOT)} setup" + (f" {group}" if group else "")


def _python(d: Path) -> Path:
    return d / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def peer_python(group: str, quiet: bool = False) -> Path | None:
    """The python of peer group ``group`` if it was set up (and its imports checked), else None
    after printing how to create it (unless ``quiet``)."""
    if group not in PEERS:
        raise ValueError(f"peer_python: unknown group {group!r}; known: {', '.join(PEERS)}")
    d = peers_dir() / group
    py = _python(d)
    if py.exists() and (d / STAMP).exists():
        return py
    if not quiet:
        print(f"peer {group!r} ({PEERS[group]['what']}) not found in {d}; create it with: "
              f"{setup_command(group)}", flush=True)
    return None


def peer_versions(group: str) -> dict:
    """Versions recorded when the group was set up ({} when absent)."""
    f = peers_dir() / group / STAMP
    return json.loads(f.read_text()) if f.exists() else {}


def _run(cmd: list, log) -> None:
    print("+ " + " ".join(map(str, cmd)), file=log, flush=True)
    r = subprocess.run([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError(f"command failed (exit {r.returncode}): {' '.join(map(str, cmd))}; see the log above")


def setup(group: str, force: bool = False, log=sys.stdout) -> Path:
    """Create (or complete) the venv of ``group`` and check its imports; returns its python."""
    spec = PEERS[group]
    d = peers_dir() / group
    py = _python(d)
    if force or not py.exists():
        venv.EnvBuilder(with_pip=True, clear=force).create(d)
    (d / STAMP).unlink(missing_ok=True)
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    if spec["torch"]:  # torch first, pinned: otherwise a dependency may pull another torch
        _run(pip + [TORCH_PIN], log)
    _run(pip + spec["packages"], log)
    probe = ("import importlib, json, sys\nv = {}\nfor m in sys.argv[1:]:\n"
             "    mod = importlib.import_module(m)\n    v[m] = getattr(mod, '__version__', '?')\n"
             "print(json.dumps(v))")
    r = subprocess.run([str(py), "-c", probe, *spec["imports"]], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"peer {group!r}: import check failed:\n{r.stderr[-3000:]}")
    versions = json.loads(r.stdout.strip().splitlines()[-1])
    (d / STAMP).write_text(json.dumps(versions))
    return py


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup", help="create peer venvs (all groups when none is named)")
    s.add_argument("groups", nargs="*", help=f"groups: {', '.join(PEERS)}")
    s.add_argument("--force", action="store_true", help="recreate the venvs from scratch")
    sub.add_parser("list", help="show the peer venvs and their versions")
    a = p.parse_args(argv)
    if a.cmd == "list":
        print(f"peers folder: {peers_dir()}")
        for g, spec in PEERS.items():
            py = peer_python(g, quiet=True)
            print(f"  {g:8s} {'present' if py else 'absent '}  {peer_versions(g) or setup_command(g)}"
                  f"   # {spec['what']}")
        return 0
    groups = a.groups or list(PEERS)
    bad = [g for g in groups if g not in PEERS]
    if bad:
        p.error(f"unknown peer group(s) {bad}; known: {', '.join(PEERS)}")
    peers_dir().mkdir(parents=True, exist_ok=True)
    failed = []
    for g in groups:
        print(f"== {g}: {PEERS[g]['what']} -> {peers_dir() / g}", flush=True)
        try:
            setup(g, force=a.force)
            print(f"== {g}: ok {peer_versions(g)}", flush=True)
        except Exception as e:  # keep going: one failed group should not block the others
            print(f"== {g}: FAILED: {e}", flush=True)
            failed.append(g)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
