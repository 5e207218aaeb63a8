"""File readers shared by the dataset loaders and ``gnnkit data convert`` (one per format).

=========================  =====================================================================
:mod:`.csv`                header-less numeric CSV (OGB's ``*.csv.gz``): whole, streamed, checked
:mod:`.npz`                ``.npz`` archives with every ``.npy`` header checked before allocating
:mod:`.edge_list`          text / CSV edge lists ``src dst [weight]``: whole or streamed
:mod:`.ogb_raw`            OGB's raw directory layout for node, link and graph datasets
=========================  =====================================================================

Every reader raises :class:`~gnnkit.data.errors.DatasetError` naming the file and the problem.
"""
from gnnkit.data.readers.csv import iter_csv, read_csv
from gnnkit.data.readers.edge_list import TextEdgeList
from gnnkit.data.readers.npz import NpzArchive, read_npz
from gnnkit.data.readers.ogb_raw import OgbRaw

__all__ = ["iter_csv", "read_csv", "TextEdgeList", "NpzArchive", "read_npz", "OgbRaw"]
