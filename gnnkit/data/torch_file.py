r"""Loading a ``torch.save`` file that may be damaged or forged.

``torch.load(weights_only=True)`` runs no code, but it does not check the CRC-32 that the zip
format stores for every entry: a file with a flipped payload byte loads, with a different number
in some tensor.  :func:`load_torch_file` therefore checks a zip-format file first: its entries
are stored uncompressed (as ``torch.save`` writes them; a deflated entry could expand without
bound), their total size fits in memory (:func:`~gnnkit.data.errors.check_alloc`) and every
entry passes its CRC-32 (:meth:`zipfile.ZipFile.testzip`, one pass over the file).  Files in the
legacy (pre-1.6, non-zip) format carry no checksum; they are accepted only when the caller allows
them (third-party downloads such as OGB's split files may predate the zip format).

Every failure is a :class:`~gnnkit.data.errors.DatasetError` naming the file.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from gnnkit.data.errors import DatasetError, check_alloc

__all__ = ["load_torch_file"]


def load_torch_file(path, *, legacy: bool = False, hint: str = ""):
    """``torch.load(path, map_location='cpu', weights_only=True)`` after the checks above.

    Args:
        path (str or Path): the file.
        legacy (bool): also accept the checksum-less pre-zip format. (default: :obj:`False`)
        hint (str): appended to every error message (e.g. how to regenerate the file).

    Raises:
        DatasetError: unreadable, not zip (unless ``legacy``), compressed or oversized entries,
            a CRC mismatch, or anything ``torch.load`` refuses.
    """
    import torch

    path = Path(path)
    tail = f"; {hint}" if hint else ""
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as e:
        raise DatasetError(f"{path}: unreadable ({e}){tail}") from e
    if is_zip:
        try:
            with zipfile.ZipFile(path) as z:
                infos = z.infolist()
                for i in infos:
                    if i.compress_type != zipfile.ZIP_STORED:
                        raise DatasetError(f"{path}: entry {i.filename!r} is compressed; torch.save stores "
                                           f"entries uncompressed{tail}")
                check_alloc(sum(i.file_size for i in infos), "the stored tensors", path)
                broken = z.testzip()
        except DatasetError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            raise DatasetError(f"{path}: not a readable torch.save archive ({type(e).__name__}: {e}){tail}") from e
        if broken is not None:
            raise DatasetError(f"{path}: entry {broken!r} fails its CRC-32 check (corrupted){tail}")
    elif not legacy:
        raise DatasetError(f"{path}: not a torch.save zip archive (truncated, or another kind of file){tail}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever untrusted bytes make torch.load raise
        raise DatasetError(f"{path}: not a readable tensor file (torch.load with weights_only=True refused it: "
                           f"{type(e).__name__}: {str(e)[:300]}){tail}") from e
