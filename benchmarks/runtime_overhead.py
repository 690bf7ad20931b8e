"""Runtime overhead against a no-op backend: interpretation per input, policy decision time
per site, and memory over a long stream (it must stay flat).

Usage: python benchmarks/runtime_overhead.py [--inputs N] [--policy NAME]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from fmprog.backends.base import Pools
from fmprog.backends.fake import NoopBackend, fake_pools
from fmprog.compiler import compile_source
from fmprog.runtime.interpreter import FixedInterpreter
from fmprog.runtime.routed import RoutedInterpreter, sites_of

PROGRAM = '''
def execute_command(image):
    image_patch = ImagePatch(image)
    dogs = image_patch.find("dog")
    if len(dogs) == 0:
        return "no"
    dogs.sort(key=lambda d: d.horizontal_center)
    for dog in dogs:
        if dog.verify_property("dog", "brown") and dog.exists("collar"):
            return "yes"
    answer = image_patch.simple_query("Is there a dog?")
    return bool_to_yesno(answer == "yes" and len([d for d in dogs if d.width > 2]) > 0)
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--inputs", type=int, default=3000)
    ap.add_argument("--policy", default="structured")
    args = ap.parse_args()
    from fmprog.runtime.executor import DirectExecutor
    from fmprog.runtime.feedback import make_feedback
    from fmprog.runtime.policies.features import image_features
    from fmprog.runtime.router import Router
    from fmprog.runtime.service import build_policy

    graph = compile_source(PROGRAM).graph
    pools = Pools(fake_pools(cls=NoopBackend))
    image = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    fixed = FixedInterpreter(graph, {k: pools.pool(k)[0] for k in pools.by_kind})
    policy = build_policy(args.policy, sites_of(graph, pools), cost_weight=0.1, seed=0)
    routed = RoutedInterpreter(graph, Router(pools, policy))
    executor = DirectExecutor()

    def submit(job):
        return executor.run([job])[0]

    def plain():
        fixed.run({"image": image})

    feats = image_features(image)

    def serve():
        ep = policy.begin(feats)
        trace = routed.start(ep, submit)
        answer = routed.run({"image": image})
        policy.update(ep, make_feedback("open-form", answer, "yes", False, trace, 0.1))
        return len(trace.sites())

    for f in (plain, serve):
        f()
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        plain()
    t_plain = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    fired = 0
    for _ in range(n):
        fired += serve()
    t_serve = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(50):
        image_features(image)
    t_feat = (time.perf_counter() - t0) / 50
    per_site = (t_serve - t_plain) / (fired / n)
    print(f"program: {len(graph.nodes)} nodes, {len(graph.neural_sites())} neural sites, "
          f"{fired / n:.1f} sites fire per input")
    print(f"interpreter, no-op backends:   {t_plain * 1e3:.3f} ms/input")
    print(f"routed + policy '{args.policy}':   {t_serve * 1e3:.3f} ms/input "
          f"(choose+update {per_site * 1e3:.3f} ms per fired site)")
    print(f"context features (256x256):    {t_feat * 1e3:.3f} ms/input, shared by all sites")

    tracemalloc.start()
    marks = []
    for i in range(args.inputs):
        serve()
        if (i + 1) % (args.inputs // 6) == 0:
            marks.append(tracemalloc.get_traced_memory()[0] / 1e6)
    tracemalloc.stop()
    print(f"memory over {args.inputs} inputs (MB at each sixth): " + ", ".join(f"{m:.2f}" for m in marks))
    print(f"memory growth second half: {marks[-1] - marks[len(marks) // 2]:+.3f} MB")


if __name__ == "__main__":
    main()
