"""Every gnnkit model draws its dropout masks through gnnkit.nn._utils.dropout (the counter-based
gnnkit.ops.dropout on dense CPU tensors), never through torch's F.dropout / nn.Dropout; eval mode
is deterministic; masks are reproducible under torch.manual_seed; dropout probabilities are checked
when the model is built."""
import pytest
import torch
import torch.nn.functional as F

import gnnkit
from gnnkit.nn import _utils
from gnnkit.nn.decoupled import GBPMLP, SIGN
from gnnkit.nn.dgn import DGN
from gnnkit.nn.dir_conv import DirGNN
from gnnkit.nn.gae import HadamardMLP, LinkGNN
from gnnkit.nn.gin import GIN
from gnnkit.nn.models import DAGNN, GCN
from gnnkit.nn.mlp import MLP
from gnnkit.nn.pathnn import PathConv, PathNN, compute_paths
from gnnkit.nn.pool import batch_graphs
from gnnkit.nn.sage import SAGE

pytestmark = pytest.mark.usefixtures("one_thread")


def _graph(n, seed, directed=False):
    gen = torch.Generator().manual_seed(seed)
    up = torch.rand(n, n, generator=gen) < 0.3
    up = up if directed else torch.triu(up, 1)
    up[torch.arange(n - 1), torch.arange(1, n)] = True   # connected
    up.fill_diagonal_(False)
    d, s = up.nonzero(as_tuple=True)
    if directed:
        return gnnkit.Graph.from_edge_index(torch.stack([s, d]), num_nodes=n, directed=True)
    return gnnkit.Graph.from_edge_index(torch.stack([torch.cat([s, d]), torch.cat([d, s])]),
                                        num_nodes=n, directed=False)


def _cases():
    """(name, builder(p), run(model)) for every model with a dropout argument."""
    big, batch = batch_graphs([_graph(9, 1), _graph(7, 2)])
    gen = torch.Generator().manual_seed(3)
    xg = torch.randn(big.num_nodes, 3, generator=gen)
    ea = torch.randn(big.edge_index.shape[1], 2, generator=gen)
    g = _graph(20, 4, directed=True)
    x = torch.randn(20, 3, generator=gen)
    pairs = torch.randint(0, 20, (2, 15), generator=gen)
    paths = compute_paths(big, 3, "sp+")
    return [
        ("pathnn", lambda p: PathNN(3, 8, 2, max_len=3, dropout=p), lambda m: m(xg, paths, batch, 2)),
        ("gin-vn", lambda p: GIN(3, 8, 2, num_layers=3, dropout=p, edge_dim=2, virtual_node=True),
         lambda m: m(xg, big, batch, 2, edge_attr=ea)),
        ("dgn", lambda p: DGN(3, 8, 2, num_layers=2, dropout=p), lambda m: m(xg, big, batch, num_graphs=2)),
        ("dirgnn", lambda p: DirGNN(3, 8, 2, num_layers=3, dropout=p, jumping_knowledge="max"),
         lambda m: m(x, g)),
        ("linkgnn", lambda p: LinkGNN(3, 8, 3, conv="sage", predictor="mlp", dropout=p),
         lambda m: m(x, g, pairs)),
        ("hadamard", lambda p: HadamardMLP(3, 8, 3, dropout=p), lambda m: m(x, pairs)),
        ("sign", lambda p: SIGN(3, 8, 2, num_hops=2, dropout=p, input_dropout=p), lambda m: m([x, x, x])),
        ("gbpmlp", lambda p: GBPMLP(3, 8, 2, num_layers=3, dropout=p), lambda m: m(x)),
        ("gcn", lambda p: GCN(3, 2, 8, dropout=p), lambda m: m(x, g)),
        ("sage", lambda p: SAGE(3, 2, 8, dropout=p, input_dropout=True), lambda m: m(x, g)),
        ("dagnn", lambda p: DAGNN(3, 2, 8, K=3, dropout=p), lambda m: m(x, g)),
        ("mlp", lambda p: MLP(3, 8, 2, dropout=p), lambda m: m(x)),
    ]


CASES = {name: (build, run) for name, build, run in _cases()}


@pytest.fixture
def gnnkit_draws(monkeypatch):
    """Count the calls of the gnnkit kernel; make torch's dropout and uniform draws fail."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model drew a dropout mask from torch's generator")
    for mod, name in ((F, "dropout"), (torch, "dropout"), (torch, "rand_like"), (torch, "bernoulli")):
        monkeypatch.setattr(mod, name, refuse)
    calls = []
    real = _utils._ops_dropout

    def counted(*args, **kwargs):
        calls.append(kwargs.get("relu", False))
        return real(*args, **kwargs)
    monkeypatch.setattr(_utils, "_ops_dropout", counted)
    return calls


@pytest.mark.parametrize("name", list(CASES))
def test_training_dropout_is_the_gnnkit_kernel(name, gnnkit_draws):
    build, run = CASES[name]
    torch.manual_seed(0)
    model = build(0.5).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    y1 = run(model)
    y1.square().sum().backward()          # the kernel's autograd reaches every dropout site
    assert gnnkit_draws, f"{name}: no dropout went through gnnkit.ops.dropout"
    model.load_state_dict(state)          # BatchNorm running stats moved: restore them
    torch.manual_seed(1)
    torch.testing.assert_close(run(model), y1, rtol=0, atol=0)   # reproducible under manual_seed
    model.load_state_dict(state)
    torch.manual_seed(2)
    assert not torch.equal(run(model), y1)                       # a fresh seed, fresh masks


@pytest.mark.parametrize("name", list(CASES))
def test_eval_and_p0_draw_nothing(name, gnnkit_draws):
    build, run = CASES[name]
    torch.manual_seed(0)
    with_p = build(0.5).eval()
    torch.manual_seed(0)
    without = build(0.0).eval()
    without.load_state_dict(with_p.state_dict())
    state = torch.random.get_rng_state()
    torch.testing.assert_close(run(with_p), run(without), rtol=0, atol=0)
    run(without.train())
    assert not gnnkit_draws
    assert torch.equal(torch.random.get_rng_state(), state)   # no seed drawn either


@pytest.mark.parametrize("build", [
    lambda: PathNN(3, 8, 2, max_len=3, dropout=1.0), lambda: PathConv(4, dropout=-0.1),
    lambda: DirGNN(3, 8, 2, dropout=1.5), lambda: HadamardMLP(3, 8, dropout=True),
    lambda: DGN(3, 8, 2, dropout="0.5"),
])
def test_bad_dropout_is_refused_at_construction(build):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got"):
        build()


def test_dropout_module():
    m = _utils.Dropout(0.25)
    assert repr(m) == "Dropout(p=0.25)"
    x = torch.randn(6, 5)
    assert m.eval()(x) is x
    torch.manual_seed(3)
    y = m.train()(x)
    torch.manual_seed(3)
    torch.testing.assert_close(y, _utils.dropout(x, 0.25), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got 1"):
        _utils.Dropout(1)
