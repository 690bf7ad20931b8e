"""Serving a stream: bad inputs are recorded and the stream goes on; kill and resume lose
no input and count none twice; one call log per input holds every cost; the summary is
right."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fmprog.backends.base import Backend, BackendError, Pools, Result
from fmprog.backends.fake import FakeBackend, fake_pools
from fmprog.compiler import compile_source
from fmprog.compiler.ir import Op
from fmprog.runtime.calllog import Trace
from fmprog.runtime.executor import DirectExecutor
from fmprog.runtime.metrics import summarise
from fmprog.runtime.policies.rewards import OPEN_FORM_RIGHT, OPEN_FORM_WRONG
from fmprog.runtime.routed import RoutedInterpreter, sites_of
from fmprog.runtime.router import Router
from fmprog.runtime.service import build_policy
from fmprog.runtime.store import Store
from streams import LOOP_PROGRAM, PROGRAM, answers, fakes, make_stream, run


def test_bad_inputs_are_recorded_and_the_stream_goes_on(tmp_path):
    class Flaky(FakeBackend):
        def verify_property(self, image, obj, prop):
            if image.shape[1] % 3 == 0:
                raise BackendError("model server said 500")
            return super().verify_property(image, obj, prop)

    class Slow(FakeBackend):
        def verify_property(self, image, obj, prop):
            time.sleep(1.0)
            return True

    pools = [FakeBackend("det-s", 1, "detection"), FakeBackend("det-l", 5, "detection"),
             Flaky("vqa-s", 1, "vqa"), Slow("vqa-l", 5, "vqa")]
    images, labels = make_stream(tmp_path, 12, corrupt={3}, unlabeled={5})
    stored = run(tmp_path, pools, images=(images, labels), backend_timeout=0.3,
                 max_error_rate=1.0).rows
    assert len(stored) == 12
    assert stored[3]["error_kind"] == "image-error" and "0003.png" in stored[3]["error"]
    assert stored[5]["label"] is None and "no label" in stored[5]["error"]
    kinds = {r["error_kind"] for r in stored}
    assert kinds & {"backend-error", "backend-timeout"}  # raised or timed out, recorded, not fatal
    for r in stored:
        if r["error_kind"] in ("backend-error", "backend-timeout"):
            failed = [c for c in r["trace"]["calls"] if c.get("error")]
            assert failed and failed[-1]["backend"] in ("vqa-s", "vqa-l")
            assert r["error_kind"] == failed[-1]["error_kind"]
            assert r["correct"] == 0 and r["reward"] is not None  # a failure teaches
    assert all(r["trace"] is not None for r in stored)


def test_summary_counts(tmp_path):
    stored = run(tmp_path, fake_pools(), n=10).rows
    s = summarise(stored)
    assert s["inputs"] == 10 and s["answered"] == 10
    assert 0 <= s["accuracy"] <= 1 and s["precision"] is not None
    assert s["cost_vs_largest"] <= 1.0
    assert set(s["backend_share"]) <= {n.meta["site"] for n in compile_source(PROGRAM).graph.neural_sites()}
    assert s["top_errors"] == [] and s["backend_error_rate"] == 0.0


def test_one_call_log_holds_every_cost_of_a_site_that_fires_in_a_loop(tmp_path):
    class ThreeDogs(FakeBackend):
        def detect(self, image, name):
            from fmprog.backends.geometry import Box
            return [Box(0, 0, 4, 4, 0.9), Box(4, 4, 8, 8, 0.8), Box(8, 8, 12, 12, 0.7)]

        def verify_property(self, image, obj, prop):
            return False  # every dog is checked

    pools = [ThreeDogs("det", 2.0, "detection"), ThreeDogs("vqa", 3.0, "vqa")]
    rows = run(tmp_path, pools, n=4, program=LOOP_PROGRAM, policy="static-cheapest",
               cost_weight=0.5, reward="open-form").rows
    for r in rows:
        calls = r["trace"]["calls"]
        assert [c["op"] for c in calls] == ["detect", "verify_property", "verify_property", "verify_property"]
        assert r["cost"] == sum(c["cost"] for c in calls) == 2.0 + 3 * 3.0
        verify = next(s for s in r["trace"]["sites"] if s.startswith("verify"))
        assert r["trace"]["sites"][verify]["calls"] == 3
        task = OPEN_FORM_RIGHT if r["correct"] else OPEN_FORM_WRONG
        assert r["reward"] == pytest.approx(task - 0.5 * r["cost"])
        assert r["largest_cost"] == r["cost"]  # one member per pool: cheapest is largest


def test_policies_learn_the_task_reward_and_the_cost_of_every_call(tmp_path):
    seen = []

    class Spy(FakeBackend):
        def detect(self, image, name):
            from fmprog.backends.geometry import Box
            return [Box(0, 0, 4, 4), Box(4, 4, 8, 8), Box(8, 8, 12, 12)]

    from fmprog.runtime.policies.static import StaticPolicy

    original = StaticPolicy.update

    def update(self, episode, feedback):
        seen.append(feedback)
        return original(self, episode, feedback)

    StaticPolicy.update = update
    try:
        rows = run(tmp_path, [Spy("det", 2.0, "detection"), Spy("vqa", 3.0, "vqa")], n=6,
                   program=LOOP_PROGRAM, policy="static-cheapest", cost_weight=1.0, reward="open-form").rows
    finally:
        StaticPolicy.update = original
    assert len(seen) == 6
    for fb, r in zip(seen, rows):
        assert fb.cost == r["cost"] and fb.reward == pytest.approx(r["reward"])
        assert fb.task in (OPEN_FORM_RIGHT, OPEN_FORM_WRONG)
        assert sum(fb.site_cost.values()) == pytest.approx(fb.cost)


def test_kill_and_resume_lose_nothing(tmp_path):
    """A run killed mid-stream and resumed equals an uninterrupted run, row for row."""
    images, labels = make_stream(tmp_path, 40)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    config = tmp_path / "backends.json"
    config.write_text(json.dumps([{"name": f"slow-{k}-{i}", "kind": k, "type": "fake", "cost": c, "delay": 0.02}
                                  for k in ("detection", "vqa") for i, c in enumerate((1, 5))]))
    base = [sys.executable, "-m", "fmprog", "run", str(prog), "--images", str(images), "--labels",
            str(labels), "--policy", "structured", "--cost-weight", "0.1", "--window", "4",
            "--backends", str(config), "--format", "json"]
    p = subprocess.Popen(base + ["--db", str(tmp_path / "a.sqlite")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    store = None
    for _ in range(600):  # wait until some rows are in, then kill hard
        time.sleep(0.02)
        if (tmp_path / "a.sqlite").exists():
            store = store or Store(tmp_path / "a.sqlite")
            if len(store.items(1)) >= 9:
                break
    p.send_signal(signal.SIGKILL)
    p.wait()
    done_before = len(store.items(1))
    store.close()
    assert 0 < done_before < 40
    out = subprocess.run(base + ["--db", str(tmp_path / "a.sqlite"), "--resume"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "resuming run 1 at input " in out.stderr
    start = int(out.stderr.split("at input ")[1].split()[0])
    assert start % 4 == 0  # a window boundary
    resumed = Store(tmp_path / "a.sqlite").items(1)
    full = subprocess.run(base + ["--db", str(tmp_path / "b.sqlite")], capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    straight = Store(tmp_path / "b.sqlite").items(1)
    assert [r["seq"] for r in resumed] == list(range(40))
    assert answers(resumed) == answers(straight)


def test_oracle_is_at_least_as_right_as_any_static_policy_and_cheaper_than_largest(tmp_path):
    images = make_stream(tmp_path, 16)
    results = {}
    for name in ("static-cheapest", "static-largest", "oracle"):
        results[name] = summarise(run(tmp_path, fake_pools(), policy=name, db=f"{name}.sqlite", images=images).rows)
    oracle = results["oracle"]
    assert oracle["accuracy"] >= max(results["static-cheapest"]["accuracy"], results["static-largest"]["accuracy"])
    assert oracle["avg_cost"] <= results["static-largest"]["avg_cost"]


def test_the_oracle_makes_each_distinct_call_once_per_input(tmp_path):
    pools = fakes()
    run(tmp_path, pools, n=6, policy="oracle")
    # 2 sites x 2 backends: each backend answers each distinct call once, not once per assignment
    det = [b for b in pools if b.kind == "detection"]
    assert all(b.calls <= 6 for b in det)


def test_paper_policy_gets_the_raw_image(tmp_path):
    from fmprog.runtime.policies import PaperSettings, make_policy
    import fmprog.runtime.service as service

    original = service.build_policy
    service.build_policy = lambda name, sites, cw, seed: make_policy(
        "paper", sites, PaperSettings(image_size=64, width=4, retrain_every=2, epochs=1), seed)
    try:
        stored = run(tmp_path, fake_pools(), n=3, policy="paper").rows
    finally:
        service.build_policy = original
    assert [r["error_kind"] for r in stored] == [None, None, None]
    assert all(r["reward"] is not None for r in stored)


def test_trace_records_the_nodes_that_fired_and_no_others():
    class NothingThere(FakeBackend):
        def detect(self, image, name):
            return []

    graph = compile_source(PROGRAM).graph
    pools = Pools([NothingThere("det", 1, "detection"), FakeBackend("vqa", 1, "vqa")])
    policy = build_policy("static-cheapest", sites_of(graph, pools), cost_weight=0.0, seed=0)
    interp = RoutedInterpreter(graph, Router(pools, policy))
    executor = DirectExecutor()
    trace = interp.start(policy.begin(np.zeros(1)), lambda job: executor.run([job])[0])
    assert isinstance(trace, Trace)
    assert interp.run({"image": np.zeros((8, 8, 3), np.uint8)}) == "no"
    find, verify = graph.neural_sites()
    assert find.id in trace.fired and verify.id not in trace.fired
    assert len(trace.fired) == len(set(trace.fired))  # each node once: no loops here
    assert set(trace.sites()) == {find.meta["site"]}
    out = next(n for n in graph.nodes if n.op is Op.OUTPUT)
    assert trace.fired[-1] == out.id


def test_a_policy_fault_is_not_the_programs_error(tmp_path):
    from fmprog.runtime.policies.static import StaticPolicy

    original = StaticPolicy._choose
    StaticPolicy._choose = lambda self, episode, site: [][1]
    try:
        rows = run(tmp_path, fakes(), n=3, policy="static-cheapest").rows
    finally:
        StaticPolicy._choose = original
    for r in rows:
        assert r["error_kind"] == "runtime-fault"
        assert "IndexError" in r["error"] and "not of the program" in r["error"]
        assert " at 3:" not in r["error"]  # not located at a program line
        assert r["correct"] is None  # a fault of ours teaches nothing


def test_a_budget_makes_the_average_cost_track_it(tmp_path):
    images = make_stream(tmp_path, 200)
    free = run(tmp_path, fakes(), images=images, db="free.sqlite", cost_weight=0.0, reward="open-form")
    tight = run(tmp_path, fakes(), images=images, db="tight.sqlite", cost_weight=0.0, reward="open-form",
                budget=3.0)
    s = tight.summary
    assert s["budget"] == 3.0 and s["achieved_cost"] == pytest.approx(3.0, rel=0.25)
    assert free.summary["avg_cost"] > 4.0  # unpriced, it spends far more
    assert s["final_cost_weight"] > 0


def test_delayed_and_missing_feedback_teach_only_what_arrived(tmp_path):
    from fmprog.runtime.learning import labelled

    seen = []
    from fmprog.runtime.policies.bayes import BayesSitePolicy

    original = BayesSitePolicy.update

    def update(self, episode, feedback):
        seen.append(feedback.cost)
        return original(self, episode, feedback)

    BayesSitePolicy.update = update
    try:
        rows = run(tmp_path, fakes(), n=40, feedback_delay=10, feedback_rate=0.5, window=4).rows
    finally:
        BayesSitePolicy.update = original
    expected = [r["cost"] for i, r in enumerate(rows) if labelled(0, i, 0.5) and i + 10 <= 39]
    assert seen == expected  # in input order, only the labelled ones, only once arrived
    assert sum(r["trace"]["learned"] for r in rows) == sum(labelled(0, i, 0.5) for i in range(40))
    assert all(r["correct"] is not None for r in rows)  # every input still scored


def test_pending_feedback_survives_a_resume(tmp_path):
    """Stopping after 20 inputs and resuming equals one run of 40, row for row."""
    from fmprog.runtime.inputs import load_inputs
    from fmprog.runtime.service import serve
    from fmprog.runtime.settings import RunSettings

    images, labels = make_stream(tmp_path, 40)
    items = load_inputs(images, labels).items
    graph = compile_source(PROGRAM).graph
    settings = RunSettings(policy="structured", cost_weight=0.1, feedback_delay=7, window=4)
    straight = serve(graph, items, Pools(fakes()), settings, str(tmp_path / "a.sqlite")).rows
    serve(graph, items[:20], Pools(fakes()), settings, str(tmp_path / "b.sqlite"))
    db = Store(tmp_path / "b.sqlite")  # the first half was run 1 over 20 inputs: continue it over 40
    db.db.execute("UPDATE runs SET inputs=?", (__import__("fmprog.runtime.service", fromlist=["x"]).stream_identity(items),))
    db.close()
    resumed = serve(graph, items, Pools(fakes()), settings, str(tmp_path / "b.sqlite"), resume=True).rows
    assert answers(resumed) == answers(straight)


ONE_SITE = '''def execute_command(image):
    image_patch = ImagePatch(image)
    return bool_to_yesno(image_patch.verify_property("thing", "odd"))
'''


class Truthful(Backend):
    """Knows the label (hidden in the image's first pixel); large and always right."""

    kind = "vqa"

    def verify_property(self, image, obj, prop):
        return Result(bool(image[0, 0, 0] % 2), 0.99)


class Unsure(Truthful):
    """Cheap: wrong on a third of the images, and then it says so (low confidence)."""

    def verify_property(self, image, obj, prop):
        truth = bool(image[0, 0, 0] % 2)
        if image[0, 0, 1] % 3 == 0:
            return Result(not truth, 0.2 + 0.2 * (image[0, 0, 2] % 2))
        return Result(truth, 0.7 + 0.25 * (image[0, 0, 2] % 2))


def _marked_stream(root, n):
    import json as _json

    from PIL import Image

    d = root / "images"
    d.mkdir()
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        img = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        p = d / f"{i:04d}.png"
        Image.fromarray(img).save(p)
        rows.append({"image": p.name, "label": "yes" if img[0, 0, 0] % 2 else "no"})
    (root / "labels.jsonl").write_text("\n".join(_json.dumps(r) for r in rows) + "\n")
    return d, root / "labels.jsonl"


def test_a_cascade_escalates_low_confidence_answers_and_pays_for_both(tmp_path):
    images = _marked_stream(tmp_path, 400)
    pools = [Unsure("vqa-small", 1.0), Truthful("vqa-large", 10.0)]
    kw = dict(images=images, program=ONE_SITE, reward="open-form", cost_weight=2.0)
    cascade = run(tmp_path, pools, db="c.sqlite", policy="structured-cascade", **kw).rows
    late = cascade[200:]
    acc = np.mean([r["correct"] for r in late])
    cost = np.mean([r["cost"] for r in late])
    assert acc > 0.95  # as right as the large one ...
    assert cost < 6.0  # ... at well under its cost (10)
    both = [r for r in late if len(r["trace"]["calls"]) == 2]
    assert both and all(r["cost"] == 11.0 for r in both)  # every tier run is paid
    assert all([c["backend"] for c in r["trace"]["calls"]] == ["vqa-small", "vqa-large"] for r in both)


BUSY = '''def execute_command(image):
    image_patch = ImagePatch(image)
    n = 0
    for i in range(4000):
        n = n + 1
    return bool_to_yesno(image_patch.exists("dog") and n > 0)
'''


@pytest.mark.parametrize("policy,window", [("static-cheapest", 1), ("static-cheapest", 4), ("oracle", 2)])
def test_every_input_gets_its_own_iteration_budget(tmp_path, policy, window):
    """Interpreters reused across inputs (and the oracle's evaluations) start each run
    with a fresh meter: 6 inputs of 4,000 iterations never add up to the 10,000 bound."""
    rows = run(tmp_path, fakes(), n=6, program=BUSY, policy=policy, window=window).rows
    assert [r["error_kind"] for r in rows] == [None] * 6


@pytest.mark.parametrize("policy", ["structured", "structured-cascade"])
def test_a_backend_that_can_never_pay_off_is_not_even_tried(tmp_path, policy):
    """At lambda 1 a backend costing 10,000 more than the cheapest loses more than any
    open-form answer is worth (200): no warm-up, no exploration, no escalation."""
    rows = run(tmp_path, fakes(costs=(1.0, 10_000.0)), n=30, policy=policy, cost_weight=1.0,
               reward="open-form").rows
    assert {c["index"] for r in rows for c in r["trace"]["calls"]} == {0}
