"""Frozen, validated settings for every routing policy.

Each policy takes one immutable settings object; bad values fail at construction with a
ValueError that names the class, the field, the rule and the offending value, e.g.
``StructuredSettings.nu must be >= 0, got -0.5``. The random seed is not a setting: it is
injected once, through `make_policy(..., seed=...)`, so one number seeds everything.

Units: `cost_weight` multiplies backend costs (by default, parameters in millions, as in
the paper: 3750 for a 3.75B model) and the result is subtracted from task rewards
(binary: +1000/-100/+1/-100, open-form: +100/-100); the paper sweeps 0.001-0.005.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .features import FEATURE_DIM

OBJECTIVES = ("regression", "reinforce")
STATIC_BACKENDS = ("cheapest", "largest")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_number(owner: str, name: str, v: object, low: float, strict: bool) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{owner}.{name} must be a finite number, got {v!r}")
    if v < low or (strict and v == low):
        raise ValueError(f"{owner}.{name} must be {'>' if strict else '>='} {low:g}, got {v!r}")


def _check_int(owner: str, name: str, v: object, low: int) -> None:
    if not _is_int(v):
        raise ValueError(f"{owner}.{name} must be an int, got {v!r}")
    if v < low:
        raise ValueError(f"{owner}.{name} must be >= {low}, got {v!r}")


def _check_choice(owner: str, name: str, v: object, choices: tuple[str, ...]) -> None:
    if v not in choices:
        raise ValueError(f"{owner}.{name} must be one of {', '.join(choices)}; got {v!r}")


def validate_seed(seed: object) -> int:
    """The seed policies are built with: a non-negative int."""
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


@dataclass(frozen=True)
class StaticSettings:
    """A fixed backend at every site: "cheapest", "largest", or a pool index."""

    backend: str | int = "cheapest"

    def __post_init__(self) -> None:
        if _is_int(self.backend):
            _check_int(type(self).__name__, "backend", self.backend, 0)
        elif self.backend not in STATIC_BACKENDS:
            raise ValueError(
                f"StaticSettings.backend must be 'cheapest', 'largest' or a pool index "
                f"(int >= 0), got {self.backend!r}"
            )


@dataclass(frozen=True)
class NeuralTSSettings:
    """Shared by the learned numpy policies (structured, joint, query-level).

    Each model is a one-hidden-layer MLP over the shared context features with one output
    per arm, trained on `task reward / reward_scale` (regression, or the paper's REINFORCE
    loss), and chooses by Thompson sampling with the paper's diagonal gradient
    uncertainty: sample f_a(x) + N(0, (nu * sigma_a)^2) with
    sigma_a^2 = reg_lambda * sum(g_a^2 / U), U = reg_lambda + sum of squared gradients of
    the arms chosen so far, then subtract cost_weight * cost_a / reward_scale.
    """

    # lambda in reward = task - lambda * cost; 0.003 is the middle of the paper's sweep
    cost_weight: float = 0.003
    reg_lambda: float = 1e-3  # lambda of Z = lambda*I + sum g g^T (the paper's `lambd`)
    nu: float = 1.0  # exploration scale, in units of reward_scale
    hidden_size: int = 64
    lr: float = 0.01  # AdamW learning rate
    weight_decay: float = 1e-4
    retrain_every: int = 16  # fired inputs of a model between two retrainings
    epochs: int = 2  # passes over the replay window per retraining
    batch_size: int = 16
    window: int = 256  # most recent fired inputs kept per model for retraining
    reward_scale: float = 100.0  # task rewards are divided by this before training
    objective: str = "regression"  # or "reinforce": the paper's policy-gradient loss
    input_dim: int = FEATURE_DIM

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_number(owner, "cost_weight", self.cost_weight, 0.0, strict=False)
        _check_number(owner, "reg_lambda", self.reg_lambda, 0.0, strict=True)
        _check_number(owner, "nu", self.nu, 0.0, strict=False)
        _check_int(owner, "hidden_size", self.hidden_size, 1)
        _check_number(owner, "lr", self.lr, 0.0, strict=True)
        _check_number(owner, "weight_decay", self.weight_decay, 0.0, strict=False)
        _check_int(owner, "retrain_every", self.retrain_every, 1)
        _check_int(owner, "epochs", self.epochs, 1)
        _check_int(owner, "batch_size", self.batch_size, 1)
        _check_int(owner, "window", self.window, 1)
        if self.window < self.batch_size:
            raise ValueError(
                f"{owner}.window must be >= batch_size ({self.batch_size}), got {self.window}"
            )
        _check_number(owner, "reward_scale", self.reward_scale, 0.0, strict=True)
        _check_choice(owner, "objective", self.objective, OBJECTIVES)
        _check_int(owner, "input_dim", self.input_dim, 1)


@dataclass(frozen=True)
class StructuredSettings(NeuralTSSettings):
    """`structured-neural`: one NeuralTS model per call site over shared features (the
    first version of the per-site policy, kept to compare against)."""


@dataclass(frozen=True)
class BayesSettings:
    """`structured`: per-site Bayesian linear Thompson sampling (see policies/bayes.py).

    Targets are task rewards / reward_scale. `dim` context directions (principal
    components of the shared features, frozen after `fit_after` inputs; 0: context-free),
    clipped to +-`clip`; `prior_precision` shrinks their weights toward 0 (the per-arm
    mean), `mean_precision` is the weak prior on that mean; the noise variance has an
    inverse-gamma prior of shape `noise_shape` and scale `noise_scale`; every arm of a site
    is tried `warmup` times first; `explore` scales the posterior sd of the draws.
    """

    cost_weight: float = 0.003
    dim: int = 8
    prior_precision: float = 20.0
    mean_precision: float = 0.01
    noise_shape: float = 1.0
    noise_scale: float = 0.5
    warmup: int = 3
    explore: float = 1.0
    fit_after: int = 64
    clip: float = 5.0
    reward_scale: float = 100.0
    input_dim: int = FEATURE_DIM

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_number(owner, "cost_weight", self.cost_weight, 0.0, strict=False)
        _check_int(owner, "dim", self.dim, 0)
        _check_number(owner, "prior_precision", self.prior_precision, 0.0, strict=True)
        _check_number(owner, "mean_precision", self.mean_precision, 0.0, strict=True)
        _check_number(owner, "noise_shape", self.noise_shape, 0.0, strict=True)
        _check_number(owner, "noise_scale", self.noise_scale, 0.0, strict=True)
        _check_int(owner, "warmup", self.warmup, 0)
        _check_number(owner, "explore", self.explore, 0.0, strict=False)
        _check_int(owner, "fit_after", self.fit_after, 2)
        _check_number(owner, "clip", self.clip, 0.0, strict=True)
        _check_number(owner, "reward_scale", self.reward_scale, 0.0, strict=True)
        _check_int(owner, "input_dim", self.input_dim, 1)
        if self.dim > self.input_dim:
            raise ValueError(f"{owner}.dim must be <= input_dim ({self.input_dim}), got {self.dim}")


@dataclass(frozen=True)
class JointSettings(NeuralTSSettings):
    """The "full policy" ablation: one model whose arms are all joint assignments."""

    max_joint_arms: int = 65536  # 16 binary sites; the output layer grows with it

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int(type(self).__name__, "max_joint_arms", self.max_joint_arms, 1)


@dataclass(frozen=True)
class QueryLevelSettings(NeuralTSSettings):
    """The LLM-routing baseline: one model choosing one pool tier for the whole program."""


@dataclass(frozen=True)
class OracleSettings:
    """The evaluation oracle tries every joint assignment, up to `max_assignments`."""

    max_assignments: int = 4096

    def __post_init__(self) -> None:
        _check_int(type(self).__name__, "max_assignments", self.max_assignments, 1)


@dataclass(frozen=True)
class PaperSettings:
    """The paper's configuration: a ResNet-18 per site on the raw image.

    Defaults are the paper's: lambda 1e-4, nu 0.1, AdamW lr 1e-3 (torch's default weight
    decay 0.01), every site retrained every 64 inputs for 5 epochs of batch 16 on the
    inputs where it fired since the last retraining, images resized to 256x256, REINFORCE
    on raw rewards (reward_scale 1). `width` is the stem width (64 in ResNet-18); smaller
    is for tests. The paper sweeps cost_weight over 0.001-0.005.
    """

    cost_weight: float = 0.003
    reg_lambda: float = 1e-4
    nu: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.01
    retrain_every: int = 64
    epochs: int = 5
    batch_size: int = 16
    reward_scale: float = 1.0
    image_size: int = 256
    width: int = 64
    device: str = "cpu"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_number(owner, "cost_weight", self.cost_weight, 0.0, strict=False)
        _check_number(owner, "reg_lambda", self.reg_lambda, 0.0, strict=True)
        _check_number(owner, "nu", self.nu, 0.0, strict=False)
        _check_number(owner, "lr", self.lr, 0.0, strict=True)
        _check_number(owner, "weight_decay", self.weight_decay, 0.0, strict=False)
        _check_int(owner, "retrain_every", self.retrain_every, 1)
        _check_int(owner, "epochs", self.epochs, 1)
        _check_int(owner, "batch_size", self.batch_size, 1)
        _check_number(owner, "reward_scale", self.reward_scale, 0.0, strict=True)
        # the ResNet's total stride is 32; batch norm in training mode (the paper chooses
        # with batch size 1 in that mode) needs >= 2 values per channel: 64 gives 2x2
        _check_int(owner, "image_size", self.image_size, 64)
        _check_int(owner, "width", self.width, 1)
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"{owner}.device must be a non-empty string, got {self.device!r}")
