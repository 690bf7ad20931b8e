"""Serving on Ray (`--ray`): the answers of a local run for static policies, the results of
a local run with the same window and seed for learned ones, kill -9 of the driver and
--resume, a killed worker, a killed backend actor, the call cache's single writer, and the
optional extra. One local Ray cluster (`ray.init(num_cpus=2)`) serves the whole module."""

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from fmprog.backends.base import Pools
from fmprog.backends.config import build_backends
from fmprog.compiler import compile_source
from fmprog.runtime.distributed import ClusterError, RaySettings, per_backend
from fmprog.runtime.inputs import load_inputs
from fmprog.runtime.service import serve
from fmprog.runtime.settings import RunSettings
from fmprog.runtime.store import Store
from streams import PROGRAM, answers, make_stream


def entries(delay=0.0, costs=(1, 5)):
    return [{"name": f"{k[:3]}-{i}", "kind": k, "type": "fake", "cost": c, "delay": delay}
            for k in ("detection", "vqa") for i, c in enumerate(costs)]


KEYS = ("item", "answer", "correct", "cost", "reward", "error_kind", "error")


def rows_of(result) -> list[tuple]:
    """Each row's answer fields and the backends its calls went to, in order."""
    return [answers([r], KEYS)[0] + (tuple(c["backend"] for c in (r["trace"] or {}).get("calls", [])),)
            for r in result.rows]


# -- a cluster for the module, and deployments on it -----------------------------------------
@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray
    ray.shutdown()


def deploy(ray, backends, **kw):
    from fmprog.runtime.distributed import deploy as _deploy

    return _deploy(backends, RaySettings(**kw))


@pytest.fixture(scope="module")
def fast(ray):
    """Fake backends (2 per kind) as actors, for runs that compare answers."""
    pools = deploy(ray, entries())
    yield pools
    pools.close()


SLOW = 0.06  # seconds per call: a kill 40 ms into a window share lands while its first batch runs


@pytest.fixture(scope="module")
def slow(ray):
    """Slow fake backends as actors, for the failure tests (each sets its retries)."""
    pools = deploy(ray, entries(delay=SLOW))
    yield pools
    pools.close()


@pytest.fixture
def tries(slow):
    """Set the slow deployment's retries for one test."""
    def set_(**kw):
        slow.deployment.configure(**kw)
        return slow
    yield set_
    slow.deployment.configure(window_tries=3, backend_retries=1)


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """24 inputs, one of them a corrupt image and one unlabelled."""
    root = tmp_path_factory.mktemp("stream")
    images, labels = make_stream(root, 24, corrupt=(5,), unlabeled=(9,))
    return root, load_inputs(images, labels).items, compile_source(PROGRAM).graph


def local(stream, settings, backends=None, name="local.sqlite"):
    root, items, graph = stream
    return serve(graph, items, Pools(build_backends(backends or entries())), settings, str(root / name))


def on_ray(stream, pools, settings, name, streams=None):
    root, items, graph = stream
    return serve(graph, items, pools, settings, str(root / name), streams=streams or pools.streams)


def settings(policy, **kw):
    return RunSettings(**{"policy": policy, "cost_weight": 0.1, "window": 4, "backend_timeout": 20.0, **kw})


# -- same answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["static-largest", "oracle"])
def test_static_policies_answer_as_a_local_run(ray, fast, stream, policy):
    s = settings(policy)
    assert rows_of(on_ray(stream, fast, s, f"ray-{policy}.sqlite")) == rows_of(local(stream, s, name=f"l-{policy}.sqlite"))


@pytest.mark.parametrize("policy,extra", [("structured", {"budget": 2.0, "feedback_delay": 5}), ("random", {})])
def test_a_learned_policy_gives_the_local_results_of_its_window_and_seed(ray, fast, stream, policy, extra):
    s = settings(policy, seed=3, **extra)
    expected = rows_of(local(stream, s, name=f"l-{policy}.sqlite"))
    assert rows_of(on_ray(stream, fast, s, f"ray-{policy}.sqlite")) == expected
    # another window is another (local) run: the window, not the workers, decides
    other = settings(policy, seed=3, window=8, **extra)
    assert rows_of(on_ray(stream, fast, other, f"ray8-{policy}.sqlite")) == \
        rows_of(local(stream, other, name=f"l8-{policy}.sqlite"))


def test_images_as_bytes_replicas_and_the_cache_actor_as_single_writer(ray, fast, stream, tmp_path):
    """--ray-images bytes and a backend on two replicas give the same rows; a --cache
    filled on Ray (by its cache actor) replays locally."""
    cache = str(tmp_path / "calls.sqlite")
    s = settings("structured", cache=cache)
    pools = deploy(ray, entries(), images="bytes", replicas_by_name=(("det-1", 2),))
    try:
        assert {b.name: len(b.replicas) for b in pools.all()} == {"det-0": 1, "det-1": 2, "vqa-0": 1, "vqa-1": 1}
        recorded = on_ray(stream, pools, s, "ray-cache.sqlite")
    finally:
        pools.close()
    assert rows_of(recorded) == rows_of(local(stream, settings("structured"), name="l-c.sqlite"))
    replayed = local(stream, settings("structured", cache=cache, replay=True), name="replay.sqlite")
    assert rows_of(replayed) == rows_of(recorded)
    assert all(c.get("cached") for r in replayed.rows for c in (r["trace"] or {}).get("calls", []))


# -- failures ----------------------------------------------------------------------------------
def killing(pools, when, target):
    """A stream factory that kills `target(stream)` 40 ms into the `when`-th run of a window
    share (while its calls are in flight)."""
    def streams(*args):
        stream, release = pools.streams(*args)
        real, calls = stream.workers.map, []

        def map(method, shares):
            if method == "run":
                calls.append(method)
                if len(calls) == when:
                    threading.Timer(0.04, lambda: stream.killed.append(target(stream))).start()
            return real(method, shares)

        stream.workers.map, stream.killed = map, []
        return stream, release
    return streams


def kill_worker(ray):
    def target(stream):
        ray.kill(stream.workers.handles[0], no_restart=False)
        return "worker"
    return target


def test_a_killed_worker_is_restarted_and_its_share_retried(ray, stream, tries):
    pools = tries(window_tries=3)
    s = settings("structured")
    result = on_ray(stream, pools, s, "kill-worker.sqlite", streams=killing(pools, 2, kill_worker(ray)))
    assert pools.deployment.workers.retries >= 1
    assert rows_of(result) == rows_of(local(stream, s, entries(delay=SLOW), "l-kw.sqlite"))


def test_a_share_whose_worker_dies_on_every_try_is_recorded_and_the_run_goes_on(ray, stream, tries):
    pools = tries(window_tries=1)
    s = settings("static-largest")
    result = on_ray(stream, pools, s, "lost.sqlite", streams=killing(pools, 3, kill_worker(ray)))
    lost = [r for r in result.rows if r["error_kind"] == "worker-lost"]
    assert lost and all("its Ray worker died" in r["error"] for r in lost)
    assert [r["seq"] for r in result.rows] == list(range(24))
    expected = rows_of(local(stream, s, entries(delay=SLOW), "l-lost.sqlite"))
    kept = [i for i, r in enumerate(rows_of(result)) if r[5] != "worker-lost"]
    assert [rows_of(result)[i] for i in kept] == [expected[i] for i in kept]
    assert result.rows[-1]["error_kind"] != "worker-lost"  # later windows were served


def kill_backend(ray, name):
    def target(stream):
        backend = next(b for b in stream.pools.all() if b.name == name)
        ray.kill(backend.replicas[0], no_restart=False)
        return name
    return target


@pytest.mark.parametrize("retries", [1, 0])
def test_a_killed_backend_actor_is_restarted(ray, stream, tries, retries):
    """Its batch in flight is sent again (retries=1: the answers do not change) or fails
    as a backend error (retries=0); later calls reach the restarted actor."""
    pools = tries(backend_retries=retries)
    s = settings("static-cheapest")
    result = on_ray(stream, pools, s, f"kill-backend-{retries}.sqlite",
                    streams=killing(pools, 2, kill_backend(ray, "det-0")))
    expected = rows_of(local(stream, s, entries(delay=SLOW), f"l-kb-{retries}.sqlite"))
    if retries:
        assert rows_of(result) == expected
        return
    failed = [r for r in result.rows if r["error_kind"] == "backend-error"]
    assert failed and all("its Ray actor died" in r["error"] for r in failed)
    assert rows_of(result)[-4:] == expected[-4:]


def test_kill_the_driver_and_resume(ray, tmp_path):
    """kill -9 of `fmprog run --ray ADDRESS` mid-stream, then --resume: every input once,
    the rows of an uninterrupted local run."""
    images, labels = make_stream(tmp_path, 32)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    config = tmp_path / "backends.json"
    config.write_text(json.dumps(entries(delay=0.02)))
    address = ray.get_runtime_context().gcs_address
    base = [sys.executable, "-m", "fmprog", "run", str(prog), "--images", str(images), "--labels",
            str(labels), "--policy", "structured", "--cost-weight", "0.1", "--window", "4",
            "--backends", str(config), "--format", "json", "--no-progress"]
    p = subprocess.Popen(base + ["--db", str(tmp_path / "a.sqlite"), "--ray", address],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = None
    for _ in range(3000):  # wait until some windows are in, then kill hard
        time.sleep(0.02)
        if p.poll() is not None:
            break
        if (tmp_path / "a.sqlite").exists():
            store = store or Store(tmp_path / "a.sqlite")
            if len(store.items(1)) >= 8:
                break
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = len(store.items(1))
    store.close()
    assert 0 < done < 32, p.stderr.read().decode()[-2000:]
    out = subprocess.run(base + ["--db", str(tmp_path / "a.sqlite"), "--resume", "--ray", address],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resuming run 1 at input " in out.stderr
    resumed = Store(tmp_path / "a.sqlite").items(1)
    straight = subprocess.run(base + ["--db", str(tmp_path / "b.sqlite")], capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    assert [r["seq"] for r in resumed] == list(range(32))
    assert answers(resumed) == answers(Store(tmp_path / "b.sqlite").items(1))


def test_a_gpu_entry_on_a_cluster_without_gpus_is_a_clear_error(ray):
    with pytest.raises(ClusterError, match=r"entry 0 \('det-small'\): device 'cuda' asks Ray for a "
                                           r"GPU, and the Ray cluster has none"):
        deploy(ray, [{"name": "det-small", "kind": "detection", "type": "embedded", "device": "cuda"}])


def test_a_bad_entry_is_reported_by_its_actor_with_the_file_and_entry(ray):
    from fmprog.backends.config import ConfigError

    with pytest.raises(ConfigError, match=r"<config>: entry 1 \('x'\): .*delay"):
        deploy(ray, entries()[:1] + [{"name": "x", "kind": "vqa", "type": "fake", "delay": -1}])


def test_an_entry_of_several_backends_is_an_actor_group_per_backend(ray):
    """name '*' builds every embedded model of a kind: each gets its actors, with the
    name, cost and identity of a local build."""
    entry = [{"name": "*", "kind": "detection", "type": "embedded"}]
    pools = deploy(ray, entry)
    try:
        got = [(b.name, b.cost, b.identity(), len(b.replicas)) for b in pools.all()]
    finally:
        pools.close()
    assert got == [(b.name, b.cost, b.identity(), 1) for b in Pools(build_backends(entry)).all()]
    assert len(got) >= 2  # one entry, several backends


def test_per_backend_names_must_exist(ray):
    with pytest.raises(ValueError, match=r"name no backend of this run: \['nope'\]"):
        deploy(ray, entries(), replicas_by_name=(("nope", 2),))


# -- without Ray -------------------------------------------------------------------------------
def test_without_the_extra_ray_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from fmprog.cli import main

    images, labels = make_stream(tmp_path, 2)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails
    assert main(["run", str(prog), "--images", str(images), "--ray"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "fmprog: error: --ray needs the ray extra: pip install 'fmprog[ray]'"


def test_fmprog_and_its_other_commands_never_import_ray(tmp_path):
    images, labels = make_stream(tmp_path, 3)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    config = tmp_path / "b.json"
    config.write_text(json.dumps(entries()))
    code = (f"import sys, fmprog, fmprog.cli\n"
            f"rc = fmprog.cli.main(['run', {str(prog)!r}, '--images', {str(images)!r}, '--backends', "
            f"{str(config)!r}, '--db', {str(tmp_path / 'r.sqlite')!r}, '--format', 'json'])\n"
            f"assert rc == 0, rc\n"
            f"assert fmprog.cli.main(['check', {str(prog)!r}]) == 0\n"
            f"assert 'ray' not in sys.modules, 'ray was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_ray_options_need_ray(tmp_path, capsys):
    from fmprog.cli import main

    images, _ = make_stream(tmp_path, 2)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    assert main(["run", str(prog), "--images", str(images), "--ray-workers", "4"]) == 2
    assert "fmprog: error: --ray-workers only apply with --ray" in capsys.readouterr().err


@pytest.mark.parametrize("text,expected", [
    ("2", (2, ())),
    ("1,det-large=3", (1, (("det-large", 3),))),
    ("det-large=3, vqa-small=2", (1, (("det-large", 3), ("vqa-small", 2)))),
])
def test_per_backend_counts(text, expected):
    assert per_backend(text, "--ray-replicas") == expected


@pytest.mark.parametrize("text", ["0", "x", "=2", "det=0", "det=-1"])
def test_bad_per_backend_counts(text):
    with pytest.raises(ValueError, match=r"--ray-replicas takes N or NAME=N items separated by commas"):
        per_backend(text, "--ray-replicas")


@pytest.mark.parametrize("kw,message", [
    ({"workers": 0}, "RaySettings.workers must be an int >= 1, got 0"),
    ({"gpus": 0}, "RaySettings.gpus must be a finite number > 0, got 0"),
    ({"gpus": 1.5}, "RaySettings.gpus must be a fraction of one GPU or a whole number of GPUs, got 1.5"),
    ({"images": "png"}, "RaySettings.images must be one of path, bytes, got 'png'"),
    ({"address": " "}, "RaySettings.address must be 'local' or a Ray address, got ' '"),
    ({"replicas_by_name": (("a", 0),)}, "RaySettings.replicas_by_name must be a tuple of (backend name, int >= 1) pairs"),
    ({"window_tries": 0}, "RaySettings.window_tries must be an int >= 1, got 0"),
])
def test_invalid_ray_settings(kw, message):
    with pytest.raises(ValueError) as e:
        RaySettings(**kw)
    assert str(e.value).startswith(message)
