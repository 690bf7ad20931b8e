"""The paper's configuration: structured REINFORCE with a ResNet-18 per call site.

Follows `StructuredReinforce` / `Reinforce` of the paper's code (Flitternie/FMProgramming,
routing/algorithms.py): every site owns a ResNet-18 on the raw image resized to 256x256
in [0, 1], whose outputs are REINFORCE logits. To choose, each output gets its own
backward pass; sigma_a = sqrt(max(lambda * sum(g_a^2 / U), 1e-6)), U starting at lambda,
and the choice is argmax_a f_a + N(0, (nu sigma_a)^2) - cost_weight * cost_a. After the
input, each fired site adds its chosen arm's squared gradient to U and caches
(image, arm, task reward); every `retrain_every` inputs every site trains `epochs` epochs
of AdamW on its cache, in order, with loss -mean(r * log(softmax(f)[arm] + 1e-6)), and
the cache is emptied. torch is imported when a PaperPolicy is built, not before.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .base import Episode, Feedback, Policy, Site
from .settings import PaperSettings

_IMAGE, _GRADS = "paper_image", "paper_grads"  # episode.extra keys


def _size(net) -> int:
    return sum(p.numel() for p in net.parameters())


class PaperPolicy(Policy):
    """Per-site ResNet-18 REINFORCE routers with gradient Thompson sampling.

    `begin` takes the raw (H, W, 3) uint8 image (`needs_image`: a runtime that passes
    feature vectors to other policies passes this one the image). `update` learns the
    feedback's task reward.
    """

    name = "paper"
    needs_image = True  # begin() needs the raw image, not the shared feature vector

    def __init__(self, sites: list[Site], settings: PaperSettings | None = None, seed: int = 0):
        import torch

        from .resnet import ResNet18

        self.settings = s = settings or PaperSettings()
        super().__init__(sites, seed)
        self.torch = torch
        self.device = torch.device(s.device)
        with torch.random.fork_rng(devices=[]):  # seed the init without touching global RNG
            torch.manual_seed(seed)
            self.nets = {site.id: ResNet18(site.arms, s.width).to(self.device) for site in sites}
        self.opts = {
            k: torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
            for k, net in self.nets.items()
        }
        # the diagonal of Z: one entry per parameter, starting at lambda
        self.u = {
            k: torch.full((_size(net),), s.reg_lambda, device=self.device)
            for k, net in self.nets.items()
        }
        self.cache: dict[str, list[tuple[np.ndarray, int, float]]] = {k: [] for k in self.nets}
        self.reprice()
        self.inputs = 0  # updates so far; training happens every retrain_every of them

    def reprice(self) -> None:
        scale = self.cost_weight / self.settings.reward_scale
        self.penalty = {k: np.asarray(site.costs) * scale for k, site in self.sites.items()}

    # -- choosing ---------------------------------------------------------------------
    def begin(self, features: np.ndarray, evaluate=None) -> Episode:
        """`features` is the raw image; it is resized to image_size x image_size."""
        torch = self.torch
        image = np.asarray(features)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                "the paper policy takes the raw (H, W, 3) uint8 image, "
                f"got {image.dtype} {image.shape}"
            )
        x = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float() / 255.0
        size = self.settings.image_size
        # torchvision's Resize on tensors: bilinear with antialiasing
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        x = x.to(self.device)
        episode = super().begin(x[0].cpu().numpy())
        episode.extra[_IMAGE], episode.extra[_GRADS] = x, {}
        return episode

    def _choose(self, episode: Episode, site: Site) -> int:
        s, net = self.settings, self.nets[site.id]
        out = net(episode.extra[_IMAGE])[0]
        means = out.detach().cpu().numpy()
        draws, grads = [], []
        for a in range(site.arms):
            net.zero_grad()
            out[a].backward(retain_graph=a < site.arms - 1)
            g = self.torch.cat([p.grad.flatten() for p in net.parameters()])
            sigma2 = s.reg_lambda * self.torch.sum(g * g / self.u[site.id])
            sigma2 = self.torch.clamp(sigma2, min=1e-6)
            noise = episode.rng.standard_normal() * s.nu * float(self.torch.sqrt(sigma2))
            draws.append(float(means[a]) + noise - self.penalty[site.id][a])
            grads.append(g)
        arm = int(np.argmax(draws))
        episode.extra[_GRADS][site.id] = grads[arm]  # U grows by it only if the input ends
        return arm

    # -- learning ---------------------------------------------------------------------
    def update(self, episode: Episode, feedback: Feedback) -> None:
        s = self.settings
        task = feedback.task / s.reward_scale
        for site_id in sorted(episode.fired):
            g = episode.extra[_GRADS][site_id]
            self.u[site_id] += g * g
            self.cache[site_id].append((episode.features, episode.arm(site_id), task))
        self.inputs += 1
        if self.inputs % s.retrain_every == 0:
            for site_id in self.nets:
                self._train(site_id)

    def _train(self, site_id: str) -> None:
        torch, s = self.torch, self.settings
        data, self.cache[site_id] = self.cache[site_id], []
        if not data:
            return
        net, opt = self.nets[site_id], self.opts[site_id]
        net.train()
        for _ in range(s.epochs):
            for start in range(0, len(data), s.batch_size):  # in arrival order, as the paper
                chunk = data[start : start + s.batch_size]
                x = torch.from_numpy(np.stack([c[0] for c in chunk])).to(self.device)
                arms = torch.tensor([c[1] for c in chunk], device=self.device)
                r = torch.tensor([c[2] for c in chunk], dtype=torch.float32, device=self.device)
                probs = torch.softmax(net(x), dim=1)
                logp = torch.log(probs[torch.arange(len(chunk)), arms] + 1e-6)
                loss = -(r * logp).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

    # -- persistence ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["inputs"] = self.inputs
        state["nets"] = {
            k: {n: t.detach().cpu().clone() for n, t in net.state_dict().items()}
            for k, net in self.nets.items()
        }
        state["opts"] = {k: copy.deepcopy(opt.state_dict()) for k, opt in self.opts.items()}
        state["u"] = {k: u.detach().cpu().clone() for k, u in self.u.items()}
        state["cache"] = {k: [(x.copy(), a, r) for x, a, r in c] for k, c in self.cache.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state["nets"]) != set(self.nets):
            raise ValueError(
                f"state is for sites {sorted(state['nets'])}, this policy has {sorted(self.nets)}"
            )
        super().load_state_dict(state)
        self.inputs = state["inputs"]
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])
            self.opts[k].load_state_dict(copy.deepcopy(state["opts"][k]))
            self.u[k] = state["u"][k].to(self.device).clone()
        self.cache = {k: [(x.copy(), a, r) for x, a, r in c] for k, c in state["cache"].items()}
