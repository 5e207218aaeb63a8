"""Fake (meta) kernels of every ``torch.ops.gnnkit`` op, for ``torch.compile`` / ``opcheck``.

Each fake checks what can be checked from shapes and dtypes alone with ``torch._check_*`` (the
same typed errors as the C++ checks of ``csrc/op_checks.h``: TypeError for dtypes, ValueError
for shapes, IndexError where sizes would index out of range) and returns outputs of the real
kernel's shapes.  Outputs whose size depends on the data (samples, walk matrices, residues,
paths) get unbacked sizes from ``torch.library.get_ctx().new_dynamic_size()``.

Registered once by :func:`gnnkit.ops._library.ops`.  ``FAKES`` lists the ops covered here; the
op-fuzzing test fails when an op of the schema has no fake.
"""
from __future__ import annotations

import torch

FAKES: list[str] = []


def _fake(name):
    def deco(fn):
        torch.library.register_fake("gnnkit::" + name)(fn)
        FAKES.append(name)
        return fn
    return deco


def _shape(t):
    return tuple(t.shape)


def _csr(rowptr, col, rp="rowptr", cl="col"):
    torch._check_type(rowptr.dtype == torch.long, lambda: f"gnnkit: '{rp}' must be int64, got {rowptr.dtype}")
    torch._check_value(rowptr.dim() == 1 and rowptr.shape[0] >= 1,
                       lambda: f"gnnkit: '{rp}' must have shape [num_nodes + 1] with at least one entry, "
                               f"got {_shape(rowptr)}")
    torch._check_type(col.dtype in (torch.int32, torch.long),
                      lambda: f"gnnkit: '{cl}' must be int32 or int64, got {col.dtype}")
    torch._check_value(col.dim() == 1, lambda: f"gnnkit: '{cl}' must have shape [num_edges], got {_shape(col)}")
    return rowptr.shape[0] - 1


def _float(t, name):
    torch._check_type(t.dtype.is_floating_point, lambda: f"gnnkit: '{name}' must be a floating tensor, got {t.dtype}")


def _dim(t, d, name, layout):
    torch._check_value(t.dim() == d, lambda: f"gnnkit: '{name}' must have shape {layout}, got {_shape(t)}")


def _ids(t, name, int32=True):
    ok = (torch.int32, torch.long) if int32 else (torch.long,)
    torch._check_type(t.dtype in ok, lambda: f"gnnkit: '{name}' must be {'int32 or int64' if int32 else 'int64'}, "
                                            f"got {t.dtype}")
    _dim(t, 1, name, "[n]")


def _same_dtype(t, ref, name, ref_name):
    torch._check_type(t.dtype == ref.dtype, lambda: f"gnnkit: '{name}' dtype {t.dtype} does not match "
                                                    f"'{ref_name}' dtype {ref.dtype}")


def _dyn():
    return torch.library.get_ctx().new_dynamic_size()


def _lse_dtype(dtype):
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def register() -> None:
    # ------------------------------------------------------------------ aggregation
    @_fake("spmm_sum")
    def _(rowptr, col, value, x, mean):
        n = _csr(rowptr, col)
        _float(x, "x")
        _dim(x, 3, "x", "[num_src_nodes, heads, channels]")
        if value is not None:
            _same_dtype(value, x, "value", "x")
            torch._check_value(value.dim() == 2 and value.shape[0] == col.shape[0] and value.shape[1] == x.shape[1],
                               lambda: f"gnnkit: 'value' must have shape [num_edges, heads], got {_shape(value)}")
        return x.new_empty(n, x.shape[1], x.shape[2])

    @_fake("spmm_arg")
    def _(rowptr, col, value, x, reduce):
        n = _csr(rowptr, col)
        torch._check_value(reduce in ("max", "min"), lambda: f"gnnkit: 'reduce' must be 'max' or 'min', got {reduce!r}")
        _float(x, "x")
        _dim(x, 2, "x", "[num_src_nodes, channels]")
        if value is not None:
            _same_dtype(value, x, "value", "x")
            torch._check_value(value.dim() == 1 and value.shape[0] == col.shape[0],
                               lambda: f"gnnkit: 'value' must have shape [num_edges], got {_shape(value)}")
        return x.new_empty(n, x.shape[1]), x.new_empty(n, x.shape[1], dtype=torch.long)

    @_fake("spmm_arg_backward")
    def _(col, value, x, grad_out, arg, need_x, need_value):
        _ids(col, "col")
        _float(x, "x")
        _dim(x, 2, "x", "[num_src_nodes, channels]")
        _dim(grad_out, 2, "grad_out", "[num_dst_nodes, channels]")
        _same_dtype(grad_out, x, "grad_out", "x")
        torch._check_type(arg.dtype == torch.long, lambda: f"gnnkit: 'arg' must be int64, got {arg.dtype}")
        torch._check_value(arg.shape == grad_out.shape, lambda: f"gnnkit: 'arg' must have shape {_shape(grad_out)}")
        gx = torch.empty_like(x) if need_x else x.new_empty(0)
        gv = x.new_empty(col.shape[0]) if (need_value and value is not None) else x.new_empty(0)
        return gx, gv

    @_fake("sddmm")
    def _(rowptr, col, a, b):
        n = _csr(rowptr, col)
        _float(a, "a")
        _dim(a, 3, "a", "[num_dst_nodes, heads, channels]")
        _dim(b, 3, "b", "[num_src_nodes, heads, channels]")
        _same_dtype(b, a, "b", "a")
        torch._check_value(a.shape[0] == n and a.shape[1:] == b.shape[1:],
                           lambda: f"gnnkit: sddmm: 'a' {_shape(a)} and 'b' {_shape(b)} disagree")
        return a.new_empty(col.shape[0], a.shape[1])

    # ------------------------------------------------------------------ attention
    @_fake("edge_softmax")
    def _(rowptr, scores):
        torch._check_type(rowptr.dtype == torch.long, lambda: "gnnkit: 'rowptr' must be int64")
        torch._check_value(rowptr.dim() == 1 and rowptr.shape[0] >= 1,
                           lambda: f"gnnkit: 'rowptr' must have at least one entry, got {_shape(rowptr)}")
        _float(scores, "scores")
        _dim(scores, 2, "scores", "[num_edges, heads]")
        return torch.empty_like(scores, memory_format=torch.contiguous_format)

    @_fake("edge_softmax_backward")
    def _(rowptr, out, grad_out):
        _float(out, "out")
        _dim(out, 2, "out", "[num_edges, heads]")
        torch._check_value(grad_out.shape == out.shape, lambda: "gnnkit: 'grad_out' must have the shape of 'out'")
        _same_dtype(grad_out, out, "grad_out", "out")
        return torch.empty_like(out, memory_format=torch.contiguous_format)

    def _gat(rowptr, col, x, a_src, a_dst, dropout):
        n = _csr(rowptr, col)
        _float(x, "x")
        _dim(x, 3, "x", "[num_src_nodes, heads, channels]")
        torch._check_value(a_src.dim() == 2 and a_src.shape == (x.shape[0], x.shape[1]),
                           lambda: f"gnnkit: 'alpha_src' must have shape [num_src_nodes, heads], got {_shape(a_src)}")
        torch._check_value(a_dst.dim() == 2 and a_dst.shape == (n, x.shape[1]),
                           lambda: f"gnnkit: 'alpha_dst' must have shape [num_dst_nodes, heads], got {_shape(a_dst)}")
        _same_dtype(a_src, x, "alpha_src", "x")
        _same_dtype(a_dst, x, "alpha_dst", "x")
        torch._check_value(0.0 <= dropout < 1.0, lambda: f"gnnkit: attention 'dropout' must be in [0, 1), got {dropout}")
        return n

    @_fake("gat_attention")
    def _(rowptr, col, x, a_src, a_dst, negative_slope, dropout, seed, t_rowptr=None, t_col=None, t_perm=None):
        n = _gat(rowptr, col, x, a_src, a_dst, dropout)
        return x.new_empty(n, x.shape[1], x.shape[2]), x.new_empty(n, x.shape[1], dtype=_lse_dtype(x.dtype))

    @_fake("gat_attention_backward")
    def _(rowptr, col, t_rowptr, t_col, t_perm, x, a_src, a_dst, out, lse, grad_out, negative_slope, dropout, seed):
        _gat(rowptr, col, x, a_src, a_dst, dropout)
        _csr(t_rowptr, t_col, "t_rowptr", "t_col")
        _ids(t_perm, "t_perm", int32=False)
        return (torch.empty_like(x, memory_format=torch.contiguous_format),
                torch.empty_like(a_src, memory_format=torch.contiguous_format),
                torch.empty_like(a_dst, memory_format=torch.contiguous_format))

    # ------------------------------------------------------------------ walks and GBP
    def _walk(rowptr, col, start, walk_length):
        _csr(rowptr, col)
        _ids(start, "start")
        torch._check_value(walk_length >= 0, lambda: f"gnnkit: 'walk_length' must be >= 0, got {walk_length}")
        return start.new_empty(start.shape[0], walk_length + 1, dtype=torch.long)

    @_fake("random_walk")
    def _(rowptr, col, start, walk_length, p, q, restart_prob, seed):
        return _walk(rowptr, col, start, walk_length)

    @_fake("saint_random_walk")
    def _(rowptr, col, start, walk_length, seed):
        return _walk(rowptr, col, start, walk_length)

    @_fake("gbp_walk_matrix")
    def _(rowptr, col, targets, num_levels, num_walks, seed):
        _csr(rowptr, col)
        _ids(targets, "targets", int32=False)
        torch._check_value(num_levels >= 0 and num_walks >= 0,
                           lambda: f"gnnkit: num_levels / num_walks must be >= 0, got {num_levels}, {num_walks}")
        nnz = _dyn()
        return (rowptr.new_empty(targets.shape[0] * num_levels + 1), rowptr.new_empty(nnz),
                rowptr.new_empty(nnz, dtype=torch.int32))

    @_fake("gbp_push")
    def _(rowptr, col, x, targets, weights, r, r_max, t_rowptr=None, t_col=None):
        _csr(rowptr, col)
        _float(x, "x")
        _dim(x, 2, "x", "[num_nodes, block_columns]")
        _ids(targets, "targets", int32=False)
        _float(weights, "weights")
        _dim(weights, 1, "weights", "[num_levels + 1]")
        levels = weights.shape[0]
        B = x.shape[1]
        res_node, res_val = [], []
        for t in range(levels):
            m = 0 if t in (0, levels - 1) else _dyn()
            res_node.append(rowptr.new_empty(m))
            res_val.append(x.new_empty(m, B, dtype=torch.float32))
        T = targets.shape[0]
        return x.new_empty(T, B, dtype=torch.float64), x.new_empty(B, dtype=torch.float64), res_node, res_val

    @_fake("gbp_correct")
    def _(rowptr, x, targets, weights, r, thr, res_node, res_val, s_ptr, s_node, s_count, num_walks):
        _float(x, "x")
        _dim(x, 2, "x", "[num_nodes, block_columns]")
        _ids(targets, "targets", int32=False)
        torch._check_value(len(res_node) == weights.shape[0] and len(res_val) == weights.shape[0],
                           lambda: "gnnkit: gbp_correct: expected num_levels + 1 residue levels")
        torch._check_type(s_ptr.dtype == torch.long and s_node.dtype == torch.long and s_count.dtype == torch.int32,
                          lambda: "gnnkit: gbp_correct: the walk matrix must be (int64, int64, int32)")
        return x.new_empty(targets.shape[0], x.shape[1], dtype=torch.float64)

    # ------------------------------------------------------------------ paths
    def _paths(rowptr, col, max_len, mode):
        n = _csr(rowptr, col)
        torch._check_value(mode in ("sp", "sp+", "ap"), lambda: f"gnnkit: path mode must be 'sp', 'sp+' or 'ap', "
                                                                 f"got {mode!r}")
        torch._check_value(1 <= max_len <= 64, lambda: f"gnnkit: 'max_len' must be in [1, 64], got {max_len}")
        return n

    @_fake("count_paths")
    def _(rowptr, col, max_len, mode, limit):
        n = _paths(rowptr, col, max_len, mode)
        return rowptr.new_empty(n, max_len)

    @_fake("path_count_bound")
    def _(rowptr, col, max_len, mode):
        _paths(rowptr, col, max_len, mode)
        return rowptr.new_empty(max_len)

    @_fake("enumerate_paths")
    def _(rowptr, col, counts, max_len, mode, return_parents=False):
        _paths(rowptr, col, max_len, mode)
        torch._check_type(counts.dtype == torch.long, lambda: f"gnnkit: 'counts' must be int64, got {counts.dtype}")
        sizes = [_dyn() for _ in range(max_len)]
        out = [rowptr.new_empty(p, k + 2) for k, p in enumerate(sizes)]
        if return_parents:
            out += [rowptr.new_empty(p) for p in sizes]
        return out

    # ------------------------------------------------------------------ sampling
    @_fake("neighbor_sample")
    def _(rowptr, col, seeds, fanouts, weight, seed, t_rowptr=None, t_col=None, t_perm=None):
        _csr(rowptr, col)
        _ids(seeds, "seeds")
        for h, f in enumerate(fanouts):
            torch._check_value(f >= -1, lambda: f"gnnkit: neighbor_sample: fanouts[{h}] = {f} is invalid")
        directed = t_rowptr is not None
        S, ptr_len, e_in = _dyn(), _dyn(), _dyn()  # ptr_len = rows + 1 of the sampled CSR
        e_out = _dyn() if directed else 0
        new = rowptr.new_empty
        # local ids are int32 (samples of 2**31 nodes or more would be int64: beyond what a fake sees)
        return [new(S), new(len(fanouts) + 2), new(ptr_len), new(e_in, dtype=torch.int32), new(e_in),
                new(ptr_len if directed else 1), new(e_out, dtype=torch.int32), new(e_out), new(S),
                new(S if directed else 0)]

    @_fake("neighbor_sample_hop")
    def _(rowptr, col, nodes, keys, num_src, fanout, weight, seed, hop):
        _csr(rowptr, col)
        _ids(nodes, "nodes")
        _ids(keys, "keys")
        torch._check_value(nodes.shape[0] == keys.shape[0], lambda: "gnnkit: 'nodes' and 'keys' differ in length")
        torch._check_value(fanout >= -1, lambda: f"gnnkit: neighbor_sample_hop: fanout = {fanout} is invalid")
        total = _dyn()
        return [rowptr.new_empty(nodes.shape[0]), rowptr.new_empty(total), rowptr.new_empty(total)]

    # ------------------------------------------------------------------ link prediction / embeddings
    @_fake("negative_sample")
    def _(rowptr, col, anchor, num_samples, num_candidates, weight, strict, exclude_self, seed):
        _csr(rowptr, col)
        torch._check_value(num_samples >= 0, lambda: f"gnnkit: negative_sample: 'num_samples' must be >= 0, "
                                                     f"got {num_samples}")
        torch._check_value(num_candidates >= 1, lambda: "gnnkit: negative_sample: 'num_candidates' must be >= 1")
        if weight is not None:
            _float(weight, "weight")
            _dim(weight, 1, "weight", "[num_candidates]")
        if anchor is None:
            return [rowptr.new_empty(num_samples), rowptr.new_empty(num_samples)]
        _ids(anchor, "anchor")
        return [rowptr.new_empty((anchor.shape[0], num_samples)), rowptr.new_empty((anchor.shape[0], num_samples))]

    @_fake("sgns_train")
    def _(walks, emb_in, emb_out, noise, keep, window, negatives, lr, min_lr, walk_offset, total_walks, seed):
        torch._check_type(walks.dtype == torch.long, lambda: f"gnnkit: sgns_train: 'walks' must be int64, got "
                                                             f"{walks.dtype}")
        _dim(walks, 2, "walks", "[num_walks, walk_length + 1]")
        for t, name in ((emb_in, "emb_in"), (emb_out, "emb_out")):
            torch._check_type(t.dtype == torch.float32, lambda: f"gnnkit: sgns_train: '{name}' must be float32")
            _dim(t, 2, name, "[num_nodes, dim]")
        _float(noise, "noise")
        _dim(noise, 1, "noise", "[num_nodes]")
        return 0  # an int (the pairs trained): its value is not known without running the op

    # ------------------------------------------------------------------ loader feature fetcher
    @_fake("gather_rows")
    def _(src, index):
        torch._check_value(src.dim() >= 1, lambda: f"gnnkit: gather_rows: 'src' must have shape [N, ...], got "
                                                    f"{_shape(src)}")
        _ids(index, "index")
        return src.new_empty((index.shape[0], *src.shape[1:]))

    def _dropout_p(p, op):
        torch._check_value(0.0 <= p < 1.0, lambda: f"gnnkit: {op}: 'p' must be in [0, 1), got {p}")

    @_fake("dropout")
    def _(x, p, seed, relu=False):
        _float(x, "x")
        _dropout_p(p, "dropout")
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    @_fake("dropout_relu_backward")
    def _(grad, out, p):
        _float(grad, "grad")
        _float(out, "out")
        _dropout_p(p, "dropout_relu_backward")
        _same_dtype(out, grad, "out", "grad")
        torch._check_value(grad.shape == out.shape,
                           lambda: f"gnnkit: dropout_relu_backward: 'grad' has shape {_shape(grad)} but "
                                   f"'out' has shape {_shape(out)}; they must match")
        return torch.empty_like(grad, memory_format=torch.contiguous_format)

    def _bn(x, tensors, op):
        torch._check_type(x.dtype in (torch.float32, torch.float64),
                          lambda: f"gnnkit: {op}: 'x' must be float32 or float64, got {x.dtype}")
        _dim(x, 2, "x", "[num_rows, channels]")
        for t, name in tensors:
            if t is None:
                continue
            _same_dtype(t, x, name, "x")
            torch._check_value(t.dim() == 1 and t.shape[0] == x.shape[1],
                               lambda: f"gnnkit: {op}: '{name}' must have shape [{x.shape[1]}], got {_shape(t)}")

    @_fake("batch_norm_relu")
    def _(x, weight, bias, mean, var, eps, relu):
        _bn(x, [(weight, "weight"), (bias, "bias"), (mean, "mean"), (var, "var")], "batch_norm_relu")
        torch._check_value((mean is None) == (var is None),
                           lambda: "gnnkit: batch_norm_relu: pass both 'mean' and 'var' or neither")
        C = x.shape[1]
        return torch.empty_like(x, memory_format=torch.contiguous_format), x.new_empty(C), x.new_empty(C)

    @_fake("batch_norm_relu_backward")
    def _(grad, x, out, weight, mean, var, eps, relu, training):
        _bn(x, [(weight, "weight"), (mean, "mean"), (var, "var")], "batch_norm_relu_backward")
        for t, name in ((grad, "grad"), (out, "out")):
            _same_dtype(t, x, name, "x")
            torch._check_value(t.shape == x.shape, lambda: f"gnnkit: batch_norm_relu_backward: '{name}' has shape "
                                                           f"{_shape(t)} but 'x' has shape {_shape(x)}")
        C = x.shape[1]
        return torch.empty_like(x, memory_format=torch.contiguous_format), x.new_empty(C), x.new_empty(C)

    @_fake("batch_norm_update_stats")
    def _(running_mean, running_var, mean, var, n, momentum):
        for t, name in ((running_mean, "running_mean"), (running_var, "running_var"), (var, "var")):
            torch._check_value(t.shape == mean.shape, lambda: f"gnnkit: batch_norm_update_stats: '{name}' must have "
                                                              f"shape {_shape(mean)}, got {_shape(t)}")
        return None
