"""The cost of each hidden activation: one network trained with each of them.

A 32-128-128-1 binary classifier (20,000 x 32 float32, Adam 1e-3, batch 128) with
every activation in ``HIDDEN_ACTIVATIONS`` (aliases once) in both hidden layers. Each row's note
gives the epoch time over ReLU's: an activation is a few element-wise passes, so
none should cost several times what ReLU does (GELU once took 12x, from ``x**3``).
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import median, short_note, time_interleaved

NAME = "activations"
GROUP = "activations"


def run(args) -> list[dict]:
    """Time one training epoch per hidden activation, interleaved."""
    from chainrule import Dense, Network, Sigmoid
    from chainrule.layers import HIDDEN_ACTIVATIONS, get_activation

    rows = 4_000 if args.quick else 20_000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 32), dtype=np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(np.float32)
    nets = {}
    seen = set()
    for name in HIDDEN_ACTIVATIONS:
        act = get_activation(name)
        if act in seen:  # an alias ("linear" for "identity", "logistic" for "sigmoid")
            continue
        seen.add(act)
        net = Network(
            [Dense(128), act(), Dense(128), act(), Dense(1), Sigmoid()],
            loss="binary_crossentropy",
            optimizer="adam",
            seed=0,
        )
        net.fit(X[:512], y[:512], epochs=1, batch_size=128)  # built, warmed up
        nets[act.name] = net
    times = time_interleaved(
        {name: (lambda n=net: n.fit(X, y, epochs=1, batch_size=128)) for name, net in nets.items()},
        args.repeats,
        pause=0.0,
    )
    workload = f"32-128-128-1, {rows} x 32, batch 128"
    relu = median(times["relu"])
    results = []
    for name, t in times.items():
        seconds = median(t)
        row = {
            "group": GROUP,
            "workload": f"{workload}, {name}",
            "library": "chainrule",
            "dtype": "float32",
            "seconds": seconds,
            "times": t,
            **short_note(t, args.repeats),
        }
        row["note"] = (row.get("note", "") + f" {seconds / relu:.2f}x ReLU's epoch").strip()
        results.append(row)
        print(f"    {name:12s} {seconds:.4f} s/epoch ({seconds / relu:.2f}x ReLU)", flush=True)
    return results
