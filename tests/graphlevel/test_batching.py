"""GraphDataset, vectorised collation, the seeded loader and the on-disk precompute caches."""
import pytest
import torch

import gnnkit
from gnnkit.data.graph_datasets import bicyclopentyl, csl_graph, decalin
from gnnkit.graph import GraphError
from gnnkit.graphlevel import FieldCache, GraphDataset, GraphLoader, PathCache, gather_graphs
from gnnkit.graphlevel.collate import collate_graphs
from gnnkit.nn.dgn import dgn_vector_field
from gnnkit.nn.pathnn import compute_paths
from gnnkit.nn.pool import batch_graphs

pytestmark = pytest.mark.usefixtures("one_thread")


def _graphs():
    return [decalin(), bicyclopentyl(), csl_graph(3, 9), gnnkit.Graph.empty(2, directed=False),
            csl_graph(2, 7)]


def _dataset():
    gs = _graphs()
    x = [torch.randn(g.num_nodes, 3) for g in gs]
    # edge attribute = (global-graph id, src, dst) so misalignment is visible
    ea = [torch.stack([torch.full((g.num_edges,), float(i)), g.edge_index[0].float(),
                       g.edge_index[1].float()], 1) for i, g in enumerate(gs)]
    y = torch.tensor([[0.0, float("nan")], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [float("nan"), 1.0]])
    return gs, x, ea, GraphDataset.from_graphs(gs, y, x=x, edge_attr=ea, name="toy",
                                               task_type="multilabel")


def test_collate_equals_batch_graphs():
    gs, x, ea, ds = _dataset()
    ids = torch.tensor([4, 0, 3, 0, 2])              # any order, repeats, an empty graph
    b = collate_graphs(ds, ids)
    ref, batch = batch_graphs([gs[i] for i in ids.tolist()])
    assert torch.equal(b.graph.indptr, ref.indptr) and torch.equal(b.graph.indices, ref.indices)
    assert torch.equal(b.batch, batch) and b.num_graphs == 5
    torch.testing.assert_close(b.x, torch.cat([x[i] for i in ids.tolist()]))
    torch.testing.assert_close(b.edge_attr, torch.cat([ea[i] for i in ids.tolist()]))
    torch.testing.assert_close(b.target, ds.y[ids], equal_nan=True)
    # arc features stay aligned with the CSR positions: (src, dst) columns match the batch arcs
    local = b.graph.edge_index - b.extra["node_ptr"][b.batch[b.graph.edge_index[1]]]
    assert torch.equal(b.edge_attr[:, 1:].long().t(), local)
    gnnkit.Graph(b.graph.indptr, b.graph.indices, directed=False)   # a valid undirected CSR


def test_from_coo_sorts_and_adds_reverse_arcs():
    # two graphs, arcs given once in arbitrary order (OGB raw layout), features follow the arcs
    src = torch.tensor([2, 0, 1, 0])
    dst = torch.tensor([1, 1, 0, 2])
    ea = torch.tensor([[21.], [1.], [10.], [2.]])
    ds = GraphDataset.from_coo(src, dst, num_nodes=[3, 3], num_arcs=[2, 2], y=torch.tensor([0, 1]),
                               edge_attr=ea, add_reverse=True)
    g0 = ds.graph(0)
    assert g0.edge_index.tolist() == [[1, 0, 2, 1], [0, 1, 1, 2]]
    parts = gather_graphs(ds, torch.tensor([0, 1]))
    s, d = parts.indices, torch.repeat_interleave(torch.arange(6), parts.indptr.diff())
    code = {(0, 1): 1., (1, 0): 1., (2, 1): 21., (1, 2): 21., (4, 3): 10., (3, 4): 10.,
            (3, 5): 2., (5, 3): 2.}
    assert [code[(int(a), int(b))] for a, b in zip(s, d)] == parts.edge_attr.flatten().tolist()


def test_dataset_checks_name_the_culprit():
    with pytest.raises(GraphError, match=r"src\[1\] = 5 is out of range \[0, 3\) of graph 0"):
        GraphDataset.from_coo(torch.tensor([0, 5]), torch.tensor([1, 0]), [3], [2], torch.tensor([0]))
    with pytest.raises(GraphError, match=r"indices\[1\] = 2 is out of range \[0, 2\) of graph 0"):
        GraphDataset(torch.tensor([0, 2, 3]), torch.tensor([0, 1, 2, 2]), torch.tensor([1, 2]),
                     torch.tensor([0, 1]))
    _, _, _, ds = _dataset()
    with pytest.raises(IndexError, match=r"ids\[1\] = 9 is out of range for 5 graphs"):
        gather_graphs(ds, torch.tensor([0, 9]))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        GraphLoader(ds, batch_size=0)


def test_loader_shuffles_by_seed_and_workers_agree():
    _, _, _, ds = _dataset()
    a = GraphLoader(ds, batch_size=2, shuffle=True, seed=3)
    b = GraphLoader(ds, batch_size=2, shuffle=True, seed=3)
    ea = [a.ids[c].tolist() for c in a.chunks(0)]
    assert ea == [b.ids[c].tolist() for c in b.chunks(0)] and ea != [a.ids[c].tolist() for c in a.chunks(1)]
    assert sorted(sum(ea, [])) == list(range(5))
    assert len(GraphLoader(ds, batch_size=2, drop_last=True)) == 2
    seq = [x.target for x in GraphLoader(ds, batch_size=2, shuffle=True, seed=1)]
    par = [x.target for x in GraphLoader(ds, batch_size=2, shuffle=True, seed=1, num_workers=2)]
    assert len(seq) == len(par) == 3
    mixed = GraphLoader(ds, torch.tensor([4, 1, 2]), batch_size=2, split=["val", "test", "val"])
    assert [{k: v.tolist() for k, v in b.split_index.items()} for b in mixed] == \
        [{"val": [0], "test": [1]}, {"val": [0], "test": []}]
    for s, p in zip(seq, par):
        torch.testing.assert_close(s, p, equal_nan=True)


@pytest.mark.parametrize("method", ["blocks", "rows", None])
@pytest.mark.parametrize("mode,dist", [("sp", False), ("sp+", False), ("ap", True)])
def test_path_cache_gather_equals_batch_enumeration(tmp_path, mode, dist, method):
    gs, _, _, ds = _dataset()
    cache = PathCache(ds, 3, mode, distances=dist, cache_dir=tmp_path)
    assert not cache.loaded and PathCache(ds, 3, mode, distances=dist, cache_dir=tmp_path).loaded
    ids = torch.tensor([2, 0, 3, 4, 2])      # repeats and an empty graph
    parts = gather_graphs(ds, ids)
    got = cache.gather(parts.ids, parts.node_ptr, method=method)
    ref = compute_paths(batch_graphs([gs[i] for i in ids.tolist()])[0], 3, mode, distances=dist)
    for k in range(3):
        assert got[k].dtype == got.parents[k].dtype == torch.int32
        assert torch.equal(got[k].long(), ref[k]) and torch.equal(got.parents[k].long(), ref.parents[k])
        if mode == "sp":
            torch.testing.assert_close(got.weights[k], ref.weights[k])
        if dist:
            assert torch.equal(got.dists[k], ref.dists[k])
    b = collate_graphs(ds, ids, extras=[cache])         # the collate extra: the same tensors
    assert all(torch.equal(b.extra["paths"][k], got[k]) for k in range(3))
    empty = cache.gather(torch.zeros(0, dtype=torch.int64), torch.zeros(1, dtype=torch.int64),
                         method=method)
    assert [tuple(p.shape) for p in empty] == [(0, 2), (0, 3), (0, 4)]


def test_path_cache_gather_checks_ids_and_method(tmp_path):
    _, _, _, ds = _dataset()
    cache = PathCache(ds, 2, "sp+", cache_dir=False)
    parts = gather_graphs(ds, torch.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"ids\[1\] = 5 is out of range for 5 graphs"):
        cache.gather(torch.tensor([0, 5]), parts.node_ptr)
    with pytest.raises(ValueError, match="method must be 'blocks', 'rows' or None, got 'fast'"):
        cache.gather(parts.ids, parts.node_ptr, method="fast")


def test_field_cache_gather_equals_batch_field(tmp_path):
    gs, _, _, ds = _dataset()
    cache = FieldCache(ds, k=2, cache_dir=tmp_path)
    ids = torch.tensor([1, 4, 0])
    b = collate_graphs(ds, ids, extras=[cache])
    g, _ = batch_graphs([gs[i] for i in ids.tolist()])
    torch.testing.assert_close(b.extra["field"], dgn_vector_field(g, k=2).float())
