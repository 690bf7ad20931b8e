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
        shapes = {"w1": (h, d), "b1": (h,), "w2": (arms, h), "b2": (arms,)}
        # every per-parameter quantity lives in one flat vector with named views, so that
        # AdamW and the U update are a handful of whole-vector ops, not four of each
        self._shapes = shapes
        size = sum(int(np.prod(sh)) for sh in shapes.values())
        self.flat = {g: np.zeros(size, _F) for g in ("p", "u", "inv_u", "m", "v", "grad")}
        self.p, self.u, self.inv_u, self.m, self.v, self.grad = (
            self._views(self.flat[g]) for g in ("p", "u", "inv_u", "m", "v", "grad")
        )
        self.p["w1"][...] = rng.standard_normal((h, d)) * np.sqrt(2.0 / d)  # He init
        # small output layer: the prior mean starts near 0 for every arm, so early
        # choices are driven by the exploration noise and by costs, not by init luck
        self.p["w2"][...] = rng.standard_normal((arms, h)) * (0.1 / np.sqrt(h))
        self.flat["u"][...] = settings.reg_lambda
        np.divide(1.0, self.flat["u"], out=self.flat["inv_u"])
        self.steps = 0
        self.xs = np.zeros((settings.window, d), _F)
        self.arms_seen = np.zeros(settings.window, np.int64)
        self.ys = np.zeros(settings.window, _F)
        self.seen = 0  # observations ever recorded
        self.since_train = 0
        self._w2_sq: np.ndarray | None = None  # W2**2, cached between trainings

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for k in _PARAMS:
            n = int(np.prod(self._shapes[k]))
            out[k] = flat[start : start + n].reshape(self._shapes[k])
            start += n
        return out

    # -- choosing ---------------------------------------------------------------------
    def _hidden(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = self.p["w1"] @ x + self.p["b1"]
        mask = (z > 0).astype(_F)
        return z * mask, mask

    def sigma(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(x), sigma(x)) for every arm, sigma from the diagonal gradient statistics."""
        h, mask = self._hidden(x)
        f = self.p["w2"] @ h + self.p["b2"]
        if self._w2_sq is None:
            self._w2_sq = self.p["w2"] * self.p["w2"]
        # d f_a / d z = W2[a] * mask, and mask**2 = mask: fold the mask into the vector
        per_hidden = (self.inv_u["w1"] @ (x * x) + self.inv_u["b1"]) * mask
        s2 = self._w2_sq @ per_hidden + self.inv_u["w2"] @ (h * h) + self.inv_u["b2"]
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
        # refresh 1/U where U changed only: the other arms' output rows are untouched
        for k in ("w1", "b1"):
            np.divide(1.0, self.u[k], out=self.inv_u[k])
        self.inv_u["w2"][arm] = 1.0 / self.u["w2"][arm]
        self.inv_u["b2"][arm] = 1.0 / self.u["b2"][arm]

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
        self._w2_sq = None

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
        g = self.grad
        np.matmul(d_out.T, h, out=g["w2"])
        np.sum(d_out, axis=0, out=g["b2"])
        np.matmul(d_h.T, x, out=g["w1"])
        np.sum(d_h, axis=0, out=g["b1"])
        self._adamw()

    def _adamw(self) -> None:
        """One AdamW step (torch's formula) on the flat parameter vector."""
        self.steps += 1
        lr, wd = self.s.lr, self.s.weight_decay
        c1 = 1.0 - _BETA1**self.steps
        c2 = 1.0 - _BETA2**self.steps
        theta, m, v, g = (self.flat[k] for k in ("p", "m", "v", "grad"))
        m *= _BETA1
        m += _F(1.0 - _BETA1) * g
        v *= _BETA2
        v += _F(1.0 - _BETA2) * (g * g)
        theta *= _F(1.0 - lr * wd)  # decoupled weight decay
        denom = np.sqrt(v * _F(1.0 / c2))
        denom += _F(_EPS)
        theta -= _F(lr / c1) * m / denom

    # -- persistence ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Copies of every array and counter (the inverse of U is recomputed on load)."""
        state: dict[str, Any] = {"steps": self.steps, "seen": self.seen, "since": self.since_train}
        state.update({g: self.flat[g].copy() for g in ("p", "u", "m", "v")})
        state["buffer"] = (self.xs.copy(), self.arms_seen.copy(), self.ys.copy())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for g in ("p", "u", "m", "v"):
            if state[g].shape != self.flat[g].shape:
                raise ValueError(
                    f"state has {g} of {state[g].size} values, this model has {self.flat[g].size}"
                )
            np.copyto(self.flat[g], state[g])  # in place: the named views stay valid
        np.divide(1.0, self.flat["u"], out=self.flat["inv_u"])
        self._w2_sq = None
        xs, arms, ys = state["buffer"]
        self.xs, self.arms_seen, self.ys = xs.copy(), arms.copy(), ys.copy()
        self.steps, self.seen, self.since_train = state["steps"], state["seen"], state["since"]
