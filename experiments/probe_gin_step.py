"""Where a GIN training step goes, and what one autograd node per GIN layer would save (issue #18).

The benchmark's GIN (``bench_graph_batching.py``: 3 layers, hidden 64, MLP hidden 128, mean
readout, batches of 128 molecule-sized graphs = ~3,200 nodes) on pre-collated batches, one
thread:

1. the step of :class:`gnnkit.nn.gin.GIN` (the library's model) and its ``torch.profiler``
   self-CPU split per step: dense matmuls (mm / addmm), ``batch_norm_relu`` forward + backward,
   ``spmm``, Adam, everything else;
2. the same model run through a **probe, not library code**: each GIN layer (aggregation,
   Linear, BN + ReLU, Linear, the layer's outer BN (+ ReLU)) as ONE ``torch.autograd.Function``
   with a hand-written backward on gnnkit's C++ ops, the Linear biases before a training-mode
   BN dropped (they cancel in the normalisation: zero gradient, output unchanged; the running
   means are shifted by them instead).  It measures the autograd / dispatch / bias-pass share
   that a fused GIN layer could remove; its outputs and gradients are checked against the
   module's first.

    python experiments/probe_gin_step.py --graphs 20000

Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import triad_gbps  # noqa: E402
from bench_graph_batching import make_graphs  # noqa: E402
from gnnkit.graphlevel import GraphDataset, GraphLoader  # noqa: E402
from gnnkit.nn.gin import GIN  # noqa: E402
from gnnkit.nn.pool import global_pool  # noqa: E402
from gnnkit.ops import _common  # noqa: E402
from gnnkit.ops._library import ops  # noqa: E402

EPS_BN = 1e-5


class _GINLayer(torch.autograd.Function):
    """out = BN_o(relu?)( W2 relu(BN_1(W1 (x + A x))) ), training-mode batch statistics."""

    @staticmethod
    def forward(ctx, x, rowptr, col, trans, w1, g1, b1, w2, g2, b2, relu_out):
        C = ops()
        h = C.spmm_sum(rowptr, col, None, x.unsqueeze(1), False).squeeze(1).add_(x)
        h1 = torch.mm(h, w1.t())
        r1, m1, v1 = C.batch_norm_relu(h1, g1, b1, None, None, EPS_BN, True)
        h2 = torch.mm(r1, w2.t())
        out, m2, v2 = C.batch_norm_relu(h2, g2, b2, None, None, EPS_BN, relu_out)
        ctx.save_for_backward(h, h1, r1, h2, out, w1, g1, w2, g2, m1, v1, m2, v2)
        ctx.trans, ctx.relu_out = trans, relu_out
        return out, m1, v1, m2, v2

    @staticmethod
    def backward(ctx, g, *_):
        C = ops()
        h, h1, r1, h2, out, w1, g1, w2, g2, m1, v1, m2, v2 = ctx.saved_tensors
        gh2, gg2, gb2 = C.batch_norm_relu_backward(g.contiguous(), h2, out if ctx.relu_out else h2, g2, m2, v2,
                                                   EPS_BN, ctx.relu_out, True)
        gw2, gr1 = torch.mm(gh2.t(), r1), torch.mm(gh2, w2)
        gh1, gg1, gb1 = C.batch_norm_relu_backward(gr1, h1, r1, g1, m1, v1, EPS_BN, True, True)
        gw1, gh = torch.mm(gh1.t(), h), torch.mm(gh1, w1)
        t_rowptr, t_col, _ = ctx.trans
        gx = C.spmm_sum(t_rowptr, t_col, None, gh.unsqueeze(1), False).squeeze(1).add_(gh)
        return gx, None, None, None, gw1, gg1, gb1, gw2, gg2, gb2, None


def fused_forward(model: GIN, x, graph, batch, num_graphs):
    """The probe's forward of ``model`` (GIN-0, no virtual node, training mode)."""
    rowptr, col, _, _ = _common.csr(graph)
    trans = graph.transpose()
    h = model.node_encoder(x)
    L = model.num_layers
    for i in range(L):
        lin1, bn1, lin2 = model.convs[i].mlp[0], model.convs[i].mlp[1], model.convs[i].mlp[3]
        bn = model.bns[i]
        h, m1, v1, m2, v2 = _GINLayer.apply(h, rowptr, col, trans, lin1.weight, bn1.weight, bn1.bias,
                                            lin2.weight, bn.weight, bn.bias, i < L - 1)
        with torch.no_grad():  # running statistics of the biased activations
            n = h.shape[0]
            for m, mean, var, bias in ((bn1, m1, v1, lin1.bias), (bn, m2, v2, lin2.bias)):
                ops().batch_norm_update_stats(m.running_mean, m.running_var, mean + bias, var, n, m.momentum)
                m.num_batches_tracked += 1
    return model.head(global_pool(h, batch, model.readout, num_graphs))


def module_forward(model: GIN, x, graph, batch, num_graphs):
    return model(x, graph, batch, num_graphs)


def check_probe(batch) -> float:
    """Max abs difference of outputs and parameter gradients, probe vs module (same weights)."""
    torch.manual_seed(0)
    a = GIN(9, 64, 1, num_layers=3, dropout=0.0, readout="mean")
    b = copy.deepcopy(a)
    oa = module_forward(a, batch.x, batch.graph, batch.batch, batch.num_graphs)
    ob = fused_forward(b, batch.x, batch.graph, batch.batch, batch.num_graphs)
    oa.sum().backward()
    ob.sum().backward()
    diff = (oa - ob).abs().max().item()
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        if pb.grad is None:  # the dropped biases: their true gradient is 0 (up to rounding)
            assert name.endswith("bias") and pa.grad.abs().max() < 1e-4, name
            continue
        diff = max(diff, (pa.grad - pb.grad).abs().max().item())
    return diff


def time_steps(forward, batches, repeat: int):
    torch.manual_seed(0)
    model = GIN(9, 64, 1, num_layers=3, dropout=0.0, readout="mean")
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step(b):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(forward(model, b.x, b.graph, b.batch, b.num_graphs), b.target).backward()
        opt.step()

    for b in batches[:5]:
        step(b)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for b in batches:
            step(b)
        best = min(best, (time.perf_counter() - t) / len(batches))
    return best * 1e3, model, opt, step


def split(step, batches, steps: int) -> dict:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[:steps]:
            step(b)
    groups = {"matmul": ("aten::mm", "aten::addmm", "aten::bmm"),
              "batch_norm_relu": ("gnnkit::batch_norm_relu", "gnnkit::batch_norm_relu_backward"),
              "spmm": ("gnnkit::spmm_sum",), "adam": ("Optimizer.step#Adam.step",)}
    ev = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ev)
    out = {k: sum(e.self_cpu_time_total for e in ev if e.key in names) / 1e3 / steps for k, names in groups.items()}
    # Adam's own self time excludes its ops; count the whole optimizer step instead
    out["adam"] = sum(e.cpu_time_total for e in ev if e.key == "Optimizer.step#Adam.step") / 1e3 / steps
    out["total_self"] = total / 1e3 / steps
    return {k: round(v, 3) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile-steps", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"load {os.getloadavg()}  triad {triad_gbps(20_000_000):.1f} GB/s  threads {args.threads}", flush=True)
    n, m, src, dst, x, ea, y = make_graphs(args.graphs)
    ds = GraphDataset.from_coo(src, dst, n, m, torch.from_numpy(y), x=torch.from_numpy(x).float(),
                               edge_attr=torch.from_numpy(ea), add_reverse=True, task_type="binary", name="probe")
    batches = list(GraphLoader(ds, batch_size=128, shuffle=True, seed=0))
    diff = check_probe(batches[0])
    res = {"graphs": args.graphs, "batches": len(batches), "threads": args.threads, "probe_max_abs_diff": diff}
    for name, fwd in (("module", module_forward), ("one_node_per_layer", fused_forward)):
        ms, _, _, step = time_steps(fwd, batches, args.repeat)
        res[f"step_ms_{name}"] = round(ms, 3)
        res[f"split_ms_{name}"] = split(step, batches, args.profile_steps)
        print(f"{name:20s} step {ms:.2f} ms  per-step self CPU: {res[f'split_ms_{name}']}", flush=True)
    res["probe_gain"] = round(res["step_ms_module"] / res["step_ms_one_node_per_layer"], 3)
    res["load"] = os.getloadavg()[0]
    print(f"one autograd node per layer: {res['probe_gain']:.2f}x the module step (max abs diff {diff:.1e})")
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
