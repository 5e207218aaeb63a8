"""The base of the layers that map ``in_channels`` input features to ``out_channels``."""
from __future__ import annotations

from torch import nn

__all__ = ["ChannelLayer"]


class ChannelLayer(nn.Module):
    """A module from ``in_channels`` to ``out_channels`` features: stores both (checking them is
    the subclass's job) and prints them first, ``Name(in, out[, extras])``; subclasses name their
    extras in :meth:`extra_repr_items`."""

    def __init__(self, in_channels, out_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels

    def extra_repr_items(self) -> str:
        """What the repr shows after the channels (e.g. ``"heads=2"``); empty by default."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr_items()
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}{', ' + extra if extra else ''})"
