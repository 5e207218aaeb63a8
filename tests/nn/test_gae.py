"""GAE / VGAE / LinkGNN: shapes, losses, learning a planted-partition graph, errors."""
import pytest
import torch

import gnnkit
from gnnkit.link import random_link_split
from gnnkit.nn.gae import GAE, VGAE, HadamardMLP, LinkGNN, recon_loss
from gnnkit.ops.negative_sampling import negative_sampling


def _sbm(n=120, blocks=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    b = torch.arange(n) % blocks
    p = torch.where(b[:, None] == b[None, :], 0.25, 0.01)
    a = torch.rand(n, n, generator=gen) < p
    a = torch.triu(a, 1)
    ei = a.nonzero().t()
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n).to_undirected()
    x = torch.nn.functional.one_hot(b, blocks).float() + 0.3 * torch.randn(n, blocks, generator=gen)
    return g, x


def _auc(model, x, s):
    model.eval()
    with torch.no_grad():
        z = model.encode(x, s.train_graph)
        sc = torch.cat([model.decode(z, s.test_pos), model.decode(z, s.test_neg)])
    y = torch.cat([torch.ones(s.test_pos.shape[1]), torch.zeros(s.test_neg.shape[1])])
    pos, neg = sc[y == 1], sc[y == 0]  # Mann-Whitney AUC
    return float((pos[:, None] > neg[None, :]).double().mean() + 0.5 * (pos[:, None] == neg[None, :]).double().mean())


@pytest.mark.parametrize("cls", [GAE, VGAE, lambda f: LinkGNN(f, 32, 2, conv="sage", predictor="mlp")])
def test_learns_planted_partition(cls):
    torch.manual_seed(0)
    g, x = _sbm()
    s = random_link_split(g, 0.05, 0.2, seed=0)
    m = cls(x.shape[1])
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    for ep in range(50):
        m.train()
        opt.zero_grad()
        z = m.encode(x, s.train_graph)
        neg = negative_sampling(s.train_graph, s.train_pos.shape[1], seed=ep)
        loss = recon_loss(m.decode(z, s.train_pos), m.decode(z, neg))
        if getattr(m, "variational", False):
            loss = loss + m.kl_loss() / x.shape[0]
        loss.backward()
        opt.step()
    assert _auc(m, x, s) > 0.8


def test_shapes_repr_and_errors():
    g, x = _sbm(40)
    m = GAE(4)
    assert repr(m) == "GAE(4, 32, 16)"
    z = m.encode(x, g)
    assert z.shape == (40, 16)
    assert m(x, g, torch.tensor([[0, 1], [2, 3]])).shape == (2,)
    with pytest.raises(ValueError, match=r"'pairs' must have shape \[2, P\]"):
        m.decode(z, torch.tensor([0, 1]))
    with pytest.raises(IndexError, match="'pairs' ids"):
        m.decode(z, torch.tensor([[0], [40]]))
    v = VGAE(4)
    v.train()
    v.encode(x, g)
    assert v.kl_loss().shape == ()
    with pytest.raises(RuntimeError, match="call encode"):
        VGAE(4).kl_loss()
    assert HadamardMLP(16, 8, 3)(z, torch.tensor([[0], [1]])).shape == (1,)
    with pytest.raises(ValueError, match="predictor"):
        LinkGNN(4, predictor="cos")
    assert float(recon_loss(torch.tensor([100.0]), torch.tensor([-100.0]))) < 1e-6


def test_full_recon_loss_matches_dense_bce():
    from gnnkit.nn.gae import full_recon_loss
    torch.manual_seed(0)
    n = 30
    z = torch.randn(n, 4, dtype=torch.float64, requires_grad=True)
    a = (torch.rand(n, n) < 0.1).double()
    a = ((a + a.t() + torch.eye(n)) > 0).double()
    ref = torch.nn.functional.binary_cross_entropy_with_logits(z @ z.t(), a, pos_weight=torch.tensor(7.0).double())
    got = full_recon_loss(z, a.nonzero().t(), 7.0)
    assert torch.allclose(ref, got)
    assert torch.allclose(torch.autograd.grad(ref, z)[0], torch.autograd.grad(got, z)[0])
