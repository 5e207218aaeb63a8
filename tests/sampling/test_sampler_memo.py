"""The neighbour sampler checks a large CSR in full once and then remembers it (csrc/memo.h):
in-place torch writes are seen (the version counter), writes that bypass torch are caught by
the kernel's per-access checks when a sample reads the damaged part."""
import pytest
import torch

from gnnkit.ops._library import ops

N, DEG = 1 << 18, 4  # 262,144 rows, 1,048,576 arcs: above the memo's 2^20-entry threshold


@pytest.fixture()
def csr():
    g = torch.Generator().manual_seed(0)
    rowptr = torch.arange(0, (N + 1) * DEG, DEG, dtype=torch.int64)
    col = torch.randint(0, N, (N * DEG,), generator=g, dtype=torch.int64)
    return rowptr, col


def _sample(rowptr, col, seeds):
    return ops().neighbor_sample(rowptr, col, torch.tensor(seeds), [3, 2], None, 7, None, None, None)


def test_repeat_calls_same_result(csr):
    rowptr, col = csr
    a = _sample(rowptr, col, [0, 5, 9])
    b = _sample(rowptr, col, [0, 5, 9])  # second call: the memo skips the full pass
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_in_place_torch_write_is_checked_again(csr):
    rowptr, col = csr
    _sample(rowptr, col, [0])
    col[N * DEG - 1] = N + 5  # bumps the version counter: the full check runs again
    with pytest.raises(IndexError, match=r"col\[1048575\] = 262149 is out of range"):
        _sample(rowptr, col, [0])
    col[N * DEG - 1] = 0
    rowptr[100] = rowptr[101] + 1  # not monotone
    with pytest.raises(ValueError, match="not a valid CSR offset array at row 100"):
        _sample(rowptr, col, [0])


def test_write_behind_torch_is_caught_where_it_is_read(csr):
    rowptr, col = csr
    _sample(rowptr, col, [0, 1])
    col.numpy()[4 * 11] = -3  # no version bump: the memo still says "checked"
    out = _sample(rowptr, col, [0, 1])  # rows 0 and 1 do not touch arc 44
    assert out[0].numel() > 2
    with pytest.raises(IndexError, match="out of range"):  # row 11 holds it: read, checked, refused
        _sample(rowptr, col, [11])
