"""Routing policies: learning a known routing, fired-only updates, save/restore, baselines.

Every test is seeded. The learning tests use a simulated two-type image stream where the
right routing is known; the program's call sites are driven by hand, as the runtime would.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fmprog.runtime import statecodec
from fmprog.runtime.policies import POLICY_NAMES, Site, make_policy, rewards
from fmprog.runtime.policies.base import Feedback
from fmprog.runtime.policies.features import FEATURE_DIM, image_features
from fmprog.runtime.policies.query_level import tier_table
from fmprog.runtime.policies.settings import (
    BayesSettings,
    JointSettings,
    PaperSettings,
    QueryLevelSettings,
    StructuredSettings,
)

COSTS = (3750.0, 73400.0)  # the paper's VQA pool: Qwen2.5-VL 3B and 72B, params in millions
LAMBDA = 1e-3  # cost weight: the large backend costs 73.4 reward units, the small 3.75
# Inputs after which the structured policy must route right (checked on the next 200).
CONVERGE_WITHIN = 300


def feedback(task: float, ep, lam: float = 0.0) -> Feedback:
    """What the runtime would hand `update`: one call per fired site."""
    cost = sum(SITES_BY_ID[s].costs[ep.arm(s)] for s in ep.fired)
    return Feedback(task, cost, rewards.reward(task, cost, lam), task > 0)


def make_stream(seed: int, n_images: int = 64) -> tuple[list[np.ndarray], np.ndarray]:
    """Images of two visual types: 0 = smooth cool gradients, 1 = warm noisy texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    images, types = [], []
    for i in range(n_images):
        hard = i % 2
        if hard:
            img = np.array([200, 90, 60]) * rng.uniform(0.7, 1.0) + rng.uniform(-60, 60, (128, 128, 1))
        else:
            ramp = xx if rng.random() < 0.5 else yy
            img = np.array([60, 110, 200]) * rng.uniform(0.7, 1.0) * (0.7 + 0.3 * ramp)[..., None]
        images.append(np.clip(img, 0, 255).astype(np.uint8))
        types.append(hard)
    return images, np.array(types)


SITES = [Site("A", "detection", COSTS), Site("B", "vqa", COSTS), Site("C", "vqa", COSTS)]
SITES_BY_ID = {s.id: s for s in SITES}


def simulate(policy, n: int, kind: str = "open", seed: int = 0):
    """Run the two-site program on `n` inputs; C never fires (a branch never taken).

    A is answered right by any backend; B by the cheap one only on type-0 images and by
    the large one on all. The program is right iff B is. Returns per-input
    (type, A's choice, B's choice) and rewards.
    """
    rng = np.random.default_rng(seed + 100)
    images, types = make_stream(seed + 100)
    log, rewards_seen = [], []
    for _ in range(n):
        i = rng.integers(len(images))
        hard = types[i]
        ep = policy.begin(images[i])
        a, b = policy.choose(ep, "A"), policy.choose(ep, "B")
        right = (not hard) or b == 1
        if kind == "open":
            task = rewards.open_form_reward(right)
        else:
            label = bool(rng.random() < 0.3)
            task = rewards.binary_reward(label if right else not label, label)
        fb = feedback(task, ep, LAMBDA)
        r = fb.reward
        policy.update(ep, fb)
        log.append((hard, a, b))
        rewards_seen.append(r)
    return np.array(log), np.array(rewards_seen)


# -- the structured policy learns the known routing -------------------------------------


PER_SITE = [("structured", BayesSettings(cost_weight=LAMBDA)),
            ("structured-neural", StructuredSettings(cost_weight=LAMBDA))]


@pytest.mark.parametrize("name,settings", PER_SITE)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_structured_reaches_right_routing_open_form(name, settings, seed):
    policy = make_policy(name, SITES, settings, seed=seed)
    log, _ = simulate(policy, CONVERGE_WITHIN + 200, "open", seed)
    late = log[CONVERGE_WITHIN:]
    hard = late[:, 0] == 1
    assert (late[:, 1] == 0).mean() >= 0.9  # A: cheap everywhere
    assert (late[hard, 2] == 1).mean() >= 0.9  # B: large where the cheap one fails
    assert (late[~hard, 2] == 0).mean() >= 0.8  # B: cheap where it suffices


@pytest.mark.parametrize("learner,learner_settings", PER_SITE)
def test_structured_binary_reward_beats_static_baselines(learner, learner_settings):
    """With the binary task reward (+1000 TP), B must go large on hard inputs."""
    runs = {}
    for name, settings in [
        (learner, learner_settings),
        ("static-cheapest", None),
        ("static-largest", None),
    ]:
        runs[name] = simulate(make_policy(name, SITES, settings, seed=0), CONVERGE_WITHIN + 200, "binary", 0)
    log, r = runs[learner]
    late = log[CONVERGE_WITHIN:]
    assert (late[late[:, 0] == 1, 2] == 1).mean() >= 0.9
    late_reward = r[CONVERGE_WITHIN:].mean()
    for baseline in ("static-cheapest", "static-largest"):
        assert late_reward > runs[baseline][1][CONVERGE_WITHIN:].mean()


def test_joint_policy_also_learns_the_routing():
    policy = make_policy("joint", SITES, JointSettings(cost_weight=LAMBDA), seed=0)
    log, _ = simulate(policy, CONVERGE_WITHIN + 200, "open", 0)
    late = log[CONVERGE_WITHIN:]
    assert (late[late[:, 0] == 1, 2] == 1).mean() >= 0.9


# -- updates touch only the sites that fired --------------------------------------------


def test_structured_updates_only_fired_sites():
    policy = make_policy("structured", SITES, BayesSettings(cost_weight=LAMBDA), seed=3)
    simulate(policy, 40, "open", 3)
    assert policy.models["C"].n.sum() == 0 and policy.models["C"].firings == 0
    for site in ("A", "B"):
        assert policy.models[site].n.sum() == 40


def test_structured_neural_updates_only_fired_sites():
    settings = StructuredSettings(cost_weight=LAMBDA, retrain_every=4)
    policy = make_policy("structured-neural", SITES, settings, seed=3)
    fresh = make_policy("structured-neural", SITES, settings, seed=3)
    simulate(policy, 40, "open", 3)
    changed, untouched = policy.models, fresh.models
    np.testing.assert_array_equal(changed["C"].flat["p"], untouched["C"].flat["p"])
    np.testing.assert_array_equal(changed["C"].flat["u"], untouched["C"].flat["u"])
    assert changed["C"].seen == 0
    for site in ("A", "B"):
        assert changed[site].seen == 40
        assert not np.array_equal(changed[site].flat["p"], untouched[site].flat["p"])


def test_structured_counts_a_branch_site_only_when_it_fires():
    policy = make_policy("structured-neural", SITES, StructuredSettings(retrain_every=8), seed=0)
    rng = np.random.default_rng(0)
    fired_b = 0
    for t in range(30):
        ep = policy.begin(rng.standard_normal(FEATURE_DIM).astype(np.float32))
        policy.choose(ep, "A")
        if t % 3 == 0:
            policy.choose(ep, "B")
            policy.choose(ep, "B")  # a loop: the same site twice, one decision
            fired_b += 1
        policy.update(ep, feedback(100.0, ep))
    assert policy.models["A"].seen == 30
    assert policy.models["B"].seen == fired_b
    assert policy.models["C"].seen == 0


def test_choice_is_stable_within_an_episode():
    policy = make_policy("random", SITES, seed=0)
    ep = policy.begin(np.zeros(FEATURE_DIM, np.float32))
    first = [policy.choose(ep, "A") for _ in range(20)]
    assert len(set(first)) == 1 and ep.fired == {"A"}


# -- save / restore ---------------------------------------------------------------------


@pytest.fixture
def one_torch_thread():
    """The paper policy's tiny test nets gain nothing from threads, and on a busy 2-core
    machine torch's spinning worker threads slow them down tenfold."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


_SMALL_PAPER = PaperSettings(image_size=64, width=4, retrain_every=3, batch_size=2, epochs=1)


def _settings_for(name):
    return {
        "structured": BayesSettings(fit_after=8),
        "structured-neural": StructuredSettings(retrain_every=3, batch_size=2, window=8),
        "joint": JointSettings(retrain_every=3, batch_size=2, window=8),
        "query-level": QueryLevelSettings(retrain_every=3, batch_size=2, window=8),
        "paper": _SMALL_PAPER,
    }.get(name)


def _drive(policy, images, start: int, n: int) -> list[tuple[int, ...]]:
    """Feed inputs start..start+n; B fires on odd inputs; deterministic rewards."""
    choices = []
    for t in range(start, start + n):
        img = images[t % len(images)]
        kw = {}
        if getattr(policy, "needs_evaluator", False):
            kw["evaluate"] = lambda a, t=t: ((a["A"] + a["B"] + t) % 2 == 0, a["A"] + 2.0 * a["B"])
        ep = policy.begin(img, **kw)
        row = [policy.choose(ep, "A")]
        if t % 2:
            row.append(policy.choose(ep, "B"))
        policy.update(ep, feedback(100.0 if (sum(row) + t) % 3 else -100.0, ep))
        choices.append(tuple(row))
    return choices


@pytest.mark.parametrize("name", [*POLICY_NAMES, "static:1"])
def test_restored_policy_makes_the_same_next_decisions(name, one_torch_thread):
    images, _ = make_stream(7, n_images=8)
    steps = 4 if name == "paper" else 30
    original = make_policy(name, SITES, _settings_for(name), seed=5)
    _drive(original, images, 0, steps)
    state = statecodec.decode(statecodec.encode(original.state_dict()))  # data, and a copy
    expected = _drive(original, images, steps, steps)  # the original keeps learning
    restored = make_policy(name, SITES, _settings_for(name), seed=99)  # another seed
    restored.load_state_dict(state)
    assert _drive(restored, images, steps, steps) == expected


def test_load_state_dict_rejects_other_sites():
    policy = make_policy("structured", SITES, seed=0)
    other = make_policy("structured", SITES[:2], seed=0)
    with pytest.raises(ValueError, match="state is for sites"):
        other.load_state_dict(policy.state_dict())


# -- the paper's configuration ----------------------------------------------------------


def test_paper_policy_updates_only_fired_sites_and_caches_task_reward(one_torch_thread):
    policy = make_policy("paper", SITES, _SMALL_PAPER, seed=0)
    before = {k: [p.detach().clone() for p in net.parameters()] for k, net in policy.nets.items()}
    images, _ = make_stream(1, n_images=4)
    for t in range(_SMALL_PAPER.retrain_every):
        ep = policy.begin(images[t])
        policy.choose(ep, "A")
        policy.update(ep, feedback(100.0, ep, _SMALL_PAPER.cost_weight))
        if t < _SMALL_PAPER.retrain_every - 1:
            assert policy.cache["A"][-1][2] == pytest.approx(100.0)  # the task reward
    assert policy.cache == {"A": [], "B": [], "C": []}  # trained and emptied
    for site, params in before.items():
        same = all(bool((p == q).all()) for p, q in zip(params, policy.nets[site].parameters()))
        assert same == (site != "A")
    assert bool((policy.u["B"] == _SMALL_PAPER.reg_lambda).all())
    assert not bool((policy.u["A"] == _SMALL_PAPER.reg_lambda).all())


def test_torch_is_imported_only_for_the_paper_policy():
    code = (
        "import sys\n"
        "from fmprog.runtime.policies import make_policy, Site\n"
        "p = make_policy('structured', [Site('a', 'vqa', (1.0, 2.0))])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- baselines --------------------------------------------------------------------------

POOLS = [Site("d", "detection", (1.0, 10.0)), Site("q", "vqa", (2.0, 5.0, 40.0)), Site("l", "llm", (7.0,))]


def _choices(policy, features=None, **kw):
    ep = policy.begin(np.zeros(FEATURE_DIM, np.float32) if features is None else features, **kw)
    return {s: policy.choose(ep, s) for s in ("d", "q", "l")}


def test_static_policies():
    assert _choices(make_policy("static-cheapest", POOLS)) == {"d": 0, "q": 0, "l": 0}
    assert _choices(make_policy("static-largest", POOLS)) == {"d": 1, "q": 2, "l": 0}
    assert _choices(make_policy("static:0", POOLS)) == {"d": 0, "q": 0, "l": 0}
    policy = make_policy("static:1", POOLS[:2])
    ep = policy.begin(np.zeros(FEATURE_DIM, np.float32))
    assert (policy.choose(ep, "d"), policy.choose(ep, "q")) == (1, 1)


def test_random_policy_is_seeded_and_covers_the_pool():
    runs = []
    for _ in range(2):
        policy = make_policy("random", POOLS, seed=4)
        runs.append([_choices(policy)["q"] for _ in range(60)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {0, 1, 2}


def test_query_level_gives_every_site_the_same_tier():
    np.testing.assert_array_equal(tier_table(POOLS), [[0, 0, 0], [1, 1, 0], [1, 2, 0]])
    policy = make_policy("query-level", POOLS, seed=0)
    for _ in range(20):
        c = _choices(policy)
        assert (c["d"], c["q"]) in {(0, 0), (1, 1), (1, 2)} and c["l"] == 0


def test_joint_policy_covers_every_assignment():
    policy = make_policy("joint", POOLS, seed=0)
    assert policy.table.shape == (2 * 3 * 1, 3)
    assert {tuple(r) for r in policy.table} == {(d, q, 0) for d in range(2) for q in range(3)}


def test_oracle_picks_the_cheapest_correct_assignment():
    policy = make_policy("oracle", POOLS)
    calls = []

    def evaluate(a):  # right iff q uses index >= 1; d's backend does not matter
        calls.append(dict(a))
        return a["q"] >= 1, sum(site.costs[a[site.id]] for site in POOLS)

    assert _choices(policy, evaluate=evaluate) == {"d": 0, "q": 1, "l": 0}
    assert len(calls) == 6  # every joint assignment, once
    assert _choices(policy, evaluate=lambda a: (False, 0.0)) == {"d": 1, "q": 2, "l": 0}


def test_oracle_without_evaluator_says_what_it_needs():
    policy = make_policy("oracle", POOLS)
    with pytest.raises(ValueError, match=r"call begin\(features, evaluate=fn\)"):
        _choices(policy)


def test_every_registered_name_builds(one_torch_thread):
    for name in POLICY_NAMES:
        settings = _SMALL_PAPER if name == "paper" else None
        assert make_policy(name, POOLS, settings).name == name


# -- features and rewards ---------------------------------------------------------------


def test_features_are_deterministic_and_separate_the_two_types():
    images, types = make_stream(11, n_images=40)
    feats = np.stack([image_features(im) for im in images])
    assert feats.shape == (40, FEATURE_DIM) and feats.dtype == np.float32
    np.testing.assert_array_equal(feats[0], image_features(images[0].copy()))
    a, b = feats[types == 0], feats[types == 1]
    between = np.linalg.norm(a.mean(0) - b.mean(0))
    within = max(np.linalg.norm(a - a.mean(0), axis=1).max(), np.linalg.norm(b - b.mean(0), axis=1).max())
    assert between > 2 * within
    for shape in [(37, 100, 3), (300, 200), (5, 5, 4)]:  # any size, gray, RGBA
        assert image_features(np.zeros(shape, np.uint8)).shape == (FEATURE_DIM,)


def test_rewards_follow_the_paper():
    assert [rewards.binary_reward(p, lab) for p, lab in [(1, 1), (0, 1), (0, 0), (1, 0)]] == [1000, -100, 1, -100]
    assert (rewards.open_form_reward(True), rewards.open_form_reward(False)) == (100, -100)
    assert rewards.reward(100.0, 3750.0, 1e-3) == pytest.approx(96.25)
