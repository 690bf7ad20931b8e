"""The benchmarks of `fmprog bench` as data: queries, programs, label rules, stream seeds.

A benchmark is a folder `bench/suites/<name>/` with `suite.json` (its metric, reward,
cost weights, seed and queries) and `programs/<query id>.py` (each query's program, in
the DSL, written the way LLMs write them). `load_suite(name)` reads and checks one;
`run_suite(...)` makes each query's stream (`recipes.ensure_stream`), compiles its program
and hands both to the harness (`harness.bench_stream`). docs/benchmarks.md describes the
benchmarks and the format.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .labels import RuleError, check_rule
from .recipes import RecipeError, StreamSpec, check_recipe, ensure_stream

SUITES_DIR = Path(__file__).resolve().parent / "suites"
BENCHMARKS = ("binary-vqa", "open-vqa")
QUERY_KEYS = ("id", "question", "kind", "rule", "recipe", "seed", "one_in", "n", "quick_n",
              "balance")
OPTIONAL = ("balance",)
SUITE_KEYS = ("name", "description", "metric", "reward", "seed", "hard_share", "cost_weights",
              "cost_weights_why", "queries")


@dataclass(frozen=True)
class Query:
    """One query of a benchmark: its question, program file, label rule, stream recipe and
    seed, the rate of its rare class (one positive, or one N/A, in `one_in` images), and
    its stream lengths (`n` full, `quick_n` with --quick)."""

    id: str
    question: str
    kind: str
    program: Path
    rule: dict
    recipe: dict
    seed: int
    one_in: int
    n: int
    quick_n: int
    balance: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A benchmark: `metric` ("f1" or "accuracy"), task `reward` ("binary" or
    "open-form"), the `cost_weights` it is scored at, and its queries."""

    name: str
    metric: str
    reward: str
    cost_weights: tuple[float, ...]
    seed: int
    hard_share: float
    queries: tuple[Query, ...]
    root: Path
    description: str = ""

    @property
    def binary(self) -> bool:
        return self.reward == "binary"

    def query(self, query_id: str) -> Query:
        for q in self.queries:
            if q.id == query_id:
                return q
        raise ValueError(f"unknown query {query_id!r} of {self.name}; known: {[q.id for q in self.queries]}")

    def stream_spec(self, q: Query) -> StreamSpec:
        return StreamSpec(q.id, q.rule, q.recipe, self.binary, self.seed, q.seed, q.one_in,
                          self.hard_share, q.balance)


# -- loading ---------------------------------------------------------------------------------
def load_suite(name: str, root: str | Path | None = None) -> Suite:
    """The benchmark `name` (binary-vqa, open-vqa), read from `root/<name>/suite.json`
    (default: the definitions shipped in bench/suites/) and checked."""
    if name not in BENCHMARKS and root is None:
        raise ValueError(f"unknown benchmark {name!r}; known: {list(BENCHMARKS)}")
    folder = Path(root or SUITES_DIR) / name
    path = folder / "suite.json"
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"{path}: cannot read the benchmark definition: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
    try:
        return _suite(doc, folder)
    except (RuleError, RecipeError, TypeError, KeyError) as e:
        raise ValueError(f"{path}: {_message(e)}") from None


def _message(e: Exception) -> str:
    return f"missing key {e}" if isinstance(e, KeyError) else str(e)


def _suite(doc: Any, folder: Path) -> Suite:
    if not isinstance(doc, dict):
        raise TypeError("the definition must be a JSON object")
    _known(doc, SUITE_KEYS, "the suite")
    metric, reward = doc["metric"], doc["reward"]
    if (metric, reward) not in (("f1", "binary"), ("accuracy", "open-form")):
        raise TypeError(f"metric/reward must be f1/binary or accuracy/open-form, got {metric}/{reward}")
    weights = tuple(float(w) for w in doc["cost_weights"])
    if not weights or any(w < 0 for w in weights):
        raise TypeError(f"cost_weights must be non-negative numbers, got {doc['cost_weights']!r}")
    binary = reward == "binary"
    queries = tuple(_query(q, folder, binary, k) for k, q in enumerate(doc["queries"]))
    ids = [q.id for q in queries]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise TypeError(f"duplicate query ids {dup}")
    hard = float(doc.get("hard_share", 0.5))
    if not 0.0 <= hard <= 1.0:
        raise TypeError(f"hard_share must be in [0, 1], got {hard}")
    return Suite(doc["name"], metric, reward, weights, int(doc["seed"]), hard, queries, folder,
                 doc.get("description", ""))


def _known(d: dict, keys: tuple[str, ...], where: str) -> None:
    extra = sorted(set(d) - set(keys))
    if extra:
        raise TypeError(f"{where}: unknown key(s) {extra}; known: {list(keys)}")


def _query(q: Any, folder: Path, binary: bool, k: int) -> Query:
    if not isinstance(q, dict) or not isinstance(q.get("id"), str):
        raise TypeError(f"query {k}: an object with a string 'id'")
    where = f"query {q['id']!r}"
    _known(q, QUERY_KEYS, where)
    missing = [key for key in QUERY_KEYS if key not in q and key not in OPTIONAL]
    if missing:
        raise TypeError(f"{where}: missing key(s) {missing}")
    check_rule(q["rule"], f"{where}: rule", binary)
    check_recipe(q["recipe"], binary, f"{where}: recipe")
    for key in ("seed", "one_in", "n", "quick_n"):
        if not isinstance(q[key], int) or q[key] < (0 if key == "seed" else 1):
            raise TypeError(f"{where}: {key} must be a positive integer, got {q[key]!r}")
    if q["quick_n"] > q["n"]:
        raise TypeError(f"{where}: quick_n ({q['quick_n']}) exceeds n ({q['n']})")
    balance = q.get("balance", [])
    if binary and balance or not all(isinstance(b, str) and b == b.lower() for b in balance):
        raise TypeError(f"{where}: balance is a list of lower-case open-form labels, got {balance!r}")
    program = folder / "programs" / f"{q['id']}.py"
    if not program.is_file():
        raise TypeError(f"{where}: no program file {program}")
    return Query(q["id"], q["question"], q["kind"], program, q["rule"], q["recipe"], q["seed"],
                 q["one_in"], q["n"], q["quick_n"], tuple(balance))


# -- running ---------------------------------------------------------------------------------
def compile_query(q: Query):
    """The query's program as a graph; ValueError with its error diagnostics otherwise."""
    from fmprog.compiler import compile_file

    c = compile_file(str(q.program))
    if not c.ok:
        lines = "\n".join(d.format(str(q.program)) for d in c.errors)
        raise ValueError(f"{q.program} does not compile:\n{lines}")
    return c.graph


def select(suite: Suite, queries: list[str] | None) -> list[Query]:
    """The queries asked for, in the order given (all of them by default)."""
    if not queries:
        return list(suite.queries)
    known = {q.id: q for q in suite.queries}
    unknown = [q for q in queries if q not in known]
    if unknown:
        raise ValueError(f"unknown {suite.name} quer{'ies' if len(unknown) > 1 else 'y'} "
                         f"{unknown}; known: {list(known)}")
    return [known[q] for q in queries]


def stream_for(suite: Suite, q: Query, n: int, out: Path, progress: bool = False) -> Path:
    """The folder of the query's stream under `out/streams/`, with at least n images."""
    return ensure_stream(suite.stream_spec(q), n, Path(out) / "streams" / q.id, progress)


def run_suite(suite: Suite, pools, settings, queries: list[str] | None = None,
              quick: bool = False) -> tuple[list[str], list]:
    """Every chosen query of the benchmark through `harness.bench_stream`: its stream
    (made or reused under `settings.out/streams/<id>/`; the first `quick_n` images with
    `quick`), its compiled program, one recording file for the benchmark."""
    from fmprog.runtime.inputs import load_inputs

    from .harness import bench_stream

    chosen = select(suite, queries)
    graphs = {q.id: compile_query(q) for q in chosen}  # every program checked before any work
    scores: list = []
    for k, q in enumerate(chosen, 1):
        n = q.quick_n if quick else q.n
        t0 = time.perf_counter()
        _say(f"{suite.name} [{k}/{len(chosen)}] {q.id}: {n} images ({q.kind}; {q.question})")
        folder = stream_for(suite, q, n, settings.out, settings.progress)
        items = load_inputs(folder / "labels.jsonl").items[:n]
        scores += bench_stream(q.id, graphs[q.id], items, pools, settings,
                               Path(settings.out) / "recording.sqlite")
        _say(f"{suite.name} [{k}/{len(chosen)}] {q.id}: done in {time.perf_counter() - t0:.1f} s")
    return [q.id for q in chosen], scores


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- documentation -----------------------------------------------------------------------------
def definitions_table(suite: Suite) -> str:
    """The markdown table of docs/benchmarks.md for a benchmark (kept equal by a test)."""
    rare = "positives" if suite.binary else "N/A"
    head = f"| id | question | kind | sites | {rare} | n | quick_n | seed | label rule |"
    lines = [head, "|" + "---|" * 9]
    for q in suite.queries:
        sites = len(compile_query(q).neural_sites())
        rule = json.dumps(q.rule, separators=(",", ":")).replace("|", "\\|")
        lines.append(f"| `{q.id}` | {q.question} | {q.kind} | {sites} | 1 in {q.one_in} | {q.n} | "
                     f"{q.quick_n} | {q.seed} | `{rule}` |")
    return "\n".join(lines)


def _main(argv: list[str]) -> int:
    """`python -m fmprog.bench.suites table NAME`: print the definitions table."""
    if len(argv) != 2 or argv[0] != "table":
        print("usage: python -m fmprog.bench.suites table binary-vqa|open-vqa", file=sys.stderr)
        return 2
    try:
        print(definitions_table(load_suite(argv[1])))
    except ValueError as e:
        print(f"fmprog: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
