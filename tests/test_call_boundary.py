"""The call boundary: caching and replay, recording for every assignment, batching
windows, failures that teach (circuit breaker, error rate), preflight, and the run
database as data (no pickle, locks, resume under other backends refused)."""

import json
import sqlite3
import subprocess
import sys

import pytest

from fmprog.backends.base import Backend, BackendError, Pools, Result
from fmprog.backends.fake import FakeBackend
from fmprog.compiler import compile_source
from fmprog.runtime.inputs import load_inputs
from fmprog.runtime.preflight import PreflightError, preflight
from fmprog.runtime.router import Breaker
from fmprog.runtime.recording import record
from fmprog.runtime.store import Store, StoreError
from streams import LOOP_PROGRAM, PROGRAM, answers, fakes, make_stream, run

STATIC = ("static-cheapest", "static-largest", "static:0", "random")


class Refusing(FakeBackend):
    """The same backends as `fakes()` (same identity: the cache keys match), which must
    not be called (replays)."""

    def identity(self):
        return FakeBackend.identity(self).replace("Refusing", "FakeBackend")

    def serve_batch(self, op, calls):
        raise AssertionError(f"{self.name} was called during a replay")


class Batches(FakeBackend):
    """Records the size of every batch it serves."""

    sizes: list

    def serve_batch(self, op, calls):
        self.sizes = getattr(self, "sizes", []) + [len(calls)]
        return super().serve_batch(op, calls)


# -- cache and replay ----------------------------------------------------------------------
def test_cache_then_replay_gives_identical_rows_and_makes_no_model_call(tmp_path):
    images = make_stream(tmp_path, 16)
    cache = str(tmp_path / "calls.sqlite")
    first = run(tmp_path, fakes(), images=images, db="a.sqlite", cache=cache, policy="structured")
    assert not any(c.get("cached") for r in first.rows for c in r["trace"]["calls"])
    replayed = run(tmp_path, fakes(cls=Refusing), images=images, db="b.sqlite", cache=cache,
                   replay=True, policy="structured")
    assert answers(replayed.rows) == answers(first.rows)
    calls = [c for r in replayed.rows for c in r["trace"]["calls"]]
    assert calls and all(c["cached"] for c in calls)
    assert [c["cost"] for r in replayed.rows for c in r["trace"]["calls"]] == \
        [c["cost"] for r in first.rows for c in r["trace"]["calls"]]  # the recorded cost


def test_a_replay_miss_is_a_recorded_error_never_a_model_call(tmp_path):
    images = make_stream(tmp_path, 6)
    cache = str(tmp_path / "calls.sqlite")
    run(tmp_path, fakes(), images=images, db="a.sqlite", cache=cache, policy="static-cheapest")
    rows = run(tmp_path, fakes(cls=Refusing), images=images, db="b.sqlite", cache=cache, replay=True,
               policy="static-largest", max_error_rate=1.0).rows
    assert {r["error_kind"] for r in rows} == {"replay-miss"}
    assert all("no recorded answer" in r["error"] for r in rows)


def test_record_then_every_policy_replays_without_a_model_call(tmp_path):
    images, labels = make_stream(tmp_path, 10)
    cache = str(tmp_path / "rec.sqlite")
    graph = compile_source(LOOP_PROGRAM).graph
    items = load_inputs(images, labels).items
    s = record(graph, items, Pools(fakes()), cache, window=4)
    assert s.inputs == 10 and s.calls > 0 and s.truncated == 0
    assert s.assignments >= 10
    again = record(graph, items, Pools(fakes()), cache, window=4)
    assert again.calls == 0  # a second recording reuses the first
    for name in (*STATIC, "structured", "joint", "query-level", "oracle"):
        rows = run(tmp_path, fakes(cls=Refusing), images=(images, labels), program=LOOP_PROGRAM,
                   db=f"{name}.sqlite", cache=cache, replay=True, policy=name).rows
        assert not [r for r in rows if r["error_kind"] == "replay-miss"], name


# -- batching windows ------------------------------------------------------------------------
@pytest.mark.parametrize("policy", STATIC)
def test_any_window_gives_the_answers_of_one_for_static_policies(tmp_path, policy):
    images = make_stream(tmp_path, 13)
    one = run(tmp_path, fakes(), images=images, db="k1.sqlite", policy=policy, program=LOOP_PROGRAM)
    for k in (4, 16):
        pools = fakes(cls=Batches)
        many = run(tmp_path, pools, images=images, db=f"k{k}.sqlite", policy=policy, window=k,
                   program=LOOP_PROGRAM)
        assert answers(many.rows) == answers(one.rows)
        assert max(max(getattr(b, "sizes", [0])) for b in pools) > 1  # it really batched


def test_a_learned_policy_in_a_window_is_deterministic(tmp_path):
    images = make_stream(tmp_path, 24)
    a = run(tmp_path, fakes(), images=images, db="a.sqlite", window=8)
    b = run(tmp_path, fakes(), images=images, db="b.sqlite", window=8)
    assert answers(a.rows) == answers(b.rows)
    share = [c["backend"] for r in a.rows for c in r["trace"]["calls"]]
    assert share == [c["backend"] for r in b.rows for c in r["trace"]["calls"]]


# -- failures that teach ----------------------------------------------------------------------
class Broken(FakeBackend):
    def verify_property(self, image, obj, prop):
        raise BackendError(f"{self.name}: connection refused")


def test_a_member_that_always_fails_loses_its_traffic(tmp_path):
    pools = [FakeBackend("det", 1, "detection"), FakeBackend("vqa-ok", 1, "vqa"), Broken("vqa-broken", 2, "vqa")]
    rows = run(tmp_path, pools, n=160, policy="structured", cost_weight=0.0, reward="open-form",
               max_error_rate=1.0, breaker_failures=1000).rows
    late = [c["backend"] for r in rows[80:] for c in r["trace"]["calls"] if c["op"] == "verify_property"]
    assert late and late.count("vqa-broken") / len(late) < 0.2


def test_the_breaker_falls_back_and_logs_it(tmp_path):
    pools = [FakeBackend("det", 1, "detection"), FakeBackend("vqa-ok", 1, "vqa"), Broken("vqa-broken", 2, "vqa")]
    rows = run(tmp_path, pools, n=12, policy="static-largest", breaker_failures=2, breaker_cooldown=60,
               max_error_rate=1.0).rows
    verify = [c for r in rows for c in r["trace"]["calls"] if c["op"] == "verify_property"]
    assert [c["backend"] for c in verify[:2]] == ["vqa-broken", "vqa-broken"]
    assert all(c["backend"] == "vqa-ok" and c["fallback_from"] == "vqa-broken" for c in verify[2:])
    assert all(c.get("error") is None for c in verify[2:])


def test_breaker_cools_down_and_half_opens():
    t = [0.0]
    b = Breaker(failures=2, cooldown=10, clock=lambda: t[0])
    b.record("x", False)
    assert not b.is_open("x")
    b.record("x", False)
    assert b.is_open("x")
    t[0] = 11
    assert not b.is_open("x")  # half-open: one more failure opens it again
    b.record("x", False)
    assert b.is_open("x")


def test_run_exits_3_over_the_error_rate_and_names_the_top_errors(tmp_path):
    images, labels = make_stream(tmp_path, 6)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    config = tmp_path / "b.json"
    config.write_text(json.dumps([{"name": "det", "kind": "detection", "type": "fake", "cost": 1},
                                  {"name": "vqa", "kind": "vqa", "type": "fake", "cost": 1, "delay": 1.0}]))
    out = subprocess.run([sys.executable, "-m", "fmprog", "run", str(prog), "--images", str(images),
                          "--labels", str(labels), "--backends", str(config), "--policy", "static-cheapest",
                          "--backend-timeout", "0.05", "--max-error-rate", "0.1", "--format", "json",
                          "--db", str(tmp_path / "r.sqlite")], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    s = json.loads(out.stdout)
    assert s["backend_error_rate"] > 0.1 and "max-error-rate" in out.stderr
    assert s["top_errors"][0]["kind"] == "backend-timeout"
    assert "did not answer within 0.05 s" in s["top_errors"][0]["message"]


# -- preflight ------------------------------------------------------------------------------
LLM_PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    name = image_patch.simple_query("What is this?")
    return llm_query(f"Is a {name} an animal?", long_answer=False)
'''


class Classifier(Backend):
    """Like an image classifier: verify_property only."""

    kind = "vqa"

    def verify_property(self, image, obj, prop):
        return True


class Down(FakeBackend):
    def health(self):
        raise BackendError("http://127.0.0.1:9/v1/models: connection refused")


def test_preflight_names_the_call_site_the_kind_and_how_to_get_one():
    graph = compile_source(LLM_PROGRAM).graph
    with pytest.raises(PreflightError) as e:
        preflight(graph, Pools([FakeBackend("vqa", 1, "vqa")]))
    (problem,) = e.value.problems
    assert problem.startswith("llm_query@4:11 needs an llm backend")


def test_preflight_refuses_a_member_that_cannot_serve_its_sites():
    graph = compile_source(LLM_PROGRAM).graph
    pools = Pools([Classifier("cls", 1), FakeBackend("big", 5, "vqa"), FakeBackend("llm", 1, "llm")])
    with pytest.raises(PreflightError) as e:
        preflight(graph, pools)
    assert e.value.problems == ["simple_query@3:23 may be routed to vqa backend 'cls', which cannot "
                                "serve simple_query() (the query operation)"]


def test_preflight_asks_every_backend_for_its_health():
    graph = compile_source(PROGRAM).graph
    with pytest.raises(PreflightError, match="'down' fails its health check: .*connection refused"):
        preflight(graph, Pools([FakeBackend("det", 1, "detection"), Down("down", 1, "vqa")]))


def test_preflight_failures_are_printed_by_run_with_exit_2(tmp_path):
    images, labels = make_stream(tmp_path, 2)
    prog = tmp_path / "prog.py"
    prog.write_text(LLM_PROGRAM)
    out = subprocess.run([sys.executable, "-m", "fmprog", "run", str(prog), "--images", str(images),
                          "--db", str(tmp_path / "r.sqlite")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "fmprog: error: llm_query@4:11 needs an llm backend" in out.stderr
    assert "Traceback" not in out.stderr


# -- the run database -----------------------------------------------------------------------
def test_resume_under_other_backends_is_refused(tmp_path):
    images = make_stream(tmp_path, 4)
    run(tmp_path, fakes(), images=images)
    with pytest.raises(StoreError, match="served with other backends .*det-0"):
        from fmprog.runtime.service import serve
        from fmprog.runtime.settings import RunSettings

        items = load_inputs(*images).items
        serve(compile_source(PROGRAM).graph, items, Pools(fakes(costs=(1.0, 7.0))),
              RunSettings(policy="structured", cost_weight=0.1, backend_timeout=2.0),
              str(tmp_path / "runs.sqlite"), resume=True)


def test_a_pickled_checkpoint_is_never_unpickled(tmp_path):
    import pickle

    images = make_stream(tmp_path, 4)
    run(tmp_path, fakes(), images=images)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    db = sqlite3.connect(tmp_path / "runs.sqlite")
    db.execute("UPDATE checkpoints SET state=?", (pickle.dumps({"rng": Evil()}),))
    db.commit()
    db.close()
    store = Store(tmp_path / "runs.sqlite")
    with pytest.raises(StoreError, match="stored policy state is not valid"):
        store.resume_point(1)
    assert not marker.exists()


def test_two_processes_cannot_serve_one_run(tmp_path):
    images = make_stream(tmp_path, 2)
    run(tmp_path, fakes(), images=images)
    a = Store(tmp_path / "runs.sqlite")
    a.lock(1)
    code = (f"from fmprog.runtime.store import Store, StoreError\n"
            f"s = Store({str(tmp_path / 'runs.sqlite')!r})\n"
            f"try:\n    s.lock(1)\nexcept StoreError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "run 1 is being served by another process" in out.stdout
    a.close()


def test_a_damaged_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "runs.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=f"{bad}: cannot open the run database"):
        Store(bad)


def test_state_round_trips_as_data():
    import numpy as np

    from fmprog.runtime import statecodec

    state = {"rng": np.random.default_rng(3).bit_generator.state, "a": np.arange(6, dtype=np.float32).reshape(2, 3),
             "t": (np.zeros(2, np.int64), 3, "x"), 5: [1.5, None, True], "inf": float("inf")}
    back = statecodec.decode(statecodec.encode(state))
    assert back["rng"] == state["rng"] and back[5] == state[5] and back["inf"] == float("inf")
    assert back["a"].dtype == np.float32 and (back["a"] == state["a"]).all()
    assert isinstance(back["t"], tuple) and back["t"][1:] == (3, "x")


def test_backend_serve_contract():
    class Half(Backend):
        kind = "vqa"

        def query(self, image, question):
            if question == "bad":
                raise ValueError("boom")
            return Result("ok", 0.9)

    from fmprog.backends.base import Call
    import numpy as np

    img = np.zeros((4, 4, 3), np.uint8)
    out = Half("h", 1).serve([Call("query", (img,), {"question": "q"}), Call("query", (img,), {"question": "bad"}),
                              Call("detect", (img,), {"object_name": "x"})])
    assert out[0] == Result("ok", 0.9)
    assert isinstance(out[1], BackendError) and "h: ValueError: boom" in str(out[1])
    assert isinstance(out[2], BackendError) and "does not serve the detect operation" in str(out[2])


def test_recording_keeps_an_outcome_tree_that_answers_every_assignment(tmp_path):
    """The tree read without running anything equals a replayed run under any assignment."""
    import itertools

    from fmprog.runtime.cache import SQLiteCache
    from fmprog.runtime.inputs import read_image
    from fmprog.runtime.recording import outcome, tree_key

    images, labels = make_stream(tmp_path, 5)
    graph = compile_source(LOOP_PROGRAM).graph
    items = load_inputs(images, labels).items
    pools = Pools(fakes(costs=(1.0, 2.0, 4.0)))
    record(graph, items, pools, str(tmp_path / "rec.sqlite"))
    cache = SQLiteCache(tmp_path / "rec.sqlite", readonly=True)
    sites = [n.meta["site"] for n in graph.neural_sites()]
    for arms in itertools.product(range(3), repeat=len(sites)):
        assignment = dict(zip(sites, arms))
        name = f"static:{arms[0]}" if len(set(arms)) == 1 else None
        if name is None:
            continue
        rows = run(tmp_path, fakes(cls=Refusing, costs=(1.0, 2.0, 4.0)), images=(images, labels),
                   program=LOOP_PROGRAM, db=f"{name}.sqlite", cache=str(tmp_path / "rec.sqlite"),
                   replay=True, policy=name).rows
        for item, row in zip(items, rows):
            tree = cache.get_tree(tree_key(graph, pools, read_image(item.path), item))
            leaf = outcome(tree, assignment)
            assert leaf.get("answer") == row["answer"] and leaf["cost"] == row["cost"]
