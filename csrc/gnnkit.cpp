// gnnkit._C: the table of contents of every op.
//
// Each schema is declared once here; each backend registers its kernels in its own file with
// TORCH_LIBRARY_IMPL(gnnkit, CPU|CUDA, m) (csrc/cpu/*_cpu.cpp, csrc/cuda/*_cuda.cu).  Autograd
// formulas and fake (meta) kernels are registered from Python (gnnkit/ops/_library.py).
//
// Graph convention (see gnnkit/graph.py): CSR grouped by destination.  `rowptr` is int64 [N_dst+1],
// `col` (int32 or int64) [E] holds the source of each arc, so row i lists the arcs j -> i.
// Optional transposed CSR (`t_rowptr` [N_src+1], `t_col` [E] destinations, `t_perm` [E] int64 CSR
// positions) is passed along so that backward passes can pull instead of scatter (spmm_sum and
// sddmm get it from gnnkit/ops/_library.py's transpose cache instead of their schema).
// Every kernel checks its arguments with the one check function of its op (csrc/op_checks.h,
// built on csrc/checks.h) before reading memory; CPU and CUDA call the same function.
#include <Python.h>
#include <torch/library.h>
#include <torch/version.h>

TORCH_LIBRARY(gnnkit, m) {
  // out[i,h,:] = s_i * sum_{k in row i} value[k,h] * x[col[k],h,:];  s_i = 1/deg(i) if mean else 1.
  // value: None (all ones) or [E, H];  x: [N_src, H, D].
  m.def("spmm_sum(Tensor rowptr, Tensor col, Tensor? value, Tensor x, bool mean) -> Tensor");
  // out[i,f] = max/min_{k in row i} value[k] * x[col[k], f]; arg = arg-extreme CSR position or -1.
  m.def("spmm_arg(Tensor rowptr, Tensor col, Tensor? value, Tensor x, str reduce) -> (Tensor, Tensor)");
  m.def("spmm_arg_backward(Tensor col, Tensor? value, Tensor x, Tensor grad_out, Tensor arg, "
        "bool need_x, bool need_value) -> (Tensor, Tensor)");
  // out[k,h] = <a[dst(k),h,:], b[col[k],h,:]>;  a: [N_dst, H, D], b: [N_src, H, D] -> [E, H].
  m.def("sddmm(Tensor rowptr, Tensor col, Tensor a, Tensor b) -> Tensor");
  // Softmax of scores [E, H] over the arcs of each destination row.
  m.def("edge_softmax(Tensor rowptr, Tensor scores) -> Tensor");
  m.def("edge_softmax_backward(Tensor rowptr, Tensor out, Tensor grad_out) -> Tensor");
  // Fused GAT aggregation: e = leaky_relu(a_dst[i,h] + a_src[j,h]); alpha = softmax_row(e);
  // out[i,h,:] = sum_k dropout(alpha[k,h]) x[j,h,:].  Returns (out [N_dst,H,D], lse [N_dst,H]).
  m.def("gat_attention(Tensor rowptr, Tensor col, Tensor x, Tensor a_src, Tensor a_dst, "
        "float negative_slope, float dropout, int seed, "
        "Tensor? t_rowptr=None, Tensor? t_col=None, Tensor? t_perm=None) -> (Tensor, Tensor)");
  m.def("gat_attention_backward(Tensor rowptr, Tensor col, Tensor t_rowptr, Tensor t_col, "
        "Tensor t_perm, Tensor x, Tensor a_src, Tensor a_dst, Tensor out, Tensor lse, "
        "Tensor grad_out, float negative_slope, float dropout, int seed) -> (Tensor, Tensor, Tensor)");
  // ---- random walks and GBP precompute (csrc/cpu/random_walk_cpu.cpp, csrc/cpu/gbp_cpu.cpp) ----
  // Walks over the CSR (rowptr, col) grouped by the node a walk leaves (pass the transposed gnnkit
  // CSR to walk along out-arcs).  Returns int64 [len(start), walk_length + 1]; -1 pads walks that
  // reach a node without arcs.  p == q == 1: uniform; else node2vec by rejection; restart_prob > 0:
  // uniform walks that jump back to their start (PPR estimation).  Walk i uses stream (seed, i).
  m.def("random_walk(Tensor rowptr, Tensor col, Tensor start, int walk_length, float p, float q, "
        "float restart_prob, int seed) -> Tensor");
  // GBP walk matrices S^(k), k = 1..L: n_r walks of L steps along in-arcs from every target;
  // returns CSR over (target, level) rows: (ptr int64 [T*L+1], node [nnz] int64, count int32 [nnz]).
  m.def("gbp_walk_matrix(Tensor rowptr, Tensor col, Tensor targets, int num_levels, int num_walks, "
        "int seed) -> (Tensor, Tensor, Tensor)");
  // GBP reverse push of one column block x [N, B] (float32/64, unit column stride, any row stride):
  // threshold r_max * ||D^-r x_c||_1, sparse frontiers.  Returns (direct [T, B] f64 = sum_l w_l
  // H^(l)(targets), thr [B] f64, res_node: L+1 sorted int64 node lists, res_val: L+1 float32 [n_t, B]
  // residues R_t left below the threshold; levels 0 and L are empty (R_0 is read from x).
  m.def("gbp_push(Tensor rowptr, Tensor col, Tensor x, Tensor targets, Tensor weights, float r, "
        "float r_max, Tensor? t_rowptr=None, Tensor? t_col=None) -> (Tensor, Tensor, Tensor[], Tensor[])");
  // GBP walk correction at the targets [T, B] f64: sum_k sum_u S^(k)(s,u) sum_{t<=L-k} w_{t+k} R_t(u)
  // from a walk matrix (gbp_walk_matrix for the same targets) and gbp_push's thr and residues.
  m.def("gbp_correct(Tensor rowptr, Tensor x, Tensor targets, Tensor weights, float r, Tensor thr, "
        "Tensor[] res_node, Tensor[] res_val, Tensor s_ptr, Tensor s_node, Tensor s_count, int num_walks) -> Tensor");
  // Paths for PathNN (csrc/cpu/paths_cpu.cpp; CPU only).  rowptr/col: the OUT-adjacency (grouped by
  // source).  mode: 'sp' (one shortest path per pair), 'sp+' (all shortest paths), 'ap' (all
  // simple paths).  count_paths -> int64 [N, max_len] exact counts (stops once the total exceeds
  // `limit`); path_count_bound -> int64 [max_len] cheap upper bound; enumerate_paths -> max_len
  // tensors, the k-th int64 [P_k, k+1] (node ids, start first), grouped by start node.
  m.def("count_paths(Tensor rowptr, Tensor col, int max_len, str mode, int limit) -> Tensor");
  m.def("path_count_bound(Tensor rowptr, Tensor col, int max_len, str mode) -> Tensor");
  // return_parents: max_len more int64 [P_k] tensors, the row of each path's prefix among the
  // length-(k-1) paths (the start node for k = 1).
  m.def("enumerate_paths(Tensor rowptr, Tensor col, Tensor counts, int max_len, str mode, "
        "bool return_parents=False) -> Tensor[]");
  // ---- sampling (csrc/cpu/neighbor_sample_cpu.cpp, csrc/cpu/saint_cpu.cpp; CPU only)
  // Hop-wise neighbour sampling (GraphSAGE / PyG NeighborLoader layout).  Hop h samples up to
  // fanouts[h] (-1 = all) in-arcs of every node first seen at hop h, without replacement, uniform
  // or Efraimidis-Spirakis weighted by `weight` [E]; with t_rowptr/t_col/t_perm (the transposed
  // CSR) also the out-arcs.  Returns (n_id [N_s] global ids, seeds first, in hop order;
  // hop_ptr [L+2]; in-arc CSR over the first hop_ptr[L] nodes: rowptr, col (local ids), e_id (CSR
  // positions in the graph); the out-arc CSR likewise (empty when not directed); the full-graph
  // in-degree of every sampled node, and its out-degree (empty when not directed)).
  m.def("neighbor_sample(Tensor rowptr, Tensor col, Tensor seeds, int[] fanouts, Tensor? weight, "
        "int seed, Tensor? t_rowptr=None, Tensor? t_col=None, Tensor? t_perm=None) -> Tensor[]");
  // Uniform walks for GraphSAINT: [num_walks, walk_length + 1] node ids; a step goes to a uniform
  // in-neighbour (CSR row), a node without in-arcs keeps the walk in place.
  // One hop of neighbor_sample for the rows of one partition (gnnkit.distributed): row nodes[i]
  // is node keys[i] of the whole graph and draws the arcs neighbor_sample draws for that node at
  // that hop; col holds global ids < num_src.  Returns (cnt [m], src, pos (CSR positions)).
  m.def("neighbor_sample_hop(Tensor rowptr, Tensor col, Tensor nodes, Tensor keys, int num_src, "
        "int fanout, Tensor? weight, int seed, int hop) -> Tensor[]");
  m.def("saint_random_walk(Tensor rowptr, Tensor col, Tensor start, int walk_length, int seed) -> Tensor");
  // Negative sampling (csrc/cpu/negative_sample_cpu.cpp, csrc/cuda/negative_sample_cuda.cu).
  // rowptr/col: CSR grouped by the kept endpoint (row a = sorted partners b of a).
  // anchor [M]: K = num_samples negatives per anchor
  // -> (a [M,K], b [M,K]); anchor None: num_samples pairs uniform over non-edges -> (a [S], b [S]).
  // b in [0, num_candidates), uniform or proportional to weight [num_candidates]; strict rejects
  // edges, exclude_self rejects b == a.  Sample i uses stream (seed, i).
  m.def("negative_sample(Tensor rowptr, Tensor col, Tensor? anchor, int num_samples, int num_candidates, "
        "Tensor? weight, bool strict, bool exclude_self, int seed) -> Tensor[]");
  // Skip-gram with negative sampling over walks [W, L+1] (-1 padded) (csrc/cpu/sgns_cpu.cpp; CPU only):
  // updates emb_in/emb_out [N, D] float32 in place (Hogwild), negatives ~ noise [N], keep [N]
  // subsampling probabilities; lr decays linearly over walk ids walk_offset.. of total_walks.
  // Returns the number of (centre, context) pairs trained.
  m.def("sgns_train(Tensor walks, Tensor(a!) emb_in, Tensor(b!) emb_out, Tensor noise, Tensor? keep, "
        "int window, int negatives, float lr, float min_lr, int walk_offset, int total_walks, int seed) -> int");
  // Inverted dropout (csrc/cpu/dropout_cpu.cpp; CPU only): y = a(x) * [u_i >= t] / (1 - p), a = ReLU
  // if relu else identity, u_i = rng::dropout_bits(seed, i) (csrc/rng.h) over the logical row-major
  // index i, t = min(round(p 2^32), 2^32 - 1); p in [0, 1).  Returns a contiguous tensor like x.
  // The mask depends on (seed, i) only: the backward of relu=False is dropout(grad, p, seed, False).
  m.def("dropout(Tensor x, float p, int seed, bool relu=False) -> Tensor");
  // Backward of dropout(..., relu=True) from its output: grad_x = grad / (1 - p) where out > 0, else 0.
  m.def("dropout_relu_backward(Tensor grad, Tensor out, float p) -> Tensor");
  // Row gather for the loader's feature fetcher (csrc/cpu/gather_cpu.cpp, CPU only): out[k] = src[index[k]].
  m.def("gather_rows(Tensor src, Tensor index) -> Tensor");
  // BatchNorm1d + optional ReLU over x [N, C] (csrc/cpu/batch_norm_cpu.cpp, CPU only; float32/64):
  // y = a((x - mu) * rsqrt(var + eps) * w + b), a = ReLU if relu.  mean/var None: training, (mu, var) =
  // the batch's mean and biased variance (N >= 2); else the given (running) statistics.  weight/bias
  // None: 1 / 0.  Returns (y [N, C], mu [C], var [C]); running statistics are updated separately.
  m.def("batch_norm_relu(Tensor x, Tensor? weight, Tensor? bias, Tensor? mean, Tensor? var, float eps, "
        "bool relu) -> (Tensor, Tensor, Tensor)");
  // Its backward (ReLU mask from the output y > 0): (grad_x, grad_weight, grad_bias); training: the full
  // BN gradient through the batch statistics (mean, var as returned by the forward).
  m.def("batch_norm_relu_backward(Tensor grad, Tensor x, Tensor out, Tensor? weight, Tensor mean, Tensor var, "
        "float eps, bool relu, bool training) -> (Tensor, Tensor, Tensor)");
  // In place, as torch: running_mean = m mean + (1 - m) running_mean, running_var = m var n/(n-1) + (1 - m) running_var.
  m.def("batch_norm_update_stats(Tensor(a!) running_mean, Tensor(b!) running_var, Tensor mean, Tensor var, "
        "int n, float momentum) -> ()");
}

// A tiny Python module so that `import gnnkit._C` loads the shared library (and with it the
// registrations above), and reports how it was built.
static struct PyModuleDef gnnkit_module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};

PyMODINIT_FUNC PyInit__C(void) {
  PyObject* m = PyModule_Create(&gnnkit_module);
  if (m == nullptr) return nullptr;
  PyModule_AddStringConstant(m, "torch_version", TORCH_VERSION);
#ifdef WITH_CUDA
  PyModule_AddIntConstant(m, "with_cuda", 1);
#else
  PyModule_AddIntConstant(m, "with_cuda", 0);
#endif
  return m;
}
