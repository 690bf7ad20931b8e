"""The summary of a served stream, computed from its rows (and so from the call logs)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .feedback import YES_NO, normalise

BACKEND_KINDS = ("backend-error", "backend-timeout", "replay-miss")
TOP_ERRORS = 5


def summarise(rows: list[dict]) -> dict[str, Any]:
    """Accuracy, P/R/F1 (yes/no labels), cost per input and relative to always-largest,
    backend share per site, errors by kind, the most frequent error messages and the
    fraction of inputs that failed for backend reasons."""
    labelled = [r for r in rows if r.get("correct") is not None]
    n = len(rows)
    cost = sum(r.get("cost") or 0 for r in rows)
    out: dict[str, Any] = {
        "inputs": n,
        "answered": sum(1 for r in rows if r.get("error_kind") is None),
        "errors": sum(1 for r in rows if r.get("error_kind") is not None),
        "accuracy": _ratio(sum(r["correct"] for r in labelled), len(labelled)),
        "avg_cost": _ratio(cost, n),
        "cost_vs_largest": _ratio(cost, sum(r.get("largest_cost") or 0 for r in rows)),
    }
    out.update(_binary(labelled))
    out["backend_share"] = _share(rows)
    kinds = Counter(r["error_kind"] for r in rows if r.get("error_kind"))
    out["error_kinds"] = dict(kinds)
    messages = Counter((r["error_kind"], r.get("error") or "") for r in rows if r.get("error_kind"))
    out["top_errors"] = [{"kind": k, "message": m, "count": c} for (k, m), c in messages.most_common(TOP_ERRORS)]
    out["backend_error_rate"] = _ratio(sum(kinds[k] for k in BACKEND_KINDS), n) or 0.0
    return out


def _binary(labelled: list[dict]) -> dict[str, Any]:
    yn = [r for r in labelled if normalise(r["label"]) in YES_NO]
    if not yn or len(yn) != len(labelled):
        return {}
    tp = sum(1 for r in yn if normalise(r["label"]) == "yes" and r["correct"])
    fp = sum(1 for r in yn if normalise(r["label"]) == "no" and not r["correct"])
    fn = sum(1 for r in yn if normalise(r["label"]) == "yes" and not r["correct"])
    p, rc = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * p * rc, p + rc) if p is not None and rc is not None else None
    return {"precision": p, "recall": rc, "f1": f1}


def _share(rows: list[dict]) -> dict[str, dict[str, float]]:
    share: dict[str, Counter] = {}
    for r in rows:
        for site, t in ((r.get("trace") or {}).get("sites") or {}).items():
            share.setdefault(site, Counter())[t["backend"]] += 1
    return {s: {b: round(c / sum(d.values()), 3) for b, c in d.items()} for s, d in share.items()}


def _ratio(a, b):
    return round(a / b, 4) if b else None
