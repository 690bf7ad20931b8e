"""Serving a program over a stream: choose, execute, answer, take the label, learn.

Bad inputs never stop the stream: an unreadable image, a missing label, a failing or slow
backend, or a program error is recorded in that input's row and the stream goes on.
Only inputs that produced an answer and have a label teach the policy.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph

from .errors import ProgramError
from .policies.base import Policy
from .routed import RoutedInterpreter, Trace
from .store import Store

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}


@dataclass
class Item:
    key: str  # stable id of the input (its file name)
    path: Path
    label: str | None = None
    query: str = ""
    possible_answers: list | None = None


def load_items(images: str, labels: str | None) -> list[Item]:
    """Inputs from a directory of images or a JSONL file ({"image", "label"?, "query"?})."""
    src = Path(images)
    if src.is_dir():
        items = [Item(p.name, p) for p in sorted(src.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    elif src.is_file():
        items = []
        for i, line in enumerate(src.read_text().splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            path = (src.parent / row["image"]).resolve()
            items.append(Item(str(row.get("id", Path(row["image"]).name)), path, _label(row.get("label")),
                              row.get("query", ""), row.get("possible_answers")))
    else:
        raise FileNotFoundError(f"no such directory or file: {images}")
    if labels:
        table = read_labels(labels)
        for it in items:
            it.label = table.get(it.key, table.get(it.path.name, it.label))
    return items


def read_labels(path: str) -> dict[str, str]:
    """Labels from JSONL rows {"image" or "id", "label"}, or CSV lines `name,label`."""
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            row = json.loads(line)
            key = row.get("id", Path(str(row.get("image", ""))).name)
            out[str(key)] = _label(row.get("label"))
            if "image" in row:
                out[Path(str(row["image"])).name] = _label(row.get("label"))
        else:
            name, _, label = line.partition(",")
            out[name.strip()] = label.strip()
    return out


def _label(v) -> str | None:
    return None if v is None else str(v)


def read_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


def normalise(answer: Any) -> str:
    if isinstance(answer, bool):
        return "yes" if answer else "no"
    return str(answer).strip().lower().rstrip(".")


@dataclass
class StreamConfig:
    cost_weight: float = 0.0
    checkpoint_every: int = 1
    backend_timeout: float | None = 60.0
    time_limit: float = 60.0
    max_iterations: int = 10_000
    reward: str = "auto"  # binary | open-form | auto (binary when the label is yes/no)


class Stream:
    """One deployed program: graph + backend pools + policy + run database."""

    def __init__(self, graph: Graph, pools: Pools, policy: Policy, store: Store, run_id: int,
                 config: StreamConfig, features=None):
        from .policies.features import image_features

        self.graph, self.pools, self.policy, self.store, self.run_id = graph, pools, policy, store, run_id
        self.config = config
        self.features = features or image_features
        self.interp = self.interpreter(policy)
        self.largest = {n.meta["site"]: pools.pool(n.meta["kind"])[-1].cost for n in graph.neural_sites()}

    def interpreter(self, policy: Policy) -> RoutedInterpreter:
        c = self.config
        return RoutedInterpreter(self.graph, self.pools, policy, backend_timeout=c.backend_timeout,
                                 max_iterations=c.max_iterations, time_limit=c.time_limit)

    def run(self, items: list[Item], start: int = 0, progress: bool = True) -> Iterator[dict]:
        from tqdm import tqdm

        bar = tqdm(total=len(items), initial=start, disable=not progress, unit="img", dynamic_ncols=True, mininterval=0.5)
        correct = seen = 0
        for seq in range(start, len(items)):
            row = self.step(items[seq])
            state = self.policy.state_dict() if (seq + 1) % self.config.checkpoint_every == 0 \
                or seq == len(items) - 1 else None
            self.store.record(self.run_id, seq, row, state)
            if row.get("correct") is not None:
                seen += 1
                correct += row["correct"]
                bar.set_postfix(acc=f"{correct / seen:.2f}", cost=f"{row['cost']:.1f}")
            bar.update(1)
            yield row
        bar.close()

    def step(self, item: Item) -> dict:
        t0 = time.perf_counter()
        row: dict[str, Any] = {"item": item.key, "label": item.label, "cost": 0.0, "largest_cost": 0.0}
        try:
            image = read_image(item.path)
        except Exception as e:  # corrupt, missing or unreadable image
            row.update(error_kind="ImageError", error=f"cannot read {item.path.name}: {e}")
            row["seconds"] = time.perf_counter() - t0
            return row
        inputs = {"image": image, "query": item.query, "possible_answers": item.possible_answers or []}
        context = image if getattr(self.policy, "wants_image", False) else self.features(image)
        if getattr(self.policy, "needs_evaluator", False):
            episode = self.policy.begin(context, evaluate=self.evaluator(inputs, item.label))
        else:
            episode = self.policy.begin(context)
        trace: Trace = self.interp.start(episode)
        try:
            answer = self.interp.run(inputs)
            row["answer"] = _jsonable(answer)
        except ProgramError as e:
            trace.error = e.to_json()
            row.update(error_kind=e.kind, error=str(e))
            answer = None
        row["cost"] = trace.cost
        row["largest_cost"] = sum(self.largest[s] * t.calls for s, t in trace.sites.items())
        row["trace"] = trace.to_json()
        if item.label is not None and "answer" in row:
            row.update(self.learn(episode, answer, item.label, trace.cost))
        elif item.label is None:
            row["error"] = "; ".join(filter(None, [row.get("error"), "no label: not learned from"]))
        row["seconds"] = time.perf_counter() - t0
        return row

    def evaluator(self, inputs: dict, label: str | None):
        """For the oracle: run the program under a full assignment -> (correct, cost)."""
        from .policies.static import FixedAssignment

        def evaluate(assignment: dict[str, int]) -> tuple[bool, float]:
            policy = FixedAssignment(list(self.policy.sites.values()), assignment)
            interp = self.interpreter(policy)
            trace = interp.start(policy.begin(np.zeros(1)))
            try:
                answer = interp.run(dict(inputs))
            except ProgramError:
                return False, trace.cost
            return label is not None and normalise(answer) == normalise(label), trace.cost

        return evaluate

    def learn(self, episode, answer, label: str, cost: float) -> dict:
        from .policies.rewards import binary_reward, open_form_reward, reward

        predicted, truth = normalise(answer), normalise(label)
        correct = predicted == truth
        kind = self.config.reward
        if kind == "binary" or (kind == "auto" and truth in ("yes", "no")):
            task = binary_reward(predicted == "yes", truth == "yes")
        else:
            task = open_form_reward(correct)
        r = reward(task, cost, self.config.cost_weight)
        self.policy.update(episode, r)
        return {"correct": int(correct), "reward": r}


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if hasattr(v, "box"):
        return {"patch": list(v.box())}
    return repr(v)


def summarise(rows: list[dict]) -> dict:
    """Accuracy, P/R/F1 (yes/no labels), cost per input and relative to always-largest,
    backend share per site."""
    labelled = [r for r in rows if r.get("correct") is not None]
    n = len(rows)
    out: dict[str, Any] = {
        "inputs": n,
        "answered": sum(1 for r in rows if r.get("error_kind") is None),
        "errors": sum(1 for r in rows if r.get("error_kind") is not None),
        "accuracy": _ratio(sum(r["correct"] for r in labelled), len(labelled)),
        "avg_cost": _ratio(sum(r.get("cost") or 0 for r in rows), n),
    }
    largest = sum(r.get("largest_cost") or 0 for r in rows)
    out["cost_vs_largest"] = _ratio(sum(r.get("cost") or 0 for r in rows), largest)
    yn = [r for r in labelled if normalise(r["label"]) in ("yes", "no")]
    if yn and len(yn) == len(labelled):
        tp = sum(1 for r in yn if normalise(r["label"]) == "yes" and r["correct"])
        fp = sum(1 for r in yn if normalise(r["label"]) == "no" and not r["correct"])
        fn = sum(1 for r in yn if normalise(r["label"]) == "yes" and not r["correct"])
        p, rc = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        out.update(precision=p, recall=rc, f1=_ratio(2 * p * rc, p + rc) if p is not None and rc is not None else None)
    share: dict[str, dict[str, int]] = {}
    for r in rows:
        for site, t in ((r.get("trace") or {}).get("sites") or {}).items():
            share.setdefault(site, {}).setdefault(t["backend"], 0)
            share[site][t["backend"]] += 1
    out["backend_share"] = {s: {b: round(c / sum(d.values()), 3) for b, c in d.items()} for s, d in share.items()}
    kinds: dict[str, int] = {}
    for r in rows:
        if r.get("error_kind"):
            kinds[r["error_kind"]] = kinds.get(r["error_kind"], 0) + 1
    out["error_kinds"] = kinds
    return out


def _ratio(a, b):
    return round(a / b, 4) if b else None
