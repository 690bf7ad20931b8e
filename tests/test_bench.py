"""`fmprog bench` on small fake streams: the analytic baselines agree with replays, the
static line and gains are right, no model call is repeated, the JSON contract holds."""

import json
import subprocess
import sys

import pytest

from fmprog.backends.base import Pools
from fmprog.bench import analysis as A
from fmprog.bench.harness import BenchSettings, bench_stream
from fmprog.compiler import compile_source
from fmprog.runtime.inputs import load_inputs
from fmprog.runtime.policies.base import Site
from streams import LOOP_PROGRAM, PROGRAM, fakes, make_stream, run
from test_call_boundary import Refusing


def test_static_line_is_the_upper_envelope_and_flat_outside():
    line = A.static_line([(1.0, 0.5), (2.0, 0.52), (10.0, 0.9)])
    assert line == [(1.0, 0.5), (10.0, 0.9)]  # the middle tier lies below the chord
    assert A.line_at(line, 5.5) == pytest.approx(0.7)
    assert A.line_at(line, 0.5) == 0.5 and A.line_at(line, 20.0) == 0.9
    # a largest tier worse than a cheaper one: the line stops at the best
    assert A.static_line([(1.0, 0.6), (2.0, 0.8), (10.0, 0.7)]) == [(1.0, 0.6), (2.0, 0.8)]


def test_tiers_map_pools_of_different_lengths():
    sites = [Site("a", "detection", (1.0, 2.0, 3.0)), Site("b", "depth", (1.0,))]
    assert A.tiers(sites) == [{"a": 0, "b": 0}, {"a": 1, "b": 0}, {"a": 2, "b": 0}]
    assert A.tier_names(3) == ["static-cheapest", "static-tier1", "static-largest"]


def _bench(tmp_path, policies, n=16, seeds=1, pools=None, program=LOOP_PROGRAM):
    images, labels = make_stream(tmp_path, n)
    items = load_inputs(images, labels).items
    settings = BenchSettings(policies=policies, cost_weights=(0.0, 5.0), seeds=seeds, reward="binary",
                             metric="f1", window=4, out=tmp_path)
    graph = compile_source(program).graph
    return bench_stream("q", graph, items, Pools(pools or fakes(costs=(1.0, 2.0, 4.0))), settings,
                        tmp_path / "rec.sqlite"), (images, labels)


def test_analytic_static_tiers_and_oracle_equal_their_replayed_policies(tmp_path):
    scores, images = _bench(tmp_path, ("static", "oracle", "static-largest"))
    by = {(s.policy, s.cost_weight): s for s in scores}
    for name in ("static-cheapest", "static-largest", "oracle"):
        rows = run(tmp_path, fakes(cls=Refusing, costs=(1.0, 2.0, 4.0)), images=images, program=LOOP_PROGRAM,
                   db=f"{name}.sqlite", cache=str(tmp_path / "rec.sqlite"), replay=True, policy=name,
                   cost_weight=5.0, reward="binary").rows
        replayed = sum(r["correct"] for r in rows) / len(rows)
        assert by[(name, 5.0)].accuracy == pytest.approx(replayed), name
        assert by[(name, 5.0)].avg_cost == pytest.approx(sum(r["cost"] for r in rows) / len(rows)), name
    assert by[("static-largest", 0.0)].cost_vs_largest == pytest.approx(1.0)


def test_best_fixed_is_at_least_every_static_tier_in_reward(tmp_path):
    scores, _ = _bench(tmp_path, ("static", "best-fixed"))
    for cw in (0.0, 5.0):
        best = next(s for s in scores if s.policy == "best-fixed" and s.cost_weight == cw)
        for s in scores:
            if s.policy.startswith("static-") and s.cost_weight == cw:
                assert best.mean_reward >= s.mean_reward - 1e-9


def test_learned_policies_replay_without_a_model_call_and_are_seeded(tmp_path):
    scores, _ = _bench(tmp_path, ("static", "structured", "random"), seeds=2)
    again, _ = _bench(tmp_path / "again", ("static", "structured", "random"), seeds=2,
                      pools=fakes(costs=(1.0, 2.0, 4.0)))
    key = lambda s: (s.policy, s.cost_weight, s.seed)  # noqa: E731
    assert {key(s): (s.accuracy, s.avg_cost) for s in scores} == {key(s): (s.accuracy, s.avg_cost) for s in again}
    assert {s.seed for s in scores if s.policy == "structured"} == {0, 1}
    statics = [s for s in scores if s.policy.startswith("static-")]
    assert all(s.gain_over_line <= 1e-9 for s in statics)  # no tier is above its own envelope
    assert any(s.gain_over_line == pytest.approx(0.0, abs=1e-9) for s in statics)


def test_a_second_bench_run_reuses_the_recording(tmp_path):
    pools = fakes(costs=(1.0, 2.0, 4.0))
    _bench(tmp_path, ("static",), pools=pools)
    calls = sum(b.calls for b in pools)
    again = fakes(costs=(1.0, 2.0, 4.0))
    images, labels = make_stream(tmp_path, 16)
    items = load_inputs(images, labels).items
    settings = BenchSettings(policies=("static", "structured"), cost_weights=(1.0,), seeds=1, reward="binary",
                             metric="f1", window=4, out=tmp_path)
    bench_stream("q", compile_source(LOOP_PROGRAM).graph, items, Pools(again), settings, tmp_path / "rec.sqlite")
    assert calls > 0 and sum(b.calls for b in again) == 0


def test_cli_json_contract(tmp_path):
    images, labels = make_stream(tmp_path, 10)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    config = tmp_path / "b.json"
    config.write_text(json.dumps([{"name": f"f-{k}-{i}", "kind": k, "type": "fake", "cost": c}
                                  for k in ("detection", "vqa") for i, c in enumerate((1, 5))]))
    out = subprocess.run([sys.executable, "-m", "fmprog", "bench", "--program", str(prog), "--images", str(images),
                          "--labels", str(labels), "--backends", str(config), "--seeds", "2",
                          "--cost-weights", "0,2", "--policies", "static,best-fixed,random,structured,oracle",
                          "--out", str(tmp_path / "out"), "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {"benchmark", "queries", "seeds", "results", "per_query"}
    assert doc["queries"] == ["prog"] and doc["seeds"] == [0, 1]
    fields = {"policy", "cost_weight", "accuracy", "f1", "avg_cost", "cost_vs_largest", "gain_over_line"}
    assert all(fields <= set(r) for r in doc["results"])
    assert all(fields | {"query", "seed"} <= set(r) for r in doc["per_query"])
    policies = {r["policy"] for r in doc["results"]}
    assert policies == {"static-cheapest", "static-largest", "best-fixed", "random", "structured", "oracle"}
    for name in ("bench.json", "pareto.png", "learning.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_a_budget_bench_tracks_the_share_of_always_largest(tmp_path):
    images, labels = make_stream(tmp_path, 60)
    items = load_inputs(images, labels).items
    settings = BenchSettings(policies=("static", "best-fixed", "structured"), seeds=1, reward="open-form",
                             metric="accuracy", window=4, out=tmp_path, budget="50%")
    scores = bench_stream("q", compile_source(LOOP_PROGRAM).graph, items, Pools(fakes(costs=(1.0, 2.0, 4.0))),
                          settings, tmp_path / "rec.sqlite")
    by = {s.policy: s for s in scores}
    largest = by["static-largest"].avg_cost
    assert by["structured"].budget == pytest.approx(0.5 * largest, rel=1e-3)
    assert by["best-fixed"].avg_cost <= 0.5 * largest + 1e-3
    assert by["structured"].cost_weight is None
