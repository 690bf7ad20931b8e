"""The benchmark definitions (bench/suites/): they load, their programs compile with 2-6
call sites, their label rules follow the ground truth, their streams regenerate byte for
byte at the defined rates, and run_suite keeps the contract fmprog bench relies on."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmprog.backends.base import Pools
from fmprog.backends.fake import fake_pools
from fmprog.bench import labels as L
from fmprog.bench.harness import BenchSettings
from fmprog.bench.recipes import RecipeError, check_recipe, ensure_stream, wanted_class
from fmprog.bench.suites import BENCHMARKS, compile_query, load_suite, run_suite
from fmprog.runtime.feedback import normalise

SUITES = {name: load_suite(name) for name in BENCHMARKS}
QUERIES = [(s.name, q) for s in SUITES.values() for q in s.queries]
ROUTED = {"detection", "vqa", "image_text_matching"}  # kinds with three embedded tiers


def obj(shape="circle", color="red", box=(10, 10, 40, 40), text=None, visible=1.0):
    side = max(box[2] - box[0], box[3] - box[1])
    return {"shape": shape, "color": color, "box": list(box), "side": side, "text": text,
            "visible": visible}


def lab(rule, *objects):
    return L.label(rule, {"objects": list(objects)})


# -- the definitions ---------------------------------------------------------------------------
def test_the_two_benchmarks_load_with_their_metric_and_reward():
    b, o = SUITES["binary-vqa"], SUITES["open-vqa"]
    assert (b.metric, b.reward, o.metric, o.reward) == ("f1", "binary", "accuracy", "open-form")
    assert len(b.queries) >= 20 and len(o.queries) >= 20
    for s in (b, o):
        assert len(s.cost_weights) == 3 and list(s.cost_weights) == sorted(s.cost_weights)


def test_an_unknown_benchmark_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown benchmark 'vqa'; known: \['binary-vqa', 'open-vqa'\]"):
        load_suite("vqa")


def test_rates_lengths_and_kinds_are_as_the_issue_defines():
    b, o = SUITES["binary-vqa"], SUITES["open-vqa"]
    rates = [q.one_in for q in b.queries]
    assert min(rates) == 20 and max(rates) == 100 and all(20 <= r <= 100 for r in rates)
    assert all(2 <= q.one_in <= 10 for q in o.queries)  # 10% to 50% N/A distractors
    assert all(q.n >= 1000 and 1 <= q.quick_n <= q.n for _, q in QUERIES)
    assert {"existence", "attribute", "relation", "count", "text"} <= {q.kind for q in b.queries}
    assert {"spatial", "logical", "numerical", "comparative", "text"} <= {q.kind for q in o.queries}
    seeds = [(s, q.seed) for s, q in QUERIES]
    assert len(set(seeds)) == len(seeds)


@pytest.mark.parametrize("suite,q", QUERIES, ids=[f"{s}:{q.id}" for s, q in QUERIES])
def test_every_program_compiles_with_two_to_six_routed_call_sites(suite, q):
    graph = compile_query(q)
    sites = graph.neural_sites()
    routed = [n for n in sites if n.meta["kind"] in ROUTED]
    assert 2 <= len(sites) <= 6, [n.meta["site"] for n in sites]
    assert len(routed) >= 2, [n.meta["site"] for n in sites]
    assert len({n.meta["site"] for n in sites}) == len(sites)


def test_programs_are_written_the_way_llms_write_them():
    for _, q in QUERIES:
        src = q.program.read_text()
        assert src.lstrip().startswith("def execute_command"), q.id
        assert src.count("#") >= 2, f"{q.id}: ViperGPT-style programs explain themselves"
        assert "ImagePatch(image)" in src, q.id
    loops = sum("for " in q.program.read_text() for _, q in QUERIES)
    assert loops >= len(QUERIES) // 2  # call sites inside loops are common


def test_a_broken_definition_names_the_file_and_the_query(tmp_path):
    folder = tmp_path / "binary-vqa"
    (folder / "programs").mkdir(parents=True)
    doc = json.loads((SUITES["binary-vqa"].root / "suite.json").read_text())
    doc["queries"] = doc["queries"][:1]
    doc["queries"][0]["rule"] = {"exists": {"shape": "circle", "colour": "red"}}
    (folder / "suite.json").write_text(json.dumps(doc))
    (folder / "programs" / f"{doc['queries'][0]['id']}.py").write_text("def execute_command(image):\n    return 'no'\n")
    with pytest.raises(ValueError, match=r"suite\.json: query 'blue_star': rule\.exists: unknown pattern key 'colour'"):
        load_suite("binary-vqa", root=tmp_path)
    (folder / "suite.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"suite\.json:1:2: not JSON"):
        load_suite("binary-vqa", root=tmp_path)


# -- the rule language on hand-built records -----------------------------------------------------
def test_exists_count_and_all_follow_the_ground_truth():
    red, blue = obj(color="red"), obj(color="blue", box=(60, 60, 90, 90))
    assert lab({"exists": {"shape": "circle", "color": "blue"}}, red, blue) == "yes"
    assert lab({"exists": {"shape": "circle", "color": "green"}}, red, blue) == "no"
    assert lab({"count": {"shape": "circle"}, "op": ">=", "value": 2}, red, blue) == "yes"
    assert lab({"count": {"shape": "circle"}}, red, blue) == "2"
    assert lab({"all": {"shape": "circle"}, "have": {"color": "red"}}, red, blue) == "no"
    assert lab({"all": {"shape": "circle"}, "have": {"color": "red"}}, red) == "yes"
    assert lab({"all": {"shape": "square"}, "have": {"color": "red"}}, red) == "no"  # none at all


def test_the_visibility_convention():
    half, hidden, unsure = obj(visible=0.5), obj(visible=0.19), obj(visible=0.3)
    assert lab({"exists": {"shape": "circle"}}, half) == "yes"
    assert lab({"exists": {"shape": "circle"}}, hidden) == "no"
    assert lab({"exists": {"shape": "circle"}}, unsure) is None
    assert lab({"count": {"shape": "circle"}}, half, hidden) == "1"
    assert lab({"count": {"shape": "circle"}}, half, unsure) is None
    # a decided answer stays decided whatever the doubtful object is
    assert lab({"count": {"shape": "circle"}, "op": ">=", "value": 1}, half, unsure) == "yes"


def test_size_order_and_near_have_an_undecided_band():
    small, mid, large = obj(box=(0, 0, 20, 20)), obj(box=(0, 0, 23, 23)), obj(box=(0, 0, 25, 25))
    assert [lab({"exists": {"size": "small"}}, o) for o in (small, mid, large)] == ["yes", None, "no"]
    a, b = obj(box=(10, 10, 30, 30)), obj(shape="square", box=(40, 10, 60, 30))
    close = obj(shape="square", box=(15, 50, 35, 70))  # centres 5 px apart horizontally
    rule = {"exists": {"shape": "circle", "left_of": {"shape": "square"}}}
    assert lab(rule, a, b) == "yes" and lab(rule, a, close) is None
    assert lab({"exists": {"shape": "square", "left_of": {"shape": "circle"}}}, a, b) == "no"
    near = {"exists": {"shape": "circle", "near": {"shape": "square"}}}
    assert lab(near, a, obj(shape="square", box=(33, 10, 50, 30))) == "yes"  # 3 px gap
    assert lab(near, a, obj(shape="square", box=(38, 10, 50, 30))) is None  # 8 px gap
    assert lab(near, a, b) is None  # a 10 px gap: between 4 and 12
    assert lab(near, a, obj(shape="square", box=(45, 10, 60, 30))) == "no"  # 15 px


def test_inside_compare_and_which():
    box, dot = obj(shape="square", box=(10, 10, 50, 50)), obj(color="green", box=(20, 20, 30, 30))
    far = obj(color="green", box=(60, 60, 70, 70))
    rule = {"exists": {"kind": "shape", "inside": {"shape": "square"}}}
    assert lab(rule, box, dot) == "yes" and lab(rule, box, far) == "no"
    assert lab({"color_of": {"kind": "shape", "inside": {"shape": "square"}}}, box, dot) == "green"
    assert lab({"color_of": {"kind": "shape", "inside": {"shape": "square"}}}, box, far) == L.NA
    star = obj(shape="star", box=(70, 70, 80, 80))
    which = {"which": {"a": {"shape": "square"}, "b": {"shape": "star"}, "by": "larger"},
             "answers": ["square", "star"]}
    assert lab(which, box, star) == "square"
    assert lab({**which, "which": {**which["which"], "by": "nearer"}}, box, star) == "square"
    assert lab({**which, "which": {**which["which"], "by": "higher"}}, box, star) == "star"
    assert lab(which, box) == L.NA  # one of the two is missing
    assert lab(which, box, star, obj(shape="star", box=(0, 90, 10, 100))) is None  # two stars
    assert lab({"compare": which["which"]}, box, star) == "yes"
    assert lab({"compare": which["which"]}, star) == "no"


def test_text_numbers_and_logic():
    stop = obj(shape="sign", color="red", box=(10, 10, 50, 30), text="STOP")
    num = obj(shape="sign", color="blue", box=(60, 10, 100, 30), text="83")
    digit = obj(shape="triangle", color="green", box=(10, 60, 40, 90), text="7")
    assert lab({"text_of": {"shape": "sign", "color": "red"}}, stop, num) == "stop"
    assert lab({"exists": {"shape": "sign", "number": [81, 99]}}, stop, num) == "yes"
    assert lab({"numbers": {"shape": "sign"}, "reduce": "max"}, stop, num) == "83"
    assert lab({"numbers": {"shape": "sign"}, "reduce": "max"}, stop) == L.NA
    assert lab({"numbers": {"kind": "shape"}, "reduce": "sum"}, digit, num) == "7"
    assert lab({"exists": {"kind": "shape", "text": "7"}}, digit) == "yes"
    assert lab({"exists": {"text_kind": "digit"}}, stop, num) == "no"
    both = {"and": [{"exists": {"shape": "sign"}}, {"not": {"exists": {"shape": "circle"}}}]}
    assert lab(both, stop) == "yes" and lab(both, stop, obj()) == "no"
    either = {"or": [{"exists": {"color": "purple"}}, {"exists": {"text": "STOP"}}]}
    assert lab(either, stop) == "yes" and lab(either, num) == "no"
    cond = {"if": {"exists": {"shape": "sign"}}, "then": {"count": {"shape": "triangle"}}}
    assert lab(cond, stop, digit) == "1" and lab(cond, digit) == L.NA
    assert lab({"color_of": {"shape": "sign", "not": {"text": "STOP"}}}, stop, num) == "blue"
    assert lab({"shape_of": {"any": [{"color": "green"}, {"text": "83"}]}}, digit) == "triangle"


@pytest.mark.parametrize("rule,message", [
    ({"exist": {"shape": "circle"}}, "rule: no rule form among"),
    ({"exists": {"shape": "circel"}}, "rule.exists.shape: 'circel' is not one of"),
    ({"exists": {"shape": "circle"}, "extra": 1}, "rule: unexpected key(s) ['extra']"),
    ({"count": {"shape": "star"}, "op": "=>", "value": 3}, "rule.op: one of"),
    ({"count": {"shape": "star"}, "op": ">=", "value": 3, "than": {}}, "takes 'value' (a number) or 'than'"),
    ({"all": {"shape": "star"}}, "'all' needs 'have'"),
    ({"compare": {"a": {}, "b": {}, "by": "taller"}}, "rule.compare.by: one of"),
    ({"which": {"a": {}, "b": {}, "by": "left"}, "answers": ["A", "b"]}, "two lower-case answers"),
    ({"numbers": {"shape": "sign"}, "reduce": "mean"}, "max, min or sum"),
    ({"and": []}, "rule.and: a non-empty list of rules"),
    ({"exists": {"number": [80]}}, "rule.exists.number: [min, max] integers"),
    ({"exists": {"near": "sign"}}, "rule.exists.near: a pattern must be an object"),
])
def test_invalid_rules_are_refused_with_the_part_at_fault(rule, message):
    with pytest.raises(L.RuleError) as e:
        L.check_rule(rule)
    assert message in str(e.value)


def test_rule_kinds_must_fit_the_benchmark():
    with pytest.raises(L.RuleError, match="gives an open-form answer, not yes/no"):
        L.check_rule({"color_of": {"shape": "star"}}, binary=True)
    with pytest.raises(L.RuleError, match="gives yes/no, not an open-form answer"):
        L.check_rule({"exists": {"shape": "star"}}, binary=False)
    with pytest.raises(RecipeError, match=r"recipe: an object with the classes \['yes', 'no'\]"):
        check_recipe({"answer": [{}], "n/a": [{}]}, True, "recipe")
    with pytest.raises(RecipeError, match=r"recipe.no\[0\].require\[0\].color: \['pink'\] not among"):
        check_recipe({"yes": [{}], "no": [{"require": [{"shape": "star", "color": "pink"}]}]}, True, "recipe")


SHAPES = ("circle", "square", "triangle", "star", "diamond", "sign")
COLORS = ("red", "green", "blue", "yellow")
objects = st.lists(st.builds(
    lambda s, c, x, y, side, v: obj(s, c, (x, y, x + side, y + side), visible=v),
    st.sampled_from(SHAPES), st.sampled_from(COLORS), st.integers(0, 100), st.integers(0, 100),
    st.integers(8, 40), st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0])), max_size=6)


@settings(max_examples=150, deadline=None)
@given(objects, st.sampled_from(SHAPES), st.sampled_from(COLORS))
def test_exists_and_count_agree_with_brute_force(objs, shape, color):
    def there(o):
        return o["shape"] == shape and o["color"] == color
    sure = sum(there(o) and o["visible"] >= L.PRESENT_MIN for o in objs)
    maybe = sum(there(o) and L.HIDDEN_MAX <= o["visible"] < L.PRESENT_MIN for o in objs)
    p = {"shape": shape, "color": color}
    assert lab({"count": p}, *objs) == (str(sure) if maybe == 0 else None)
    assert lab({"exists": p}, *objs) == ("yes" if sure else None if maybe else "no")
    assert lab({"not": {"exists": p}}, *objs) == ("no" if sure else None if maybe else "yes")


@settings(max_examples=100, deadline=None)
@given(objects, st.sampled_from(SHAPES), st.sampled_from(SHAPES))
def test_hidden_objects_never_change_a_label(objs, a, b):
    rules = [{"exists": {"shape": a, "left_of": {"shape": b}}}, {"count": {"shape": a}},
             {"which": {"a": {"shape": a}, "b": {"shape": b}, "by": "larger"}, "answers": ["a", "b"]},
             {"color_of": {"shape": a}}, {"all": {"shape": a}, "have": {"color": "red"}}]
    ghost = obj(a, "blue", (50, 50, 70, 70), visible=0.05)
    for rule in rules:
        assert lab(rule, *objs) == lab(rule, *objs, ghost), rule


# -- streams -------------------------------------------------------------------------------------
def _spec(suite="binary-vqa", query=None):
    s = SUITES[suite]
    return s.stream_spec(s.query(query) if query else s.queries[0])


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_streams_regenerate_byte_for_byte_and_extend_in_place(tmp_path):
    spec = _spec("open-vqa", "circle_or_square_left")
    a = ensure_stream(spec, 10, tmp_path / "a")
    b = ensure_stream(spec, 10, tmp_path / "b")
    assert _files(a) == _files(b) and len(_files(a)) == 13  # 10 images, labels, scenes, stream.json
    c = ensure_stream(spec, 4, tmp_path / "c")
    ensure_stream(spec, 10, c)  # extended from 4 to 10
    assert _files(c) == _files(a)
    before = {p: p.stat().st_mtime_ns for p in a.rglob("*")}
    ensure_stream(spec, 6, a)  # shorter than what is there: reused untouched
    assert before == {p: p.stat().st_mtime_ns for p in a.rglob("*")}


def test_a_changed_definition_regenerates_the_stream(tmp_path):
    spec = _spec()
    folder = ensure_stream(spec, 3, tmp_path / "s")
    old = _files(folder)
    other = dataclasses.replace(spec, seed=spec.seed + 1000)
    ensure_stream(other, 3, folder)
    assert _files(folder) != old
    assert json.loads((folder / "stream.json").read_text())["definition"] == other.digest()


def test_labels_are_the_rule_applied_to_the_written_ground_truth(tmp_path):
    for suite, query in (("binary-vqa", "circle_left_of_square"), ("open-vqa", "stars_left_of_sign"),
                         ("open-vqa", "triangle_digit")):
        spec = _spec(suite, query)
        folder = ensure_stream(spec, 12, tmp_path / query)
        rows = [json.loads(x) for x in (folder / "labels.jsonl").read_text().splitlines()]
        records = [json.loads(x) for x in (folder / "scenes.jsonl").read_text().splitlines()]
        assert [r["image"] for r in rows] == [r["image"] for r in records]
        assert [r["label"] for r in rows] == [L.label(spec.rule, rec) for rec in records]
        assert all(normalise(r["label"]) == r["label"] for r in rows)
        assert all(set(r) == {"image", "label"} for r in rows)


@pytest.mark.parametrize("suite", BENCHMARKS)
def test_the_rare_class_comes_once_per_block(suite):
    for q in SUITES[suite].queries:
        spec = SUITES[suite].stream_spec(q)
        rare = [wanted_class(spec, i) == "rare" for i in range(q.n)]
        assert math.floor(q.n / q.one_in) <= sum(rare) <= math.ceil(q.n / q.one_in), q.id
        blocks = [sum(rare[k:k + q.one_in]) for k in range(0, q.n - q.one_in + 1, q.one_in)]
        assert set(blocks) == {1}, q.id


def test_generated_labels_have_the_defined_rate(tmp_path):
    s = SUITES["binary-vqa"]
    q = s.query("blue_star")
    folder = ensure_stream(s.stream_spec(q), 100, tmp_path / q.id)
    labels = [json.loads(x)["label"] for x in (folder / "labels.jsonl").read_text().splitlines()]
    assert labels.count("yes") == 100 // q.one_in and labels.count("no") == 100 - 100 // q.one_in
    o = SUITES["open-vqa"]
    q = o.query("star_or_diamond_higher")
    folder = ensure_stream(o.stream_spec(q), 60, tmp_path / q.id)
    labels = [json.loads(x)["label"] for x in (folder / "labels.jsonl").read_text().splitlines()]
    assert labels.count(L.NA) == 60 // q.one_in
    assert set(labels) == {L.NA, "star", "diamond"}


# -- run_suite -----------------------------------------------------------------------------------
def _tiny(suite, ids, n=4):
    qs = tuple(dataclasses.replace(q, quick_n=n) if q.id in ids else q for q in suite.queries)
    return dataclasses.replace(suite, queries=qs)


def test_run_suite_makes_streams_and_scores_every_static_tier(tmp_path, capsys):
    suite = _tiny(SUITES["open-vqa"], {"color_if_star"})
    settings = BenchSettings(policies=("static", "oracle"), cost_weights=(0.0, 1.0), seeds=1,
                             reward=suite.reward, metric=suite.metric, window=4, out=tmp_path)
    pools = Pools(fake_pools(costs=(1.0, 2.0, 4.0)))
    ids, scores = run_suite(suite, pools, settings, ["color_if_star"], quick=True)
    assert ids == ["color_if_star"]
    names = {(s.policy, s.cost_weight) for s in scores}
    assert names == {(p, w) for p in ("static-cheapest", "static-tier1", "static-largest", "oracle")
                     for w in (0.0, 1.0)}
    assert all(s.query == "color_if_star" for s in scores)
    folder = tmp_path / "streams" / "color_if_star"
    assert len(list((folder / "images").glob("*.png"))) == 4
    assert len((folder / "labels.jsonl").read_text().splitlines()) == 4
    assert (tmp_path / "recording.sqlite").is_file()
    assert "open-vqa [1/1] color_if_star: 4 images" in capsys.readouterr().err


def test_run_suite_refuses_unknown_queries_naming_the_known_ones(tmp_path):
    settings = BenchSettings(out=tmp_path)
    with pytest.raises(ValueError, match=r"unknown binary-vqa query \['nope'\]; known: \['blue_star', "):
        run_suite(SUITES["binary-vqa"], Pools(fake_pools()), settings, ["blue_star", "nope"])


def test_the_docs_list_every_query_as_defined():
    from fmprog.bench.suites import definitions_table

    docs = (SUITES["binary-vqa"].root.parents[2] / "docs" / "benchmarks.md").read_text()
    for suite in SUITES.values():
        assert definitions_table(suite) in docs, (
            f"docs/benchmarks.md is out of date for {suite.name}: paste the output of "
            f"`python -m fmprog.bench.suites table {suite.name}`")


@pytest.mark.parametrize("suite,q", QUERIES, ids=[f"{s}:{q.id}" for s, q in QUERIES])
def test_every_recipe_draws_both_classes_with_normalised_labels(suite, q):
    from fmprog.bench.recipes import draw_item

    spec = SUITES[suite].stream_spec(q)
    rare = next(i for i in range(q.one_in) if wanted_class(spec, i) == "rare")
    common = [i for i in range(3) if i != rare][:2]
    for i in [rare, *common]:
        _, record, label = draw_item(spec, i, f"images/{i:05d}.png")
        assert label == L.label(spec.rule, record) == normalise(label)
        assert (label == spec.rare) == (i == rare), (i, label)
