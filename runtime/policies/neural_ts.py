"""One neural Thompson-sampling model in numpy: the learner behind the learned policies.

An MLP f(x) = W2 relu(W1 x + b1) + b2 with one output per arm. Because the network is
this small, the gradient of an output with respect to every parameter has a closed form,
so the paper's uncertainty (a per-arm backward pass over a ResNet there) costs two small
matrix-vector products here and needs no torch. That is what keeps a decision far below
1 ms per site on a CPU.

Uncertainty, as in the paper's `Reinforce.select` (a diagonal NeuralTS):
    sigma_a^2 = lambda * sum_p g_a[p]^2 / U[p],   U = lambda + sum of g^2 of chosen arms,
    sample_a  = f_a(x) + nu * sigma_a * N(0, 1) - penalty_a.
For W1 the per-parameter gradient is the outer product (W2[a] * relu'(z)) x^T, so
sum(g^2 / U1) = ((W2[a] * relu')^2) . ((1/U1) (x*x)): one (H, d) mat-vec shared by arms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .settings import NeuralTSSettings

_PARAMS = ("w1", "b1", "w2", "b2")
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8
_F = np.float32


class NeuralTS:
    """A contextual bandit model over `arms` arms; see the module docstring.

    `sample` chooses; `observe` records one outcome of the chosen arm (and retrains every
    `retrain_every` observations); `state_dict`/`load_state_dict` copy everything.
    """

    def __init__(self, arms: int, settings: NeuralTSSettings, rng: np.random.Generator):
        d, h = settings.input_dim, settings.hidden_size
        self.arms = arms
        self.s = settings
        self.p = {
            "w1": (rng.standard_normal((h, d)) * np.sqrt(2.0 / d)).astype(_F),  # He init
            "b1": np.zeros(h, _F),
            # small output layer: the prior mean starts near 0 for every arm, so early
            # choices are driven by the exploration noise and by costs, not by init luck
            "w2": (rng.standard_normal((arms, h)) * (0.1 / np.sqrt(h))).astype(_F),
            "b2": np.zeros(arms, _F),
        }
        lam = _F(settings.reg_lambda)
        self.u = {k: np.full(v.shape, lam, _F) for k, v in self.p.items()}
        self.inv_u = {k: 1.0 / v for k, v in self.u.items()}
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.steps = 0
        self.xs = np.zeros((settings.window, d), _F)
        self.arms_seen = np.zeros(settings.window, np.int64)
        self.ys = np.zeros(settings.window, _F)
        self.seen = 0  # observations ever recorded
        self.since_train = 0

    # -- choosing ---------------------------------------------------------------------
    def _hidden(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = self.p["w1"] @ x + self.p["b1"]
        mask = (z > 0).astype(_F)
        return z * mask, mask

    def mean(self, x: np.ndarray) -> np.ndarray:
        """f(x): the predicted (scaled) task reward or logit of every arm."""
        h, _ = self._hidden(x)
        return self.p["w2"] @ h + self.p["b2"]

    def sigma(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(x), sigma(x)) for every arm, sigma from the diagonal gradient statistics."""
        h, mask = self._hidden(x)
        f = self.p["w2"] @ h + self.p["b2"]
        back = self.p["w2"] * mask  # d f_a / d z, one row per arm
        per_hidden = self.inv_u["w1"] @ (x * x) + self.inv_u["b1"]
        s2 = (back * back) @ per_hidden + self.inv_u["w2"] @ (h * h) + self.inv_u["b2"]
        # the paper clamps sigma^2 at 1e-6 before the square root
        return f, np.sqrt(np.maximum(self.s.reg_lambda * s2, 1e-6))

    def sample(self, x: np.ndarray, penalty: np.ndarray, rng: np.random.Generator) -> int:
        """Thompson sample every arm, subtract `penalty` (scaled cost), return the argmax."""
        f, sig = self.sigma(x)
        draws = f + self.s.nu * sig * rng.standard_normal(self.arms) - penalty
        return int(np.argmax(draws))

    # -- learning ---------------------------------------------------------------------
    def observe(self, x: np.ndarray, arm: int, target: float, rng: np.random.Generator) -> None:
        """Record that `arm` on `x` earned `target`; grow U by the arm's squared gradient."""
        h, mask = self._hidden(x)
        back = self.p["w2"][arm] * mask
        back2 = back * back
        # squared per-parameter gradient of f_arm, added to the diagonal of Z
        self.u["w1"] += np.outer(back2, x * x)
        self.u["b1"] += back2
        self.u["w2"][arm] += h * h
        self.u["b2"][arm] += 1.0
        for k in _PARAMS:
            np.divide(1.0, self.u[k], out=self.inv_u[k])

        slot = self.seen % self.s.window
        self.xs[slot], self.arms_seen[slot], self.ys[slot] = x, arm, target
        self.seen += 1
        self.since_train += 1
        if self.since_train >= self.s.retrain_every:
            self.train(rng)

    def train(self, rng: np.random.Generator) -> None:
        """`epochs` shuffled passes of minibatch AdamW over the replay window."""
        self.since_train = 0
        n = min(self.seen, self.s.window)
        bs = self.s.batch_size
        for _ in range(self.s.epochs):
            order = rng.permutation(n)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                self._step(self.xs[idx], self.arms_seen[idx], self.ys[idx])

    def _step(self, x: np.ndarray, arm: np.ndarray, y: np.ndarray) -> None:
        p = self.p
        z = x @ p["w1"].T + p["b1"]
        mask = (z > 0).astype(_F)
        h = z * mask
        out = h @ p["w2"].T + p["b2"]
        rows = np.arange(len(arm))
        d_out = np.zeros_like(out)
        if self.s.objective == "regression":
            # 0.5 * mean squared error on the chosen arm only
            d_out[rows, arm] = (out[rows, arm] - y) / len(arm)
        else:
            # the paper's REINFORCE loss: -mean(r * log softmax(f)[arm])
            e = np.exp(out - out.max(axis=1, keepdims=True))
            prob = e / e.sum(axis=1, keepdims=True)
            d_out = prob * y[:, None]
            d_out[rows, arm] -= y
            d_out /= len(arm)
        d_h = (d_out @ p["w2"]) * mask
        grads = {"w2": d_out.T @ h, "b2": d_out.sum(0), "w1": d_h.T @ x, "b1": d_h.sum(0)}
        self._adamw(grads)

    def _adamw(self, grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        lr, wd = self.s.lr, self.s.weight_decay
        c1 = 1.0 - _BETA1**self.steps
        c2 = 1.0 - _BETA2**self.steps
        for k in _PARAMS:
            g = grads[k].astype(_F, copy=False)
            self.m[k] *= _BETA1
            self.m[k] += (1.0 - _BETA1) * g
            self.v[k] *= _BETA2
            self.v[k] += (1.0 - _BETA2) * (g * g)
            self.p[k] *= _F(1.0 - lr * wd)  # decoupled weight decay
            self.p[k] -= _F(lr / c1) * self.m[k] / (np.sqrt(self.v[k] / c2) + _EPS)

    # -- persistence ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Deep copies of every array and counter."""
        out: dict[str, Any] = {"steps": self.steps, "seen": self.seen, "since": self.since_train}
        for group in ("p", "u", "m", "v"):
            out[group] = {k: a.copy() for k, a in getattr(self, group).items()}
        out["buffer"] = (self.xs.copy(), self.arms_seen.copy(), self.ys.copy())
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for group in ("p", "u", "m", "v"):
            mine = getattr(self, group)
            for k in _PARAMS:
                if state[group][k].shape != mine[k].shape:
                    raise ValueError(
                        f"state has {group}.{k} of shape {state[group][k].shape}, "
                        f"this model has {mine[k].shape}"
                    )
                mine[k] = state[group][k].astype(_F, copy=True)
        self.inv_u = {k: 1.0 / v for k, v in self.u.items()}
        xs, arms, ys = state["buffer"]
        self.xs, self.arms_seen, self.ys = xs.copy(), arms.copy(), ys.copy()
        self.steps, self.seen, self.since_train = state["steps"], state["seen"], state["since"]
