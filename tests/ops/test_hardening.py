"""Regression tests of issue #14 (kernels and ops): one per class, through gnnkit.ops and torch.ops.

1 strided / zero-stride index tensors, 2 degenerate CSR and forged pointer arrays, 4 non-finite
attention scores (torch.softmax semantics), 6 allocation failures and internal helpers.
"""
from types import SimpleNamespace

import pytest
import torch

import gnnkit
from gnnkit._graph_utils import csr_transpose
from gnnkit.ops import edge_softmax, gat_attention, random_walk, sddmm, spmm
from gnnkit.ops._library import ops
from gnnkit.testing import gat_attention_reference, random_edge_index

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def g():
    return gnnkit.Graph.from_edge_index(random_edge_index(12, 40, seed=3), num_nodes=12)


def _strided(t):
    """The same values as a non-contiguous view (every other entry of a twice-as-long tensor)."""
    big = torch.zeros(2 * t.numel(), dtype=t.dtype)
    big[::2] = t.reshape(-1)
    v = big[::2].view(t.shape) if t.dim() == 1 else big[::2].reshape(t.shape)
    if t.dim() == 1:
        assert not v.is_contiguous() or t.numel() <= 1
    return v


# ---------------------------------------------------------------- class 1: strides
def test_strided_index_tensors_read_correctly(g):
    C = ops()
    rp, col = g.indptr, g.indices
    x = torch.randn(12, 2, 3, dtype=torch.float64)
    want = C.spmm_sum(rp, col, None, x, False)
    torch.testing.assert_close(C.spmm_sum(_strided(rp), _strided(col), None, x, False), want)
    torch.testing.assert_close(C.sddmm(rp, _strided(col), x, x), C.sddmm(rp, col, x, x))
    a_s, a_d = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 2, dtype=torch.float64)
    torch.testing.assert_close(C.gat_attention(_strided(rp), _strided(col), x, a_s, a_d, 0.2, 0.0, 0)[0],
                               C.gat_attention(rp, col, x, a_s, a_d, 0.2, 0.0, 0)[0])
    start = torch.arange(12)
    assert torch.equal(C.random_walk(rp, _strided(col), _strided(start), 4, 1.0, 1.0, 0.0, 7),
                       C.random_walk(rp, col, start, 4, 1.0, 1.0, 0.0, 7))
    tg = torch.tensor([0, 3, 5])
    assert all(torch.equal(a, b) for a, b in zip(C.gbp_walk_matrix(rp, _strided(col), _strided(tg), 2, 8, 1),
                                                 C.gbp_walk_matrix(rp, col, tg, 2, 8, 1)))
    # through the public op with a graph-like object holding a strided `indices` (ei[1] of ei.T)
    ei = torch.stack([col.long(), torch.zeros_like(col.long())], 1)
    fake = SimpleNamespace(indptr=rp, indices=ei[:, 0], num_nodes=12, edge_weight=None,
                           transpose=g.transpose)
    assert not fake.indices.is_contiguous()
    torch.testing.assert_close(spmm(fake, x.flatten(1)), spmm(g, x.flatten(1)))
    # strided features
    xs = torch.randn(12, 6, 2, dtype=torch.float64)[:, ::2, 0]
    torch.testing.assert_close(spmm(g, xs, "max"), spmm(g, xs.contiguous(), "max"))


def test_zero_stride_rowptr():
    C = ops()
    x = torch.randn(3, 1, 2)
    # a valid expanded rowptr (a graph without arcs) is read as its dense copy
    out = C.spmm_sum(torch.zeros(1, dtype=torch.long).expand(4), torch.zeros(0, dtype=torch.long), None, x, False)
    assert out.shape == (3, 1, 2) and not out.any()
    # an expanded rowptr whose copy cannot exist: typed error naming it and the bytes, no segfault
    huge = torch.zeros(1, dtype=torch.long).expand(2**40 + 1)
    for call in (lambda: C.spmm_sum(huge, torch.zeros(0, dtype=torch.long), None, x, False),
                 lambda: C.edge_softmax(huge, torch.zeros(0, 1)),
                 lambda: C.random_walk(huge, torch.zeros(0, dtype=torch.long), torch.zeros(1, dtype=torch.long),
                                       2, 1.0, 1.0, 0.0, 0)):
        with pytest.raises(torch.OutOfMemoryError, match=r"'rowptr'.*8796093022216 bytes"):
            call()


# ---------------------------------------------------------------- class 2: degenerate CSR
def test_empty_and_malformed_rowptr():
    C = ops()
    empty = torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="'rowptr' must have at least one entry"):
        C.edge_softmax(empty, torch.zeros(0, 1))
    with pytest.raises(ValueError, match="'rowptr' must have at least one entry"):
        C.edge_softmax_backward(empty, torch.zeros(0, 1), torch.zeros(0, 1))
    with pytest.raises(ValueError, match="'rowptr' must have at least one entry"):
        C.spmm_sum(empty, empty, None, torch.zeros(0, 1, 1), False)
    with pytest.raises(ValueError, match=r"at row 1: rowptr\[1\] = 3 > rowptr\[2\] = 1"):
        C.edge_softmax(torch.tensor([0, 3, 1, 3]), torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"rowptr\[-1\] = 2 must equal the number of edges \(len\(col\)\) = 3"):
        C.sddmm(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]), torch.randn(2, 1, 1), torch.randn(2, 1, 1))


def test_forged_walk_matrix_and_transpose(g):
    C = ops()
    x = torch.randn(12, 2, dtype=torch.float64)
    tg = torch.tensor([1, 4])
    w = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    direct, thr, rn, rv = C.gbp_push(g.indptr, g.indices, x, tg, w, 0.5, 1e-3)
    ptr, node, cnt = C.gbp_walk_matrix(g.indptr, g.indices, tg, 2, 10, 0)
    C.gbp_correct(g.indptr, x, tg, w, 0.5, thr, rn, rv, ptr, node, cnt, 10)  # genuine: fine
    bad = ptr.clone()
    bad[1] = 10**9  # an interior offset beyond s_node
    with pytest.raises(ValueError, match=r"s_ptr is not a valid CSR offset array at row"):
        C.gbp_correct(g.indptr, x, tg, w, 0.5, thr, rn, rv, bad, node, cnt, 10)
    with pytest.raises(IndexError, match=r"s_node\[0\] = 99 is out of range"):
        C.gbp_correct(g.indptr, x, tg, w, 0.5, thr, rn, rv, ptr, torch.full_like(node, 99), cnt, 10)
    with pytest.raises(IndexError, match=r"s_count\[0\] = 11 is out of range \[1, 11\)"):
        C.gbp_correct(g.indptr, x, tg, w, 0.5, thr, rn, rv, ptr, node, torch.full_like(cnt, 11), 10)
    # neighbor_sample: an out-of-range or non-permutation t_perm never reaches e_id
    t_rp, t_col, t_perm = g.transpose()
    seeds = torch.tensor([0, 1])
    C.neighbor_sample(g.indptr, g.indices, seeds, [2], None, 0, t_rp, t_col, t_perm)
    with pytest.raises(IndexError, match=r"t_perm\[0\] = 1000 is out of range"):
        C.neighbor_sample(g.indptr, g.indices, seeds, [2], None, 0, t_rp, t_col, t_perm + 1000)
    swapped = t_perm.clone()
    swapped[0], swapped[-1] = t_perm[-1], t_perm[0]
    with pytest.raises(ValueError, match="is not the transpose"):
        C.neighbor_sample(g.indptr, g.indices, seeds, [2], None, 0, t_rp, t_col, swapped)


# ---------------------------------------------------------------- class 4: non-finite scores
def test_edge_softmax_matches_torch_on_non_finite_rows():
    # row 0: NaN; row 1: +inf; row 2: all -inf; row 3: -inf next to finite; row 4: plain; row 5: empty
    rows = [[NAN, 1.0], [INF, 1.0, 2.0], [-INF, -INF], [-INF, 0.5], [0.1, 0.2, 0.3], []]
    rowptr = torch.tensor([0] + [sum(map(len, rows[:i + 1])) for i in range(len(rows))])
    scores = torch.tensor([v for r in rows for v in r], dtype=torch.float64, requires_grad=True)
    graph = SimpleNamespace(indptr=rowptr, indices=torch.zeros(scores.numel(), dtype=torch.long), num_nodes=6)
    out = edge_softmax(graph, scores)
    want = torch.cat([torch.softmax(torch.tensor(r, dtype=torch.float64), 0) for r in rows if r])
    torch.testing.assert_close(out, want, equal_nan=True)
    g = torch.randn_like(scores)
    out.backward(g)
    ref = torch.tensor([v for r in rows for v in r], dtype=torch.float64, requires_grad=True)
    parts, o = [], 0
    for r in rows:
        parts.append(torch.softmax(ref[o:o + len(r)], 0) if r else ref[o:o])
        o += len(r)
    torch.cat(parts).backward(g)
    torch.testing.assert_close(scores.grad, ref.grad, equal_nan=True)


@pytest.mark.parametrize("poison", [NAN, INF, -INF])
def test_gat_non_finite_scores_forward_backward(g, poison):
    torch.manual_seed(0)
    x = torch.randn(12, 2, 3, dtype=torch.float64)
    a_s = torch.randn(12, 2, dtype=torch.float64)
    a_d = torch.randn(12, 2, dtype=torch.float64)
    a_s[3, 0] = poison  # every row with an arc from node 3 is poisoned in head 0
    a_d[5, 1] = poison
    leaves = [t.clone().requires_grad_() for t in (x, a_s, a_d)]
    out = gat_attention(g, *leaves)
    ref_leaves = [t.clone().requires_grad_() for t in (x, a_s, a_d)]
    ref = gat_attention_reference(g, *ref_leaves)
    torch.testing.assert_close(out, ref, equal_nan=True)
    assert torch.isnan(out).any(), "a non-finite score must not be silently zeroed"
    gout = torch.randn_like(out)
    out.backward(gout)
    ref.backward(gout)
    for a, b in zip(leaves, ref_leaves):
        torch.testing.assert_close(a.grad, b.grad, equal_nan=True)


def test_gat_dropout_with_infinite_features_is_not_zeroed(g):
    x = torch.randn(12, 1, 2)
    x[g.indices[0].long(), 0, 0] = INF
    a = torch.zeros(12, 1)
    out = gat_attention(g, x, a, a, dropout=0.5, generator=torch.Generator().manual_seed(0))
    row0 = out[0, 0, 0]  # row 0 reads the infinite feature through arc 0, kept or dropped
    assert torch.isinf(row0) or torch.isnan(row0)


# ---------------------------------------------------------------- class 6: sizes and allocation
def test_overflowing_sizes_and_allocation_failures(g):
    C = ops()
    with pytest.raises(ValueError, match="'walks' overflows int64"):
        C.random_walk(g.indptr, g.indices, torch.arange(4), 2**62, 1.0, 1.0, 0.0, 0)
    with pytest.raises(torch.OutOfMemoryError, match=r"cannot allocate 'walks' of shape \[4, 1099511627777\]"):
        random_walk(g, torch.arange(4), 2**40, seed=0)
    with pytest.raises(ValueError, match="overflows int64"):
        C.gbp_walk_matrix(g.indptr, g.indices, torch.arange(4), 2**62, 10, 0)


def test_csr_transpose_typed_errors():
    with pytest.raises(IndexError, match=r"indices\[1\] = 7 is out of range \[0, 3\)"):
        csr_transpose(torch.tensor([0, 1, 2]), torch.tensor([0, 7]), 3)
    with pytest.raises(IndexError, match=r"indices\[0\] = -1"):
        csr_transpose(torch.tensor([0, 1]), torch.tensor([-1]), 3)
    with pytest.raises(torch.OutOfMemoryError, match=r"indptr \[2199023255553\]"):
        csr_transpose(torch.tensor([0, 1]), torch.tensor([0]), 2**41)


def test_backends_share_one_check_spmm_arg_backward_grad_dtype():
    C = ops()
    col = torch.tensor([0, 1])
    x = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="'grad_out' dtype Float does not match 'x' dtype Double"):
        C.spmm_arg_backward(col, None, x, torch.randn(2, 3), torch.zeros(2, 3, dtype=torch.long), True, False)
    with pytest.raises(IndexError, match=r"arg\[0\] = 5 is out of range \[-1, 2\)"):
        C.spmm_arg_backward(col, None, x, torch.randn(2, 3, dtype=torch.float64),
                            torch.full((2, 3), 5, dtype=torch.long), True, False)
