"""Variable-sized all-to-all exchange on torch.distributed, with a byte counter.

Every call is one collective that every rank of the group must make (also with nothing to
send), so the number of calls per batch is the same on every rank.  Works on gloo (CPU) and
NCCL (tensors on the rank's GPU).
"""
from __future__ import annotations

import time

import torch
import torch.distributed as dist

__all__ = ["Exchanger", "comm_device"]


def comm_device(group=None) -> torch.device:
    """Where a collective's tensors must live: the rank's GPU under NCCL (which moves only CUDA
    tensors), else the CPU."""
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class Exchanger:
    """``exchange(parts)``: send ``parts[r]`` to rank ``r`` and return what every rank sent here.

    ``parts`` is a list of ``world_size`` tensors with the same dtype and the same trailing
    shape (rows may differ in number); the result lists the received tensors by source rank.
    ``bytes_sent`` counts the payload bytes this rank sent to *other* ranks (what crosses the
    network), counts excluded.
    """

    def __init__(self, group=None):
        self.group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        self.bytes_sent = 0
        self.calls = 0
        self.seconds = 0.0  # wall time inside the collectives (network + waiting for peers)
        # NCCL moves only CUDA tensors: stage through the rank's GPU, hand CPU tensors back
        self.device = comm_device(group)

    def exchange(self, parts: list) -> list:
        if len(parts) != self.world:
            raise ValueError(f"Exchanger.exchange: need {self.world} parts (one per rank), got {len(parts)}")
        trailing = tuple(parts[0].shape[1:])
        dtype = parts[0].dtype
        for r, p in enumerate(parts):
            if p.dtype != dtype or tuple(p.shape[1:]) != trailing:
                raise ValueError(f"Exchanger.exchange: parts[{r}] is {p.dtype} {tuple(p.shape)}, "
                                 f"parts[0] is {dtype} {(-1,) + trailing}")
        t0 = time.perf_counter()
        width = 1
        for d in trailing:
            width *= d
        dev = self.device
        send_rows = torch.tensor([p.shape[0] for p in parts], dtype=torch.int64)
        recv_rows = torch.empty_like(send_rows, device=dev)
        dist.all_to_all_single(recv_rows, send_rows.to(dev), group=self.group)
        recv_rows = recv_rows.cpu()
        flat = torch.cat([p.reshape(-1) for p in parts]) if parts else torch.empty(0, dtype=dtype)
        out = torch.empty(int(recv_rows.sum()) * width, dtype=dtype, device=dev)
        dist.all_to_all_single(out, flat.contiguous().to(dev), output_split_sizes=(recv_rows * width).tolist(),
                               input_split_sizes=(send_rows * width).tolist(), group=self.group)
        out = out.cpu()
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        self.bytes_sent += int((send_rows.sum() - send_rows[self.rank]) * width * flat.element_size())
        return list(out.reshape((-1,) + trailing).split(recv_rows.tolist()))
