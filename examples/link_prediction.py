"""Link prediction and node embeddings with gnnkit, end to end (runs in about a minute on CPU).

    python examples/link_prediction.py            # Cora if its files are found, else a generated graph

1. a leak-free 85/5/10 edge split and a GAE (Kipf & Welling 2016) trained through the task layer;
2. strict negative sampling by hand;
3. node2vec embeddings scored by a linear probe.
"""
import torch

import gnnkit
from gnnkit.data import DatasetError, csbm, get_dataset
from gnnkit.embed import linear_probe, node2vec_embedding
from gnnkit.nn.models import build_model
from gnnkit.ops import negative_sampling
from gnnkit.tasks import LinkTask
from gnnkit.train import TrainConfig, fit

torch.set_num_threads(1)
try:
    ds = get_dataset("cora")
except DatasetError:
    ds = csbm(1000, num_classes=4, seed=0)
print(ds)

# 1. GAE on a random edge split (seed = split): the encoder only sees the training edges.
task = LinkTask(ds, split=0, objective="full")
print(task.edges)
model = build_model("gae", task)
run = fit(model, task, config=TrainConfig(lr=0.01, weight_decay=0.0, epochs=100, monitor="last", eval_every=25),
          seed=0)
print(f"GAE test ROC-AUC {100 * run.test:.1f} (val {100 * run.val:.1f})")

# 2. Strict negatives: never an edge of the graph, never a self-loop, same output for any thread count.
neg = negative_sampling(task.graph, 5, seed=0)
print("negative pairs:", neg.tolist())

# 3. node2vec (p = q = 1: DeepWalk walks) + logistic-regression probe on the node labels.
emb = node2vec_embedding(ds.graph, 64, walk_length=40, walks_per_node=5, window=5, seed=0)
sp = ds.split(0)
print("node2vec linear probe:", linear_probe(emb, ds.y, sp["train"], sp["test"], val=sp["val"]))
