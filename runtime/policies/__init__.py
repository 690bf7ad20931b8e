"""Routing policies: which backend each neural call site uses, per input.

`make_policy(name, sites, settings=None, seed=0)` builds one by name:

========================  ==================================================  =====================
name                      what it does                                        settings
========================  ==================================================  =====================
static-cheapest           pool index 0 everywhere                             none
static-largest            the last (most expensive) index everywhere          none
static:<index>            that index everywhere (must exist in every pool)    none
random                    uniform per site and input                          none
structured                the paper's structure: a Bayesian linear TS model   BayesSettings
                          per site, all history, updated where it fired
structured-cascade        structured, plus a learned rule per site that       BayesSettings
                          escalates a cheap tier's answer on low confidence
structured-neural         the first per-site learner: NeuralTS per site       StructuredSettings
joint                     one model over all joint assignments (ablation)     JointSettings
query-level               one tier for the whole program (LLM routing)        QueryLevelSettings
oracle                    cheapest correct assignment, given an evaluator     OracleSettings
paper                     the paper's exact setup: a ResNet-18 per site       PaperSettings
========================  ==================================================  =====================

The interface is in `base`; features in `features`; rewards in `rewards`. torch is
imported only when a "paper" policy is built.
"""

from __future__ import annotations

import math

from .base import Episode, Policy, Site
from .bayes import BayesSitePolicy, CascadePolicy
from .joint import JointPolicy
from .oracle import OraclePolicy
from .query_level import QueryLevelPolicy
from .random import RandomPolicy
from .settings import (
    BayesSettings,
    JointSettings,
    OracleSettings,
    PaperSettings,
    QueryLevelSettings,
    StaticSettings,
    StructuredSettings,
    validate_seed,
)
from .static import StaticPolicy
from .structured import StructuredPolicy

#: Every name `make_policy` accepts, besides the pattern "static:<index>".
POLICY_NAMES = (
    "static-cheapest",
    "static-largest",
    "random",
    "structured",
    "structured-cascade",
    "structured-neural",
    "joint",
    "query-level",
    "oracle",
    "paper",
)

_LEARNED = {
    "structured": BayesSitePolicy,
    "structured-cascade": CascadePolicy,
    "structured-neural": StructuredPolicy,
    "joint": JointPolicy,
    "query-level": QueryLevelPolicy,
    "oracle": OraclePolicy,
}
#: The settings class of each policy that takes settings (the others take none).
SETTINGS_CLASSES = {
    "structured": BayesSettings,
    "structured-cascade": BayesSettings,
    "structured-neural": StructuredSettings,
    "joint": JointSettings,
    "query-level": QueryLevelSettings,
    "oracle": OracleSettings,
    "paper": PaperSettings,
}


_SUMMARIES = {
    "static-cheapest": "pool index 0 (the cheapest backend) at every site",
    "static-largest": "the last (most expensive) pool index at every site",
    "static:<index>": "that pool index at every site (it must exist in every pool)",
    "random": "a uniform pool index per site and input",
    "structured": "the paper's structure: one Bayesian Thompson-sampling model per call site over all its "
                  "history, updated only where it fired",
    "structured-cascade": "structured, plus a learned rule per site and tier that escalates a cheaper "
                          "backend's answer to the next one when its confidence says it is likely wrong",
    "structured-neural": "the first per-site learner: a NeuralTS model per call site over a window of history",
    "joint": "one model over all joint assignments of the sites (the paper's full-policy ablation)",
    "query-level": "one tier for the whole program per input (LLM-routing baseline)",
    "oracle": "for evaluation: the cheapest assignment that answers right, found with hindsight",
    "paper": "the paper's exact setup: a ResNet-18 per site on the raw image (slow on CPU)",
}


def describe_policies() -> str:
    """The policies `make_policy` knows, one line each (for `--list-policies`)."""
    width = max(map(len, _SUMMARIES))
    return "\n".join(f"{name:{width}s}  {text}" for name, text in _SUMMARIES.items())


def _check_sites(sites: list[Site]) -> None:
    seen: set[str] = set()
    for site in sites:
        if not isinstance(site, Site):
            raise ValueError(f"sites must be Site objects, got {type(site).__name__}")
        if site.id in seen:
            raise ValueError(f"duplicate site id {site.id!r}")
        seen.add(site.id)
        if site.arms < 1:
            raise ValueError(f"site {site.id!r} has no backends")
        for c in site.costs:
            number = isinstance(c, (int, float)) and not isinstance(c, bool)
            if not number or not math.isfinite(c) or c < 0:
                raise ValueError(
                    f"site {site.id!r} has an invalid cost {c!r}: costs must be finite and >= 0"
                )


def _static_backend(name: str) -> str | int | None:
    if name in ("static-cheapest", "static-largest"):
        return name.removeprefix("static-")
    if name.startswith("static:"):
        index = name.removeprefix("static:")
        if not index.isdigit():
            raise ValueError(
                f"static policy index must be a non-negative integer, got {index!r} in {name!r}"
            )
        return int(index)
    return None


def make_policy(name: str, sites: list[Site], settings: object = None, seed: int = 0) -> Policy:
    """Build the policy called `name` over `sites`, seeded with `seed`.

    `settings` must be None (defaults) or the settings class of that policy (see the
    table above); policies without settings reject anything but None.
    """
    seed = validate_seed(seed)
    sites = list(sites)
    _check_sites(sites)
    backend = _static_backend(name)
    if backend is not None or name == "random":
        if settings is not None:
            raise ValueError(f"policy {name!r} takes no settings, got {type(settings).__name__}")
        if name == "random":
            return RandomPolicy(sites, seed)
        return StaticPolicy(sites, StaticSettings(backend), seed)
    if name not in SETTINGS_CLASSES:
        known = ", ".join(POLICY_NAMES)
        raise ValueError(f"unknown policy {name!r}; known: {known}, static:<index>")
    expected = SETTINGS_CLASSES[name]
    if settings is not None and type(settings) is not expected:
        raise TypeError(f"policy {name!r} takes {expected.__name__}, got {type(settings).__name__}")
    if name == "paper":
        from .paper import PaperPolicy  # imports torch

        return PaperPolicy(sites, settings, seed)
    return _LEARNED[name](sites, settings, seed)


__all__ = [
    "POLICY_NAMES",
    "SETTINGS_CLASSES",
    "describe_policies",
    "Episode",
    "Policy",
    "Site",
    "make_policy",
    "JointPolicy",
    "OraclePolicy",
    "QueryLevelPolicy",
    "RandomPolicy",
    "StaticPolicy",
    "StructuredPolicy",
    "BayesSitePolicy",
]
