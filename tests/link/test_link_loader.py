"""Link loader: pairs + strict negatives -> blocks of both endpoints, no target leakage; LinkTask."""
import pytest
import torch

import gnnkit
from gnnkit.link import link_loader

pytestmark = pytest.mark.usefixtures("one_thread")


def _graph(n=80, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, 400), generator=gen)
    return gnnkit.Graph.from_edge_index(ei, num_nodes=n).coalesce().remove_self_loops().to_undirected()


def test_batches_hold_pairs_negatives_and_no_target_arcs():
    g = _graph()
    src, dst = g.edge_index
    pairs = torch.stack([src, dst])[:, src < dst][:, :64]
    x = torch.randn(80, 5)
    arcs = set(zip(src.tolist(), dst.tolist()))
    seen = 0
    for b in link_loader(g, pairs, [5, 5], batch_size=16, features=x, seed=0, prefetch=1):
        p = b.edge_label_index.shape[1]
        assert p == 32 and b.target.tolist() == [1.0] * 16 + [0.0] * 16
        u, v = b.n_id[b.edge_label_index[0]], b.n_id[b.edge_label_index[1]]
        for a, c, t in zip(u.tolist(), v.tolist(), b.target.tolist()):
            assert ((a, c) in arcs) == (t == 1.0)   # negatives are strict non-edges
        assert torch.equal(b.x, x[b.n_id])
        targets = {(a, c) for a, c, t in zip(u.tolist(), v.tolist(), b.target.tolist()) if t == 1}
        for blk in b.graph:                     # no target arc, in either direction, in any block
            s_ids = b.n_id[blk.indices.long()]
            d_ids = b.n_id[blk.dst_index()]
            for a, c in zip(s_ids.tolist(), d_ids.tolist()):
                assert (a, c) not in targets and (c, a) not in targets
        seen += 16
    assert seen == 64


def test_link_task_sampled_mode_trains():
    from gnnkit.data import csbm
    from gnnkit.nn.models import build_model
    from gnnkit.tasks import LinkTask
    from gnnkit.train import TrainConfig, fit

    ds = csbm(200, num_classes=2, seed=0)
    task = LinkTask(ds, split=1, fanouts=[5, 5], batch_size=128, eval_batch_size=256)
    r = fit(build_model("link-sage", task, hidden_channels=16, num_layers=2), task,
            config=TrainConfig(epochs=2, lr=0.01), seed=0)
    assert r.metric == "roc_auc" and 0.0 <= r.test <= 1.0 and r.epochs == 2


def test_link_task_bad_input():
    from gnnkit.data import csbm
    from gnnkit.tasks import LinkTask
    ds = csbm(60, num_classes=2, seed=0)
    with pytest.raises(ValueError, match="'val' \\+ 'test'"):
        LinkTask(ds, val=0.7, test=0.5)
    with pytest.raises(ValueError, match="objective"):
        LinkTask(ds, objective="dense")
    with pytest.raises(ValueError, match="neg_ratio"):
        LinkTask(ds, neg_ratio=0)
