"""ogbg loader on synthetic OGB-layout directories, checked against ogb's own raw reader."""
import numpy as np
import pytest
import torch

from gnnkit.data.errors import DatasetError
from gnnkit.graphlevel.ogbg import load_ogbg
from gnnkit.graphlevel.ogbg_synthetic import write_ogbg_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ogbg_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ogbg")
    for name in ("ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa"):
        write_ogbg_layout(name, root, num_graphs=40, seed=1)
    return root


@pytest.mark.parametrize("name", ["ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa"])
def test_load_matches_ogb_reader(ogbg_root, name):
    from ogb.io.read_graph_raw import read_csv_graph_raw
    ds = load_ogbg(name, root=ogbg_root)
    ref = read_csv_graph_raw(str(ogbg_root / name.replace("-", "_") / "raw"), add_inverse_edge=True)
    assert len(ds) == len(ref) == 40
    for g in (0, 7, 39):
        r = ref[g]
        n0, n1 = int(ds.node_ptr[g]), int(ds.node_ptr[g + 1])
        gr = ds.graph(g)
        ours = sorted(zip(gr.edge_index[0].tolist(), gr.edge_index[1].tolist()))
        assert ours == sorted(zip(r["edge_index"][0].tolist(), r["edge_index"][1].tolist()))
        # edge features follow their arcs: compare as multisets of (src, dst, features)
        a0 = int(ds.indptr[n0])
        ea = ds.edge_attr[a0:a0 + gr.num_edges].numpy()
        mine = sorted((s, d, tuple(np.round(e, 4))) for s, d, e in
                      zip(gr.edge_index[0].tolist(), gr.edge_index[1].tolist(), ea))
        theirs = sorted((s, d, tuple(np.round(e, 4))) for s, d, e in
                        zip(r["edge_index"][0].tolist(), r["edge_index"][1].tolist(), r["edge_feat"]))
        assert mine == theirs
        if r["node_feat"] is not None:
            assert np.array_equal(ds.x[n0:n1].numpy(), r["node_feat"])
    assert ds.metric == f"ogb:{name}"


def test_targets_and_splits(ogbg_root):
    hiv, pcba, ppa = (load_ogbg(n, root=ogbg_root) for n in ("ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa"))
    assert hiv.task_type == "binary" and hiv.y.shape == (40, 1) and hiv.y.dtype == torch.float32
    assert pcba.task_type == "multilabel" and pcba.y.shape == (40, 128) and torch.isnan(pcba.y).any()
    assert ppa.task_type == "multiclass" and ppa.y.dtype == torch.int64 and ppa.num_classes == 37
    assert ppa.x.shape == (ppa.num_nodes, 1) and int(ppa.x.max()) == 0     # one code per node
    assert ppa.edge_attr.shape == (ppa.num_arcs, 7) and ppa.edge_attr.dtype == torch.float32
    s = hiv.splits
    assert sorted(torch.cat([s["train"], s["valid"], s["test"]]).tolist()) == list(range(40))


def test_missing_dataset_names_the_folders(tmp_path):
    with pytest.raises(DatasetError, match="no raw files found; looked in"):
        load_ogbg("ogbg-molhiv", root=tmp_path)
    with pytest.raises(DatasetError, match="not a graph property prediction dataset"):
        load_ogbg("ogbn-arxiv", root=tmp_path)
