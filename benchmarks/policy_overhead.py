"""Routing overhead: decision time per site, update time per input, feature time per image.

    python benchmarks/policy_overhead.py [--inputs 400] [--sites 1 4 16] [--paper-inputs 3]
        [--policies structured joint query-level paper]

For each policy and number of sites N (two-backend pools with the paper's costs):
- decision: the time of all `choose` calls of one input divided by N (mean and p99 over
  inputs). Context features are passed precomputed and timed on their own;
- amortized: decision + feature time / N, the per-site cost of routing one input
  (budget: 1 ms per site for the structured policy);
- update: one `update` call (mean and p99), retraining included where it falls. For the
  paper policy, retraining (every 64 inputs) is too slow to run here: one AdamW step on a
  batch of 16 is timed and the amortized cost is estimated as
  epochs * ceil(64 / 16) steps * N sites / 64 inputs, and printed separately.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from fmprog.runtime.policies import Site, make_policy
from fmprog.runtime.policies.base import Feedback
from fmprog.runtime.policies.features import image_features

COSTS = (3750.0, 73400.0)


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(n)]


def _stats_ms(samples: list[float]) -> str:
    a = np.asarray(samples) * 1e3
    return f"{a.mean():8.3f} {np.percentile(a, 99):8.3f}"


def feature_time(images: list[np.ndarray], reps: int) -> tuple[list[float], float]:
    """Per-image feature times (seconds) over `reps` images, and their mean."""
    for im in images[:20]:
        image_features(im)  # warm caches
    out = []
    for i in range(reps):
        t0 = time.perf_counter()
        image_features(images[i % len(images)])
        out.append(time.perf_counter() - t0)
    return out, float(np.mean(out))


def run_policy(name: str, n_sites: int, inputs: int, images: list[np.ndarray], warmup: int,
               budget_s: float):
    """Time up to `inputs` inputs after `warmup`, stopping after `budget_s` seconds (but
    never before 20 timed inputs); returns (decision/site list, update list, policy)."""
    sites = [Site(f"s{i}", "vqa", COSTS) for i in range(n_sites)]
    policy = make_policy(name, sites, seed=0)
    rng = np.random.default_rng(1)
    # the paper policy takes the raw image; the others the shared feature vector
    contexts = images if name == "paper" else [image_features(im) for im in images]
    decide, update = [], []
    start = time.perf_counter()
    for t in range(warmup + inputs):
        if len(decide) >= min(20, inputs) and time.perf_counter() - start > budget_s:
            break
        ep = policy.begin(contexts[t % len(contexts)])
        t0 = time.perf_counter()
        for s in sites:
            policy.choose(ep, s.id)
        t1 = time.perf_counter()
        task = float(rng.choice([100.0, -100.0]))
        cost = sum(policy.sites[s].costs[ep.arm(s)] for s in ep.fired)
        policy.update(ep, Feedback(task, cost, task - 1e-3 * cost, task > 0))
        t2 = time.perf_counter()
        if t >= warmup:
            decide.append((t1 - t0) / n_sites)
            update.append(t2 - t1)
    return decide, update, policy


def paper_train_step(policy, batch: int) -> float:
    """Seconds for one AdamW step of one site's ResNet-18 on a batch of `batch` images."""
    torch = policy.torch
    site = next(iter(policy.nets))
    net, opt = policy.nets[site], policy.opts[site]
    size = policy.settings.image_size
    x = torch.rand(batch, 3, size, size)
    arms = torch.zeros(batch, dtype=torch.long)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        logp = torch.log_softmax(net(x), dim=1)[torch.arange(batch), arms]
        loss = -logp.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return min(times)


def _paper_retraining(policy, n_sites: int) -> str:
    s = policy.settings
    step = paper_train_step(policy, s.batch_size)
    steps = s.epochs * math.ceil(s.retrain_every / s.batch_size)
    est = step * steps * n_sites / s.retrain_every
    return (
        f"{'':16} retraining (estimated): {step * 1e3:.0f} ms/step x {steps} steps "
        f"x {n_sites} sites / {s.retrain_every} inputs = {est * 1e3:.0f} ms/input"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=400, help="timed inputs per numpy policy")
    ap.add_argument("--paper-inputs", type=int, default=3, help="timed inputs, paper policy")
    ap.add_argument("--sites", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per numpy policy and N")
    ap.add_argument("--torch-threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--policies", nargs="+", default=["structured", "joint", "query-level", "paper"])
    args = ap.parse_args(argv)

    # other processes on the machine skew these figures: print the load they ran under
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    images = _images(64)
    feats, feat_mean = feature_time(images, 2000)
    print(f"features per 256x256 image (ms): {_stats_ms(feats)}  (mean, p99)")
    if "paper" in args.policies:
        import torch

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        print(f"torch threads: {torch.get_num_threads()}")
    print()
    print(f"{'policy':12} {'N':>3} | {'decision/site ms':>17} | {'amortized/site':>14} | "
          f"{'update/input ms':>17}")
    print(f"{'':12} {'':>3} | {'mean':>8} {'p99':>8} | {'mean ms':>14} | {'mean':>8} {'p99':>8}")
    for name in args.policies:
        paper = name == "paper"
        for n in args.sites:
            decide, update, policy = run_policy(
                name, n, args.paper_inputs if paper else args.inputs, images,
                warmup=1 if paper else 50, budget_s=math.inf if paper else args.budget,
            )
            amort = np.mean(decide) + (0.0 if paper else feat_mean / n)
            print(f"{name:12} {n:>3} | {_stats_ms(decide)} | {amort * 1e3:14.3f} | "
                  f"{_stats_ms(update)}   ({len(decide)} inputs)")
            if paper:
                print(_paper_retraining(policy, n))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
