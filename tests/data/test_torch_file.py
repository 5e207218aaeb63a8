"""load_torch_file: CRC-checked, size-checked, weights_only loading of torch.save files."""
import io
import zipfile

import pytest
import torch

from gnnkit.data import DatasetError
from gnnkit.data.torch_file import load_torch_file


def _saved(tmp_path, obj, **kw):
    p = tmp_path / "t.pt"
    torch.save(obj, p, **kw)
    return p


def test_a_flipped_payload_byte_is_refused_though_torch_load_accepts_it(tmp_path):
    t = torch.arange(100)
    p = _saved(tmp_path, {"a": t})
    raw = bytearray(p.read_bytes())
    raw[raw.find(t.numpy().tobytes()[8:16])] ^= 1        # element 1: 1 -> 0
    p.write_bytes(bytes(raw))
    assert torch.load(p, weights_only=True)["a"][1] == 0  # the reason for the CRC check
    with pytest.raises(DatasetError, match="fails its CRC-32 check"):
        load_torch_file(p)


def test_good_legacy_deflated_and_junk_files(tmp_path):
    assert torch.equal(load_torch_file(_saved(tmp_path, {"a": torch.ones(3)}))["a"], torch.ones(3))
    legacy = _saved(tmp_path, {"a": torch.ones(3)}, _use_new_zipfile_serialization=False)
    with pytest.raises(DatasetError, match="not a torch.save zip archive"):
        load_torch_file(legacy)
    assert torch.equal(load_torch_file(legacy, legacy=True)["a"], torch.ones(3))
    src = _saved(tmp_path, {"a": torch.ones(3)})
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for i in zin.infolist():
            zout.writestr(i.filename, zin.read(i.filename))
    (tmp_path / "d.pt").write_bytes(buf.getvalue())
    with pytest.raises(DatasetError, match="is compressed"):
        load_torch_file(tmp_path / "d.pt")
    (tmp_path / "j.pt").write_text("junk")
    with pytest.raises(DatasetError, match="j.pt.*regenerate"):
        load_torch_file(tmp_path / "j.pt", hint="regenerate it")
    with pytest.raises(DatasetError, match="not a readable tensor file"):
        load_torch_file(tmp_path / "j.pt", legacy=True)
