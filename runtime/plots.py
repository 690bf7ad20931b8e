"""Plots of runs: running accuracy and cumulative cost over the stream, per policy."""

from __future__ import annotations

import numpy as np


def plot_runs(runs: dict[str, list[dict]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in runs.items():
        correct = np.array([r.get("correct") or 0 for r in rows], dtype=float)
        cost = np.array([r.get("cost") or 0.0 for r in rows])
        n = np.arange(1, len(rows) + 1)
        ax1.plot(n, np.cumsum(correct) / n, label=name)
        ax2.plot(n, np.cumsum(cost), label=name)
    ax1.set(xlabel="inputs", ylabel="running accuracy", title="accuracy")
    ax2.set(xlabel="inputs", ylabel="cumulative cost (M params)", title="cost")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
