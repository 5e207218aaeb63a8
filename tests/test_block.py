"""gnnkit.block.Block: the one bipartite block type of the samplers and the layers."""
import pytest
import torch

import gnnkit.nn
import gnnkit.sampling
from gnnkit import Graph, GraphError
from gnnkit.block import Block


def dense(b):
    """[N_dst, N_src] summed arc weights (1 per arc when unweighted)."""
    w = torch.ones(b.num_edges, dtype=torch.float64) if b.edge_weight is None else b.edge_weight.double()
    return torch.zeros(b.num_dst_nodes, b.num_src_nodes, dtype=torch.float64).index_put_(
        (b.dst_index(), b.indices.long()), w, accumulate=True)


# rows: 0 <- {2, 0}, 1 <- {3}, 2 <- {} (3 destinations, 4 sources; a loop at 0)
def block(**kw):
    return Block(torch.tensor([0, 2, 3, 3]), torch.tensor([2, 0, 3], dtype=torch.int32), 4, **kw)


def test_one_type_everywhere():
    assert gnnkit.nn.Block is gnnkit.sampling.Block is Block
    s = gnnkit.sampling.sample_neighbors(Graph.from_edge_index(torch.tensor([[1], [0]])), [0], [-1],
                                         seed=0)
    assert type(s.blocks[0]) is Block


def test_graph_like_interface():
    b = block(e_id=torch.tensor([5, 6, 7]), n_id=torch.tensor([9, 8, 7, 6]))
    assert (b.num_nodes, b.num_dst_nodes, b.num_src_nodes, b.num_edges) == (3, 3, 4, 3)
    assert b.indptr.dtype == torch.int64
    assert b.edge_index.tolist() == [[2, 0, 3], [0, 0, 1]]
    assert b.in_degree().tolist() == [2, 1, 0]
    t_indptr, t_indices, t_perm = b.transpose()
    assert t_indptr.tolist() == [0, 1, 1, 2, 3] and t_indices.tolist() == [0, 0, 1]
    assert t_perm.tolist() == [1, 0, 2] and b.transpose() is b.transpose()  # cached
    w = torch.tensor([1.0, 2.0, 3.0])
    bw = b.with_edge_weight(w)
    assert bw.edge_weight is w and bw._transpose is b._transpose and torch.equal(bw.e_id, b.e_id)
    assert bw.with_edge_weight(None).edge_weight is None
    assert repr(bw) == "Block(num_src_nodes=4, num_dst_nodes=3, num_edges=3, weighted=True)"
    assert torch.equal(b.to("cpu").n_id, b.n_id)


def test_add_self_loops_hand_computed():
    b = block(e_id=torch.tensor([5, 6, 7]), n_id=torch.arange(4), src_degree=torch.tensor([2, 1, 0, 4]))
    r = b.add_self_loops()  # remaining: 0 already has a loop
    assert r.edge_index.tolist() == [[2, 0, 3, 1, 2], [0, 0, 1, 1, 2]]  # order kept, loops last
    assert r.edge_weight is None and r.e_id is None  # fill 1 keeps it unweighted
    assert r.n_id is b.n_id and r.src_degree is b.src_degree and r.num_src_nodes == 4
    a = b.add_self_loops(2.0, remaining=False)
    assert a.edge_index.tolist() == [[2, 0, 0, 3, 1, 2], [0, 0, 0, 1, 1, 2]]
    assert a.edge_weight.tolist() == [1.0, 1.0, 2.0, 1.0, 2.0, 2.0]
    p = b.with_edge_weight(torch.tensor([0.5, 0.25, 4.0], dtype=torch.float64)).add_self_loops(
        torch.tensor([7.0, 8.0, 9.0]))
    assert p.edge_weight.dtype == torch.float64 and p.edge_weight.tolist() == [0.5, 0.25, 4.0, 8.0, 9.0]
    assert r.indices.dtype == torch.int32


def test_remove_self_loops_keeps_e_id():
    b = block(e_id=torch.tensor([5, 6, 7]), edge_weight=torch.tensor([1.0, 2.0, 3.0]))
    r = b.remove_self_loops()
    assert r.edge_index.tolist() == [[2, 3], [0, 1]] and r.indptr.tolist() == [0, 1, 2, 2]
    assert r.e_id.tolist() == [5, 7] and r.edge_weight.tolist() == [1.0, 3.0]


def test_square_block_matches_graph_loops():
    # a block holding a whole graph gets the same loops as the Graph (up to the arc order)
    g = Graph.from_edge_index(torch.tensor([[0, 1, 2, 2, 3], [1, 1, 0, 3, 3]]), num_nodes=5)
    b = Block(g.indptr, g.indices, g.num_nodes)
    def as_block(h):
        return Block(h.indptr, h.indices, h.num_nodes, edge_weight=h.edge_weight)

    for kw in ({}, {"remaining": False}, {"fill_value": 3.0}):
        torch.testing.assert_close(dense(b.add_self_loops(**kw)), dense(as_block(g.add_self_loops(**kw))))
    torch.testing.assert_close(dense(b.remove_self_loops()), dense(as_block(g.remove_self_loops())))


def test_corner_cases():
    empty = Block(torch.zeros(1, dtype=torch.int64), torch.zeros(0, dtype=torch.int32), 0)
    assert empty.add_self_loops().num_edges == 0 and empty.remove_self_loops().num_edges == 0
    no_arcs = Block(torch.zeros(3, dtype=torch.int64), torch.zeros(0, dtype=torch.int32), 5)
    assert no_arcs.add_self_loops().edge_index.tolist() == [[0, 1], [0, 1]]


def test_bad_input():
    with pytest.raises(GraphError, match="num_src_nodes = 2 < num_dst_nodes = 3"):
        Block(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 1]), 2)
    with pytest.raises(ValueError, match=r"src_degree has shape \(2,\), expected \[4\]"):
        block(src_degree=torch.ones(2))
    with pytest.raises(ValueError, match=r"edge_weight has shape \(2,\), expected \[3\]"):
        block().with_edge_weight(torch.ones(2))
    with pytest.raises(GraphError, match=r"fill_value must have shape \[num_dst_nodes\] = \[3\]"):
        block().add_self_loops(torch.ones(4))
    with pytest.raises(GraphError, match="Block.add_self_loops: fill_value = nan is not finite"):
        block().add_self_loops(float("nan"))
    with pytest.raises(GraphError, match="Block.add_self_loops: fill_value must be a number"):
        block().add_self_loops("one")
