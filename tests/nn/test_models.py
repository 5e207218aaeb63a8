"""Ready models and the registry: shapes, defaults, blocks, sparse features, determinism."""
import pytest
import torch

from gnnkit import Graph
from gnnkit.nn import DAGNN, GAT, GCN, MLP, Block, available_models, get_model
from gnnkit.train.recipes import model_defaults
from gnnkit.nn._utils import dropout
from gnnkit.testing import random_edge_index

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def graph():
    return Graph.from_edge_index(random_edge_index(40, 160, seed=0), num_nodes=40, directed=False)


@pytest.mark.parametrize("name", ["gcn", "gat", "dagnn", "mlp"])
def test_models_forward_backward(graph, name):
    torch.manual_seed(0)
    model = get_model(name, 12, 5)
    x = torch.randn(40, 12)
    out = model(x, graph)
    assert out.shape == (40, 5)
    out.logsumexp(-1).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    # sparse COO features give the same eval output as dense ones
    model.eval()
    assert torch.allclose(model(x.to_sparse_coo(), graph), model(x, graph), atol=1e-5)


@pytest.mark.parametrize("name", ["gcn", "gat", "dagnn", "mlp"])
def test_models_deterministic_for_a_seed(graph, name):
    x = torch.randn(40, 12)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        m = get_model(name, 12, 5)
        m.train()
        outs.append(m(x, graph))  # includes input and attention dropout
    assert torch.equal(outs[0], outs[1])


def test_models_with_blocks_equal_full_graph(graph):
    torch.manual_seed(0)
    x = torch.randn(40, 12)
    block = Block(graph.indptr, graph.indices, num_src_nodes=40)
    for model, blocks in ((GCN(12, 5), [block, block]), (GAT(12, 5), [block, block]),
                          (DAGNN(12, 5, K=3), [block] * 3), (MLP(12, 8, 5), [block])):

        model.eval()
        assert torch.allclose(model(x, blocks), model(x, graph), atol=1e-5), type(model).__name__
    with pytest.raises(ValueError, match="expected 2 blocks"):
        GCN(12, 5).eval()(x, [block])


def test_registry_defaults_follow_papers():
    assert {"dagnn", "dir-gnn", "gat", "gbp", "gcn", "mlp", "sgc"} <= set(available_models("node"))
    m, t = model_defaults("gcn", "cora")
    assert (m["hidden_channels"], m["dropout"], t["lr"], t["weight_decay"]) == (16, 0.5, 0.01, 5e-4)
    assert t["normalize_features"] is True
    m, t = model_defaults("gat", "cora")
    assert (m["heads"], m["hidden_channels"], m["out_heads"], m["dropout"], t["lr"]) == (8, 8, 1, 0.6, 0.005)
    assert model_defaults("gat", "pubmed")[0]["out_heads"] == 8
    m, t = model_defaults("dagnn", "cora")
    assert (m["hidden_channels"], m["K"], m["dropout"], t["weight_decay"]) == (64, 10, 0.8, 0.005)
    m, t = model_defaults("dagnn", "citeseer")
    assert (m["K"], m["dropout"], t["weight_decay"]) == (10, 0.5, 0.02)
    assert model_defaults("gcn", "chameleon")[1].get("normalize_features", False) is False
    assert str(get_model("GCN", 1433, 7, hidden_channels=32)) == \
        "GCN(1433, 7, hidden_channels=32, num_layers=2)"
    assert str(get_model("mlp", 10, 3)) == "MLP(10, 64, 3, num_layers=2)"
    assert str(GAT(1433, 7)) == "GAT(1433, 7, hidden_channels=8, heads=8, out_heads=1)"
    assert str(DAGNN(1433, 7)) == "DAGNN(1433, 7, hidden_channels=64, K=10)"


def test_registry_bad_input():
    with pytest.raises(ValueError, match="unknown model 'gcnn'; available: dagnn, .*gat, gbp, gcn, .*mlp"):
        get_model("gcnn", 3, 2)
    with pytest.raises(ValueError, match=r"get_model\('gcn'\): bad override\(s\) \['heads'\]"):
        get_model("gcn", 3, 2, heads=4)
    with pytest.raises(ValueError, match="GCN: dropout must be in"):
        GCN(3, 2, dropout=1.0)
    with pytest.raises(ValueError, match="MLP: activation must be one of"):
        MLP(3, 4, 2, activation="swish")


def test_dropout_distribution_dense_and_sparse():
    torch.manual_seed(0)
    x = torch.ones(200, 500)
    y = dropout(x, 0.6)
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.4) < 0.01 and torch.allclose(y[y != 0], torch.tensor(2.5))
    xs = (torch.rand(200, 500) < 0.05).float()
    ys = dropout(xs.to_sparse_coo(), 0.5)
    assert ys.is_sparse
    d = ys.to_dense()
    assert ((d != 0) <= (xs != 0)).all()  # zeros stay zero
    assert abs((d != 0).sum().item() / (xs != 0).sum().item() - 0.5) < 0.05
    assert dropout(x, 0.6, training=False) is x
