"""Peer side of bench_node2vec.py: PecanPy walks + gensim Word2Vec, run in the 'pecanpy' peer venv.

    <peer python> experiments/_peer_node2vec.py EDGES.tsv OUT.npy NUM_NODES DIM WALK_LEN WALKS WINDOW P Q WORKERS SEED

Prints one JSON line with the timings (wall ``*_s``; ``*_cpu_s``: CPU seconds of the whole process,
all threads); writes the embeddings (row i = node i) to OUT.npy.
"""
import json
import sys
import time

t_start, c_start = time.perf_counter(), time.process_time()
import numba  # noqa: E402
import numpy as np  # noqa: E402
from gensim.models import Word2Vec  # noqa: E402
from pecanpy import pecanpy as pp  # noqa: E402

edges, out = sys.argv[1], sys.argv[2]
n, dim, L, walks_per_node, window = (int(a) for a in sys.argv[3:8])
p, q = float(sys.argv[8]), float(sys.argv[9])
workers, seed = int(sys.argv[10]), int(sys.argv[11])
numba.set_num_threads(workers)
t_import, c_import = time.perf_counter(), time.process_time()
mode = pp.FirstOrderUnweighted if p == 1 and q == 1 else pp.SparseOTF
g = mode(p, q, workers, False, random_state=seed)
g.read_edg(edges, weighted=False, directed=False, delimiter="\t")
t_load, c_load = time.perf_counter(), time.process_time()
g.preprocess_transition_probs()
walks = g.simulate_walks(walks_per_node, L)
t_walk, c_walk = time.perf_counter(), time.process_time()
model = Word2Vec(walks, vector_size=dim, window=window, min_count=0, sg=1, workers=workers, epochs=1, seed=seed)
t_train, c_train = time.perf_counter(), time.process_time()
emb = np.zeros((n, dim), dtype=np.float32)
for key in model.wv.index_to_key:
    emb[int(key)] = model.wv[key]
np.save(out, emb)
print(json.dumps({"mode": mode.__name__, "import_s": t_import - t_start, "load_s": t_load - t_import,
                  "walk_s": t_walk - t_load, "train_s": t_train - t_walk,
                  "walk_train_s": t_train - t_load, "num_walks": len(walks), "import_cpu_s": c_import - c_start,
                  "walk_cpu_s": c_walk - c_load, "train_cpu_s": c_train - c_walk, "walk_train_cpu_s": c_train - c_load}))
