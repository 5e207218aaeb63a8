// Row gather for the mini-batch feature fetcher: out[k] = src[index[k]] (CPU).
//
// `src` is typically a memory-mapped feature matrix [N, F] (a DiskGraph's features.npy); a batch
// of the products-sized benchmark reads ~700k random rows (~270 MB).  torch.index_select does the
// same copy; this kernel adds what pays for random rows from a large map:
//   * software prefetch of the rows kPrefetch positions ahead (every cache line of the row), so
//     several independent DRAM / page-cache misses are in flight per thread;
//   * a transparent-huge-page hint on the fresh output before its first touch (cpu/huge_pages.h),
//     which removes most of the 4 KiB page faults of a multi-hundred-MB output;
//   * rows split into contiguous chunks over at::parallel_for above a work threshold (small
//     gathers run on the calling thread), each output row written by one thread: the result does
//     not depend on the thread count.
// Every index is checked before any row is read (IndexError naming the first bad position).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>

#include "checks.h"
#include "cpu/huge_pages.h"

namespace gnnkit {
namespace {

constexpr int64_t kPrefetch = 12;     // rows ahead
constexpr int64_t kGrainBytes = 1 << 18;  // ~256 KB of output per parallel task at least

at::Tensor gather_rows_cpu(const at::Tensor& src, const at::Tensor& index_in) {
  TORCH_CHECK_VALUE(src.device().is_cpu() && index_in.device().is_cpu(),
                    "gnnkit: gather_rows runs on CPU tensors, got src on ", src.device(), " and index on ",
                    index_in.device());
  TORCH_CHECK_VALUE(src.dim() >= 1, "gnnkit: gather_rows: 'src' must have shape [N, ...], got ", shape_str(src));
  check_index_dtype(index_in, "index");
  check_dim(index_in, 1, "index", "[M]");
  // rows must be contiguous blocks (any row stride): the trailing dims are dense
  const at::Tensor row0 = src.dim() > 1 && src.size(0) > 0 ? src.select(0, 0) : at::Tensor();  // [0, F]: no row
  TORCH_CHECK_VALUE(src.dim() == 1 || src.size(0) == 0 || row0.is_contiguous(),
                    "gnnkit: gather_rows: each row of 'src' must be contiguous, got strides ", src.strides());
  const int64_t N = src.size(0);
  const at::Tensor index = index_in.to(at::kLong).contiguous();
  const int64_t M = index.numel();
  const int64_t* ip = index.data_ptr<int64_t>();
  for (int64_t k = 0; k < M; ++k)
    TORCH_CHECK_INDEX(ip[k] >= 0 && ip[k] < N, "gnnkit: gather_rows: index[", k, "] = ", ip[k],
                      " is out of range for 'src' with ", N, " rows");
  auto sizes = src.sizes().vec();
  sizes[0] = M;
  at::Tensor out = alloc("out", sizes, src.options().memory_format(at::MemoryFormat::Contiguous));  // typed OOM
  if (M == 0 || out.numel() == 0) return out;
  advise_huge_pages(out);  // before the first touch
  const int64_t row_bytes = out.nbytes() / M;
  const int64_t src_stride = src.stride(0) * static_cast<int64_t>(src.element_size());
  const char* sp = static_cast<const char*>(src.data_ptr());
  char* op = static_cast<char*>(out.data_ptr());
  const int64_t grain = std::max<int64_t>(1, kGrainBytes / std::max<int64_t>(row_bytes, 1));
  at::parallel_for(0, M, grain, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < std::min(e, b + kPrefetch); ++k) {
      const char* r = sp + ip[k] * src_stride;
      for (int64_t o = 0; o < row_bytes; o += 64) __builtin_prefetch(r + o, 0, 0);
    }
    for (int64_t k = b; k < e; ++k) {
      if (k + kPrefetch < e) {
        const char* r = sp + ip[k + kPrefetch] * src_stride;
        for (int64_t o = 0; o < row_bytes; o += 64) __builtin_prefetch(r + o, 0, 0);
      }
      std::memcpy(op + k * row_bytes, sp + ip[k] * src_stride, row_bytes);
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("gather_rows", &gather_rows_cpu); }

}  // namespace gnnkit
