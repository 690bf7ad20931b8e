"""Invalid policy settings and inputs, each with its exact error message.

One line per case: what is built, and the message it must fail with.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fmprog.runtime.policies import Site, make_policy
from fmprog.runtime.policies.features import FEATURE_DIM, as_context, image_features
from fmprog.runtime.policies.settings import (
    BayesSettings,
    JointSettings,
    OracleSettings,
    PaperSettings,
    QueryLevelSettings,
    StaticSettings,
    StructuredSettings,
    validate_seed,
)

TWO = [Site("a", "vqa", (1.0, 2.0)), Site("b", "vqa", (1.0, 2.0))]

SETTINGS_CASES = [
    (lambda: StructuredSettings(cost_weight=-1), "StructuredSettings.cost_weight must be >= 0, got -1"),
    (lambda: StructuredSettings(cost_weight=math.nan), "StructuredSettings.cost_weight must be a finite number, got nan"),
    (lambda: StructuredSettings(cost_weight=math.inf), "StructuredSettings.cost_weight must be a finite number, got inf"),
    (lambda: StructuredSettings(cost_weight="0.1"), "StructuredSettings.cost_weight must be a finite number, got '0.1'"),
    (lambda: StructuredSettings(cost_weight=True), "StructuredSettings.cost_weight must be a finite number, got True"),
    (lambda: StructuredSettings(reg_lambda=0), "StructuredSettings.reg_lambda must be > 0, got 0"),
    (lambda: StructuredSettings(reg_lambda=-1e-4), "StructuredSettings.reg_lambda must be > 0, got -0.0001"),
    (lambda: StructuredSettings(nu=-0.5), "StructuredSettings.nu must be >= 0, got -0.5"),
    (lambda: StructuredSettings(hidden_size=0), "StructuredSettings.hidden_size must be >= 1, got 0"),
    (lambda: StructuredSettings(hidden_size=2.5), "StructuredSettings.hidden_size must be an int, got 2.5"),
    (lambda: StructuredSettings(hidden_size=True), "StructuredSettings.hidden_size must be an int, got True"),
    (lambda: StructuredSettings(lr=0.0), "StructuredSettings.lr must be > 0, got 0.0"),
    (lambda: StructuredSettings(weight_decay=-0.01), "StructuredSettings.weight_decay must be >= 0, got -0.01"),
    (lambda: StructuredSettings(retrain_every=0), "StructuredSettings.retrain_every must be >= 1, got 0"),
    (lambda: StructuredSettings(epochs=0), "StructuredSettings.epochs must be >= 1, got 0"),
    (lambda: StructuredSettings(batch_size=0), "StructuredSettings.batch_size must be >= 1, got 0"),
    (lambda: StructuredSettings(batch_size="16"), "StructuredSettings.batch_size must be an int, got '16'"),
    (lambda: StructuredSettings(window=0), "StructuredSettings.window must be >= 1, got 0"),
    (lambda: StructuredSettings(window=8), "StructuredSettings.window must be >= batch_size (16), got 8"),
    (lambda: StructuredSettings(reward_scale=0), "StructuredSettings.reward_scale must be > 0, got 0"),
    (lambda: StructuredSettings(objective="sgd"), "StructuredSettings.objective must be one of regression, reinforce; got 'sgd'"),
    (lambda: StructuredSettings(input_dim=0), "StructuredSettings.input_dim must be >= 1, got 0"),
    (lambda: JointSettings(nu=-1), "JointSettings.nu must be >= 0, got -1"),
    (lambda: JointSettings(max_joint_arms=0), "JointSettings.max_joint_arms must be >= 1, got 0"),
    (lambda: JointSettings(max_joint_arms=1e6), "JointSettings.max_joint_arms must be an int, got 1000000.0"),
    (lambda: QueryLevelSettings(lr=math.inf), "QueryLevelSettings.lr must be a finite number, got inf"),
    (lambda: OracleSettings(max_assignments=0), "OracleSettings.max_assignments must be >= 1, got 0"),
    (lambda: PaperSettings(cost_weight=-0.001), "PaperSettings.cost_weight must be >= 0, got -0.001"),
    (lambda: PaperSettings(reg_lambda=0), "PaperSettings.reg_lambda must be > 0, got 0"),
    (lambda: PaperSettings(nu=-0.1), "PaperSettings.nu must be >= 0, got -0.1"),
    (lambda: PaperSettings(lr=-1e-3), "PaperSettings.lr must be > 0, got -0.001"),
    (lambda: PaperSettings(retrain_every=0), "PaperSettings.retrain_every must be >= 1, got 0"),
    (lambda: PaperSettings(epochs=0), "PaperSettings.epochs must be >= 1, got 0"),
    (lambda: PaperSettings(batch_size=0), "PaperSettings.batch_size must be >= 1, got 0"),
    (lambda: PaperSettings(reward_scale=-1), "PaperSettings.reward_scale must be > 0, got -1"),
    (lambda: PaperSettings(image_size=32), "PaperSettings.image_size must be >= 64, got 32"),
    (lambda: PaperSettings(width=0), "PaperSettings.width must be >= 1, got 0"),
    (lambda: PaperSettings(device=""), "PaperSettings.device must be a non-empty string, got ''"),
    (lambda: StaticSettings(backend="smallest"), "StaticSettings.backend must be 'cheapest', 'largest' or a pool index (int >= 0), got 'smallest'"),
    (lambda: StaticSettings(backend=1.0), "StaticSettings.backend must be 'cheapest', 'largest' or a pool index (int >= 0), got 1.0"),
    (lambda: StaticSettings(backend=-1), "StaticSettings.backend must be >= 0, got -1"),
    (lambda: validate_seed(-1), "seed must be a non-negative int, got -1"),
    (lambda: validate_seed(1.5), "seed must be a non-negative int, got 1.5"),
]

MAKE_POLICY_CASES = [
    (lambda: make_policy("greedy", TWO), "unknown policy 'greedy'; known: static-cheapest, static-largest, random, structured, structured-cascade, structured-neural, joint, query-level, oracle, paper, static:<index>"),
    (lambda: make_policy("static:x", TWO), "static policy index must be a non-negative integer, got 'x' in 'static:x'"),
    (lambda: make_policy("static:-1", TWO), "static policy index must be a non-negative integer, got '-1' in 'static:-1'"),
    (lambda: make_policy("static:2", TWO), "static backend index 2 is out of range for site 'a' with 2 backend(s)"),
    (lambda: make_policy("random", TWO, StructuredSettings()), "policy 'random' takes no settings, got StructuredSettings"),
    (lambda: make_policy("static-largest", TWO, StaticSettings()), "policy 'static-largest' takes no settings, got StaticSettings"),
    (lambda: make_policy("structured", TWO, seed=-3), "seed must be a non-negative int, got -3"),
    (lambda: make_policy("structured", TWO, seed="0"), "seed must be a non-negative int, got '0'"),
    (lambda: make_policy("random", [TWO[0], TWO[0]]), "duplicate site id 'a'"),
    (lambda: make_policy("random", [Site("e", "vqa", ())]), "site 'e' has no backends"),
    (lambda: make_policy("random", [Site("n", "vqa", (1.0, -2.0))]), "site 'n' has an invalid cost -2.0: costs must be finite and >= 0"),
    (lambda: make_policy("random", [Site("n", "vqa", (math.nan,))]), "site 'n' has an invalid cost nan: costs must be finite and >= 0"),
    (lambda: make_policy("random", [("a", "vqa", (1.0,))]), "sites must be Site objects, got tuple"),
    (lambda: make_policy("joint", [Site(str(i), "vqa", (1.0, 2.0)) for i in range(17)]), "joint policy over 17 sites has 131072 assignments, more than JointSettings.max_joint_arms=65536"),
    (lambda: make_policy("oracle", [Site(str(i), "vqa", (1.0, 2.0)) for i in range(13)]), "oracle over 13 sites has 8192 assignments, more than OracleSettings.max_assignments=4096"),
]


@pytest.mark.parametrize("build, message", SETTINGS_CASES + MAKE_POLICY_CASES)
def test_invalid_value_is_rejected_with_exact_message(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert str(err.value) == message


@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("structured", JointSettings(), "policy 'structured' takes BayesSettings, got JointSettings"),
        ("structured-neural", JointSettings(), "policy 'structured-neural' takes StructuredSettings, got JointSettings"),
        ("joint", StructuredSettings(), "policy 'joint' takes JointSettings, got StructuredSettings"),
        ("query-level", {"nu": 1.0}, "policy 'query-level' takes QueryLevelSettings, got dict"),
        ("paper", StructuredSettings(), "policy 'paper' takes PaperSettings, got StructuredSettings"),
    ],
)
def test_settings_of_another_policy_are_a_type_error(name, settings, message):
    with pytest.raises(TypeError) as err:
        make_policy(name, TWO, settings)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: as_context(np.zeros(FEATURE_DIM + 1, np.float32)), f"feature vector has length {FEATURE_DIM + 1}, expected {FEATURE_DIM}"),
        (lambda: image_features(np.zeros((8, 8, 3), np.float32)), "image must be a uint8 numpy array, got float32"),
        (lambda: image_features(np.zeros((8, 8, 2), np.uint8)), "image must have shape (H, W), (H, W, 3) or (H, W, 4), got (8, 8, 2)"),
        (lambda: image_features(np.zeros((0, 8, 3), np.uint8)), "image must be non-empty, got shape (0, 8, 3)"),
        (lambda: as_context(np.zeros((8, 8, 3), np.uint8), dim=10), f"image features have length {FEATURE_DIM} but the policy expects 10: pass precomputed feature vectors of that length"),
        (lambda: make_policy("structured", TWO).begin(np.zeros(3, np.float32)), f"feature vector has length 3, expected {FEATURE_DIM}"),
        (lambda: make_policy("paper", TWO, PaperSettings(image_size=64, width=2)).begin(np.zeros(FEATURE_DIM, np.float32)), f"the paper policy takes the raw (H, W, 3) uint8 image, got float32 ({FEATURE_DIM},)"),
    ],
)
def test_invalid_policy_input_is_rejected_with_exact_message(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert str(err.value) == message


def test_settings_are_frozen():
    settings = StructuredSettings()
    with pytest.raises(AttributeError):
        settings.nu = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: BayesSettings(dim=-1), "BayesSettings.dim must be >= 0, got -1"),
        (lambda: BayesSettings(dim=200), "BayesSettings.dim must be <= input_dim (172), got 200"),
        (lambda: BayesSettings(prior_precision=0), "BayesSettings.prior_precision must be > 0, got 0"),
        (lambda: BayesSettings(warmup=1.5), "BayesSettings.warmup must be an int, got 1.5"),
        (lambda: BayesSettings(explore=-1), "BayesSettings.explore must be >= 0, got -1"),
        (lambda: BayesSettings(fit_after=1), "BayesSettings.fit_after must be >= 2, got 1"),
        (lambda: BayesSettings(noise_scale=float("nan")), "BayesSettings.noise_scale must be a finite number, got nan"),
    ],
)
def test_invalid_bayes_settings(build, message):
    with pytest.raises(ValueError) as e:
        build()
    assert str(e.value) == message
