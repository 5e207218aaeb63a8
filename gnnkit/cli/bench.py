"""``gnnkit bench``: train models x datasets x runs and write a results directory.

Examples::

    gnnkit bench                                   # embedded default: a generated cSBM graph
    gnnkit bench --dataset ogbn-arxiv --model gcn gat dagnn --runs 10 --root DATA
    gnnkit bench --suite ogbn --root DATA          # experiments/configs/ogbn.yaml
    gnnkit bench --config my.yaml --out results/my # re-run the same --out to resume
    gnnkit bench --dataset csbm --nodes 300 --homophily 0.2 --model gcn mlp --epochs 50

With no dataset, config or suite it runs the embedded default: a generated cSBM graph (3000
nodes, 5 classes, average degree 8, edge homophily 0.8, feature SNR 1; an MLP reaches ~50 %, the
graph models ~96 %) with mlp, gcn, gat and dagnn, 2 runs of at most 100 epochs (patience 30),
single-threaded unless ``--threads``; about 15 s of CPU time.  ``--model`` without ``--dataset``
uses the same graph.

Runs: ``--runs N`` trains N runs, run i with seed i on split ``i mod S`` (S: the dataset's
number of splits; ogbn-* have one, the heterophily datasets ten), the usual protocol;
``--seeds`` with ``--splits`` trains the full product instead.

Output (``--out DIR``, default ``results/<UTC timestamp>-<name>``): ``runs.jsonl`` (one record per
finished run, appended as it finishes), ``results.json``, ``results.csv`` and ``results.md``
(mean ± std of the test and validation metric (OGB's Evaluator on ogbn-* datasets), time per
epoch, peak memory, parameters), regenerated from ``runs.jsonl``.  Re-running with the same
``--out`` skips finished runs.  The Markdown table is printed at the end.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import os
import sys
import time
from pathlib import Path

from gnnkit.cli._parser import add_command

__all__ = ["register", "DEFAULT_PLAN"]

# The embedded default benchmark (`gnnkit bench` with no dataset): a cSBM graph on which the
# graph matters (feature SNR 1 alone gives an MLP ~60 %, homophily 0.8 lets GCN/GAT/DAGNN reach
# ~95 %), sized so that four models x 2 runs finish in well under a minute on 2 CPU cores.
DEFAULT_CSBM = {"num_nodes": 3000, "num_classes": 5, "avg_degree": 8.0, "homophily": 0.8,
                "feature_dim": 32, "snr": 1.0, "seed": 0, "num_splits": 1}
DEFAULT_MODELS = ["mlp", "gcn", "gat", "dagnn"]
DEFAULT_RUNS = 2
DEFAULT_TRAIN = {"epochs": 100, "patience": 30}
DEFAULT_PLAN = {"name": "default", "description": "embedded default: cSBM, 3000 nodes, 5 classes, "
                "edge homophily 0.8", "runs": DEFAULT_RUNS, "train": DEFAULT_TRAIN,
                "models": DEFAULT_MODELS, "datasets": [{"name": "csbm", "args": DEFAULT_CSBM}]}

_CSBM_FLAGS = {"nodes": "num_nodes", "classes": "num_classes", "avg_degree": "avg_degree",
               "homophily": "homophily", "feature_dim": "feature_dim", "snr": "snr",
               "data_seed": "seed", "num_splits": "num_splits"}


def _int_type(minimum: int, what: str):
    """An argparse ``type``: an int ``>= minimum``, else "expected <what>, got '<text>'"."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v

    return parse


_pos_int = _int_type(1, "a positive integer")
_nonneg_int = _int_type(0, "an integer >= 0")


def register(subparsers) -> None:
    p = add_command(subparsers, "bench", "benchmark models x datasets x runs (resumable)", __doc__)
    what = p.add_argument_group("what to run")
    src = what.add_mutually_exclusive_group()
    src.add_argument("--suite", default=None, help="a config of experiments/configs (e.g. ogbn)")
    src.add_argument("--config", default=None, help="a YAML config file")
    what.add_argument("--dataset", "-d", nargs="+", default=None, metavar="NAME",
                      help="datasets (with --suite/--config: only these of the config)")
    what.add_argument("--model", "-m", nargs="+", default=None, metavar="NAME",
                      help="models from the registry (with --suite/--config: only these)")
    what.add_argument("--runs", "-r", type=_pos_int, default=None,
                      help="runs per model and dataset: seed i on split i mod #splits")
    what.add_argument("--seeds", type=_nonneg_int, nargs="+", default=None,
                      help="explicit seeds (instead of --runs)")
    what.add_argument("--splits", type=_nonneg_int, nargs="+", default=None,
                      help="explicit split indices; runs every seed on every split")
    what.add_argument("--task", "-t", default=None, metavar="KIND",
                      help="task kind: node (default), link, graph or any registered kind "
                           "(gnnkit.tasks.register_task_kind); a config's `task:` otherwise")
    what.add_argument("--list", action="store_true", help="list models, datasets and suites, exit")

    tr = p.add_argument_group("training overrides (all runs)")
    tr.add_argument("--epochs", type=_pos_int, default=None)
    tr.add_argument("--patience", type=_pos_int, default=None)
    tr.add_argument("--lr", type=float, default=None)
    tr.add_argument("--weight-decay", type=float, default=None)
    tr.add_argument("--batch-size", type=_pos_int, default=None,
                    help="mini-batches of this many seed nodes (with --fanouts): sampled blocks")
    tr.add_argument("--fanouts", type=int, nargs="+", default=None, metavar="K",
                    help="neighbours sampled per layer (-1: all), one per layer")

    gen = p.add_argument_group("generated cSBM graph (--dataset csbm)")
    gen.add_argument("--nodes", type=_pos_int, default=None, help="(default: 3000)")
    gen.add_argument("--classes", type=_pos_int, default=None, help="(default: 5)")
    gen.add_argument("--avg-degree", type=float, default=None, help="(default: 8)")
    gen.add_argument("--homophily", type=float, default=None, help="edge homophily (default: 0.8)")
    gen.add_argument("--feature-dim", type=_pos_int, default=None, help="(default: 32)")
    gen.add_argument("--snr", type=float, default=None, help="feature signal/noise (default: 1)")
    gen.add_argument("--data-seed", type=_nonneg_int, default=None, help="(default: 0)")
    gen.add_argument("--num-splits", type=_pos_int, default=None, help="(default: 1)")

    io = p.add_argument_group("data, device and output")
    io.add_argument("--root", default=None, help="data folder (default: $GNNKIT_DATA, then the "
                                                  "shared and cache folders)")
    io.add_argument("--download", action="store_true", help="download missing OGB datasets")
    io.add_argument("--symmetrize", action="store_true",
                    help="make every dataset's graph undirected (add the reverse of each arc, repeats "
                         "merged), as OGB's reference GCN/SAGE do on ogbn-arxiv; a config can say "
                         "`args: {symmetrize: true}` per dataset")
    io.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    io.add_argument("--out", "-o", default=None,
                    help="results directory (default: results/<timestamp>-<name>); reuse to resume")
    io.add_argument("--name", default=None, help="name used in the default --out")
    io.add_argument("--threads", type=_pos_int, default=None,
                    help="CPU threads of torch and the gnnkit kernels (default: torch's default)")
    io.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    io.add_argument("--progress", choices=["bar", "lines", "quiet"], default=None,
                    help="progress style (default: bars on a terminal, lines otherwise)")
    p.set_defaults(func=lambda args: _run(args, p))


# ---------------------------------------------------------------------- plan
def _build_plan(args, parser):
    from gnnkit.cli._config import load_config, parse_config, suite_path

    if args.suite or args.config:
        path = suite_path(args.suite) if args.suite else args.config
        plan = load_config(path)
        if args.dataset:
            plan.datasets = _filter(plan.datasets, args.dataset, "--dataset", plan.source, parser,
                                    norm=lambda s: s.lower().replace("-", "_"))
        if args.model:
            wanted = [m.lower() for m in args.model]
            have = {m.name for d in plan.datasets for m in d.models}
            missing = [m for m in wanted if m not in have]
            if missing:
                parser.error(f"--model {missing[0]} is not in {plan.source} (its models: "
                             f"{', '.join(sorted(have))})")
            for d in plan.datasets:
                d.models = [m for m in d.models if m.name in wanted]
            plan.datasets = [d for d in plan.datasets if d.models]
    elif args.dataset or args.model:
        dnames = args.dataset or ["csbm"]
        default_name = "-".join((Path(n).stem if n.lower().endswith(".npz") else n).lower()
                                .replace("_", "-") for n in dnames)[:48]
        doc = {"name": args.name or default_name, "models": args.model or DEFAULT_MODELS,
               "datasets": [{"name": n} for n in dnames]}
        plan = parse_config(doc, source="flags")
        plan.skip_missing = False
        if all(d.name == "csbm" for d in plan.datasets):
            plan.train = dict(DEFAULT_TRAIN)  # the generated graph's quick protocol
    else:
        plan = parse_config(copy.deepcopy(DEFAULT_PLAN), source="default")
    # csbm flags
    given = {v: getattr(args, k) for k, v in _CSBM_FLAGS.items() if getattr(args, k) is not None}
    if given:
        csbm = [d for d in plan.datasets if d.name == "csbm"]
        if not csbm:
            parser.error(f"--{next(k for k, v in _CSBM_FLAGS.items() if v in given).replace('_', '-')} "
                         "only applies to --dataset csbm")
        for d in csbm:
            d.args = {**(d.args or DEFAULT_CSBM), **given}
    for d in plan.datasets:
        if d.name == "csbm" and not d.args:
            d.args = dict(DEFAULT_CSBM)
    if args.symmetrize:  # the generated cSBM graph is undirected already
        for d in plan.datasets:
            if d.name != "csbm":
                d.args = {**(d.args or {}), "symmetrize": True}
    # runs
    if args.runs is not None and args.seeds is not None:
        parser.error("give --runs or --seeds, not both")
    if args.runs is not None:
        plan.seeds = list(range(args.runs))
    if args.seeds is not None:
        if len(set(args.seeds)) != len(args.seeds):
            parser.error(f"--seeds lists a seed twice: {args.seeds}")
        plan.seeds = list(args.seeds)
    if args.splits is not None:
        plan.splits = sorted(set(args.splits))
    if args.name:
        plan.name = args.name
    if args.task is not None:
        plan.task = args.task
    return plan


def _filter(datasets, wanted, flag, source, parser, norm):
    keep, names = [], [d.label for d in datasets]
    for w in wanted:
        hit = [d for d in datasets if norm(w) in (norm(d.name), norm(d.label))]
        if not hit:
            parser.error(f"{flag} {w} is not in {source} (its datasets: {', '.join(names)})")
        keep += [h for h in hit if h not in keep]
    return keep


def _train_overrides(args) -> dict:
    out = {}
    for k in ("epochs", "patience", "lr", "weight_decay", "batch_size", "fanouts"):
        v = getattr(args, k)
        if v is not None:
            out[k] = v
    return out


def _resolve_device(text: str):
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {text!r}: expected cpu, cuda or cuda:N") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ValueError(f"--device {text!r}: only cpu and cuda are supported")
    if not torch.cuda.is_available():
        raise RuntimeError(f"--device {text}: no CUDA GPU is visible to torch {torch.__version__} "
                           f"(CUDA build: {torch.version.cuda or 'no, a CPU-only torch'}); run with "
                           "--device cpu")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise RuntimeError(f"--device {text}: only {torch.cuda.device_count()} GPU(s) visible")
    from gnnkit._ext import has_cuda

    if not has_cuda():
        raise RuntimeError(f"--device {text}: gnnkit._C was built without CUDA kernels; rebuild "
                           "with a CUDA torch and nvcc (see README, 'CUDA')")
    return dev


def _to_device(ds, device):
    """A shallow copy of ``ds`` with its graph, features and labels on ``device`` (no
    re-validation).  The split indices stay on the CPU: they index GPU tensors fine, and
    ``NodeDataset.evaluate`` (OGB's Evaluator) indexes CPU copies of the labels with them."""
    if device.type == "cpu":
        return ds
    out = copy.copy(ds)
    out.graph = ds.graph.to(device)
    out.x, out.y = ds.x.to(device), ds.y.to(device)
    return out


def _pairs(plan, num_splits: int) -> list[tuple[int, int]]:
    """(seed, split) of every run."""
    if plan.splits is None:
        return [(s, i % num_splits) for i, s in enumerate(plan.seeds)]
    bad = [s for s in plan.splits if s >= num_splits]
    if bad:
        raise ValueError(f"--splits {bad[0]}: the dataset has {num_splits} split(s) "
                         f"(0..{num_splits - 1})")
    return [(seed, sp) for sp in plan.splits for seed in plan.seeds]


def _done(finished: dict, ds: str, model: str, fp: str, cyclic: bool) -> set:
    """Seeds (cyclic protocol) or (seed, split) pairs already recorded with fingerprint ``fp``."""
    out = set()
    for (d, m, split, seed), f in finished.items():
        if d == ds and m == model and f == fp:
            out.add(seed if cyclic else (seed, split))
    return out


def _default_out(name: str) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{stamp}-{name}"


# ---------------------------------------------------------------------- run
def _run(args, parser) -> int:
    if args.list:
        return _list()
    from gnnkit.cli._config import ConfigError, check_models, fingerprint, resolve_run_settings
    from gnnkit.cli._progress import choose_mode
    from gnnkit.cli._results import ResultsDir
    from gnnkit.tasks import task_kinds

    plan = _build_plan(args, parser)
    if plan.task not in task_kinds():
        parser.error(f"--task {plan.task}: unknown task kind; registered kinds: {', '.join(task_kinds())}")
    mode = choose_mode(args.quiet, args.progress)
    check_models(plan, warn=lambda s: print(f"gnnkit bench: warning: {s}", file=sys.stderr))
    if not plan.datasets:
        raise ConfigError(f"{plan.source}: nothing to run (no dataset has a registered model)")
    device = _resolve_device(args.device)
    threads = args.threads
    if threads is None and plan.source == "default":
        # The embedded default graph is small: one thread loses little on an idle machine and
        # keeps the run fast on a busy one (spinning worker threads of an oversubscribed CPU
        # made it up to 10x slower in our measurements).
        threads = 1
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    overrides = _train_overrides(args)
    cyclic = plan.splits is None

    # Resolve every (dataset, model) setting up front: bad values fail before any training.
    jobs = []
    for ds in plan.datasets:
        for m in ds.models:
            try:
                mk, tk = resolve_run_settings(m, ds, plan, overrides)
            except ValueError as e:
                raise ConfigError(f"{plan.source}: {ds.name} / {m.name}: {e}") from None
            parts = (ds.label, ds.name, ds.args, m.name, mk, tk, "cyclic" if cyclic else "product",
                     device.type)
            fp = fingerprint(*parts) if plan.task == "node" else fingerprint(*parts, plan.task)
            jobs.append((ds, m, mk, tk, fp))

    out = Path(args.out) if args.out else _default_out(plan.name)
    rdir = ResultsDir(out)
    created = not out.exists()  # a bench that records no run removes the folder it created
    rdir.create()
    try:
        return _run_jobs(args, plan, jobs, rdir, out, device, mode, cyclic)
    finally:
        if created and not rdir.runs_file.is_file():
            import shutil

            shutil.rmtree(out, ignore_errors=True)


def _run_jobs(args, plan, jobs, rdir, out, device, mode, cyclic) -> int:
    from gnnkit.cli._config import ConfigError
    from gnnkit.cli._progress import Progress
    from gnnkit.cli._results import ResultsError

    finished = rdir.finished()
    for ds, m, mk, tk, fp in jobs:
        other = {f for (d, mm, _, _), f in finished.items() if d == ds.label and mm == m.name} - {fp}
        if other:
            raise ResultsError(f"{out}/runs.jsonl holds runs of {m.name} on {ds.label} with other "
                               "settings (model, training, dataset or device); use another --out, "
                               "or delete those records to redo them")
    rdir.write_plan({"name": plan.name, "task": plan.task, "source": plan.source, "argv": sys.argv,
                     "seeds": plan.seeds, "splits": plan.splits, "device": str(device),
                     "jobs": [{"dataset": d.label, "dataset_name": d.name, "dataset_args": d.args, "model": m.name,
                               "model_kwargs": mk, "train": tk, "fingerprint": fp}
                              for d, m, mk, tk, fp in jobs]})
    runs_per_job = len(plan.seeds) * (1 if cyclic else len(plan.splits))
    prog = Progress(mode, runs_per_job * len(jobs))
    prog.info(f"gnnkit bench {plan.name}: {len(plan.datasets)} dataset(s), {len(jobs)} "
              f"model/dataset pair(s), {runs_per_job} run(s) each, device {device}; results in {out}")
    meta = {"name": plan.name, "task": plan.task, "description": plan.description, "source": plan.source,
            "device": str(device), "command": " ".join(["gnnkit"] + sys.argv[1:])}
    failures, skipped_data, ran_any = [], [], False
    t_start = time.perf_counter()
    try:
        for ds_spec in plan.datasets:
            ds_jobs = [j for j in jobs if j[0] is ds_spec]
            todo = [(j, _done(finished, ds_spec.label, j[1].name, j[4], cyclic)) for j in ds_jobs]
            if all(len(done) >= runs_per_job for _, done in todo):
                for (_, m, *_), done in todo:
                    prog.skip(runs_per_job, f"{m.name} on {ds_spec.label}")
                ran_any = True
                continue
            dataset = _load(ds_spec, args, plan, prog)
            if dataset is None:
                skipped_data.append(ds_spec.label)
                prog.advance(runs_per_job * len(ds_jobs))
                continue
            ran_any = True
            try:
                pairs = _pairs(plan, max(dataset.num_splits, 1))
            except ValueError as e:
                raise ConfigError(f"{ds_spec.name}: {e}") from None
            dev_ds = None
            for (ds, m, mk, tk, fp), done in todo:
                left = [(s, sp) for s, sp in pairs if (s if cyclic else (s, sp)) not in done]
                if len(left) < len(pairs):
                    prog.skip(len(pairs) - len(left), f"{m.name} on {ds.label}")
                try:
                    minibatch = tk.get("batch_size") is not None
                    if not minibatch and dev_ds is None:
                        dev_ds = _to_device(dataset, device)
                    tasks: dict = {}
                    for seed, split in left:
                        rec = _one_run(dataset if minibatch else dev_ds, ds, m, mk, tk, fp, seed, split,
                                       device, prog, plan.task, tasks)
                        rdir.append(rec)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as e:  # noqa: BLE001 - report, go on with the other models
                    prog.abort_run()
                    msg = f"{m.name} on {ds.label} failed: {type(e).__name__}: {e}"
                    prog.message(f"gnnkit bench: error: {msg}")
                    failures.append(msg)
                    if os.environ.get("GNNKIT_DEBUG"):
                        raise
                rdir.write_summary(meta)
            del dataset, dev_ds
    finally:
        prog.close()
        if rdir.runs_file.is_file():
            table = rdir.write_summary(meta)
        else:
            table = None
    wall = time.perf_counter() - t_start
    if table is not None:
        print(table)
        print(f"\nresults: {out}  ({wall:.1f} s)", file=sys.stderr if args.quiet else sys.stdout)
    if skipped_data:
        print(f"gnnkit bench: skipped missing dataset(s): {', '.join(skipped_data)}", file=sys.stderr)
    if not ran_any:
        print(f"gnnkit bench: error: nothing ran: no dataset of {plan.source} is present (see "
              "the messages above for how to get them)", file=sys.stderr)
        return 1
    if failures:
        print(f"gnnkit bench: {len(failures)} model/dataset pair(s) failed:\n  " + "\n  ".join(failures),
              file=sys.stderr)
        return 1
    return 0


def _load(spec, args, plan, prog):
    """Load one dataset; ``None`` (with a message) when its files are missing and the plan
    skips missing datasets; otherwise a missing dataset raises naming where it was looked for."""
    from gnnkit.cli.datasets import dataset_presence
    from gnnkit.data import DatasetError, get_dataset

    if spec.name == "csbm":
        return get_dataset("csbm", **spec.args)
    pres = dataset_presence(spec.name, args.root)
    kwargs = dict(spec.args)
    if not pres["present"]:
        if args.download and pres["family"] == "ogb":
            kwargs["download"] = True
        else:
            msg = (f"{spec.name}: files not found; looked in {', '.join(pres['searched'])}. To get "
                   f"it: {pres['how']}")
            if plan.skip_missing:
                prog.message(f"gnnkit bench: skipping {msg}")
                return None
            raise DatasetError(msg)
    prog.info(f"loading {spec.name} from {pres['path'] or 'download'} ...")
    t0 = time.perf_counter()
    try:
        ds = get_dataset(spec.name, root=args.root, **kwargs)
    except TypeError as e:
        raise DatasetError(f"{plan.source}: {spec.name}: bad dataset args {sorted(spec.args)}: {e}") from None
    prog.info(f"loaded {spec.name}: {ds.num_nodes:,} nodes, {ds.num_edges:,} arcs, "
              f"{ds.num_features} features, {ds.num_classes} classes ({time.perf_counter() - t0:.1f} s)")
    return ds


def _one_run(dataset, ds_spec, m, mk, tk, fp, seed, split, device, prog, kind, tasks) -> dict:
    """One run: the task of kind ``kind`` on ``split`` (built once per split, kept in
    ``tasks``), the registry model sized by it, :func:`gnnkit.train.fit`."""
    import torch

    from gnnkit.nn.models import build_model
    from gnnkit.tasks import get_task
    from gnnkit.train import TrainConfig, fit, split_options

    name, dname, label = m.name, ds_spec.name, ds_spec.label
    train_kw, task_kw = split_options(tk)
    cfg = TrainConfig.from_dict(train_kw)
    if split not in tasks:
        tasks[split] = get_task(kind, dataset, split=split, **task_kw)
    task = tasks[split]
    prog.start_run(f"{name} on {label} seed {seed} split {split}", cfg.epochs)
    t0 = time.perf_counter()
    torch.manual_seed(int(seed))
    model = build_model(name, task, **mk).to(device)
    run = fit(model, task, config=cfg, callbacks=[prog.epoch], seed=seed)
    rec = run.to_dict()
    rec.update(dataset=label, dataset_name=dname, model=name, fingerprint=fp, device=str(device),
               wall_time_s=time.perf_counter() - t0, model_kwargs=mk, train_config=tk,
               dataset_args=ds_spec.args,
               finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    from gnnkit.cli._results import _pct

    scale = 100 if _pct(run.metric) else 1
    prog.end_run(f"test {scale * run.test:.2f} val {scale * run.val:.2f} {run.metric}, "
                 f"{run.epochs} epochs, {1000 * run.time_per_epoch:.1f} ms/epoch")
    return rec


def _list() -> int:
    from gnnkit.cli._config import available_suites, config_dir
    from gnnkit.data import available_datasets
    from gnnkit.nn.models import available_models

    print("models:   " + ", ".join(available_models()))
    print("datasets: " + ", ".join(available_datasets()))
    print(f"suites:   {', '.join(available_suites()) or 'none'} (in {config_dir()})")
    return 0
