"""Lowering of statements and of the entry function: CST -> checked graph IR.

Control flow becomes guards. An `if` forks the current flow into two, each extended by a
literal on the BRANCH node; where the forks meet, MERGE nodes pick each variable's value.
A `return`, `break` or `continue` ends its flow and is recorded in the enclosing frame; the
code after it runs under the guard of the paths still alive. Loops are regions whose
carried variables (those the body assigns) enter as INPUT nodes and leave as OUTPUT nodes.
"""

from __future__ import annotations

import re

import libcst as cst

from . import types as T
from .expr import ExprLowering, _binop_type
from . import opset as P
from .ir import Op
from .scope import Binding, Frame, refused_bindings, suite_assigned_names, target_names

ENTRY = re.compile(r"execute_command(_\w+)?$")
INPUTS = {"image": T.IMAGE, "possible_answers": "list[str]", "query": T.STR}
# ViperGPT's own entry point also takes visualisation hooks; they are bound to None.
HOOK_PARAMS = frozenset({"my_fig", "time_wait_between_lines", "syntax"})
AUG = {
    cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*", cst.DivideAssign: "/",
    cst.FloorDivideAssign: "//", cst.ModuloAssign: "%", cst.PowerAssign: "**",
    cst.BitAndAssign: "&", cst.BitOrAssign: "|", cst.BitXorAssign: "^",
}
SMALL_STATEMENTS = frozenset(c for c in vars(cst).values() if isinstance(c, type) and issubclass(c, cst.BaseSmallStatement))
UNSUPPORTED_STATEMENTS = {
    "With": "a with statement", "ClassDef": "a class definition", "Match": "a match statement",
    "FunctionDef": "a nested function definition", "Global": "global", "Nonlocal": "nonlocal",
    "Del": "del", "Raise": "raise", "TypeAlias": "a type alias",
}


class Lowerer(ExprLowering):
    """Checks one module and lowers its entry function into `self.graph`."""

    def lower_module(self) -> None:
        entry = None
        for stmt in self.module.body:
            if isinstance(stmt, cst.FunctionDef) and ENTRY.match(stmt.name.value) and entry is None:
                entry = stmt
            elif isinstance(stmt, cst.FunctionDef):
                self.unsupported(stmt.name, f"a helper function definition ('{stmt.name.value}')")
            elif isinstance(stmt, cst.SimpleStatementLine) and all(self.top_level_ok(s) for s in stmt.body):
                continue
            else:
                self.report("top-level-statement", stmt)
        if entry is None:
            self.report_at("no-entry-point", self.pos[self.module.body[0]] if self.module.body else self.pos[self.module])
            return
        self.lower_function(entry)

    def top_level_ok(self, small: cst.BaseSmallStatement) -> bool:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            self.small_Import(small) if isinstance(small, cst.Import) else self.small_ImportFrom(small)
            return True
        return isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString))

    def lower_function(self, fn: cst.FunctionDef) -> None:
        self.graph.name = fn.name.value
        if fn.decorators or fn.asynchronous is not None:
            self.unsupported(fn, "a decorated or async entry function")
        self.bind_parameters(fn)
        self.alive = True
        self.block(fn.body)
        frame = self.frame
        returns = list(frame.returns)
        if self.alive:
            self.report("missing-return", fn.name)
            none, _ = self.const(None, fn.name)
            returns.append((self.flow.guard, none, T.NONE))
        self.flow.guard = ()
        if not returns:  # it never returns (an endless loop): the output is never reached
            returns.append(((), self.const(None, fn.name)[0], T.NONE))
        if len(returns) == 1 and not returns[0][0]:
            out = returns[0][1]
        else:
            out = self.emit(Op.MERGE, "return", fn.name, [v for _, v, _ in returns], when=[g for g, _, _ in returns])
        self.emit(Op.OUTPUT, "return", fn.name, (out,))

    def bind_parameters(self, fn: cst.FunctionDef) -> None:
        p = fn.params
        if p.star_arg is not None and not isinstance(p.star_arg, cst.MaybeSentinel) or p.star_kwarg is not None:
            self.report("entry-signature", fn.name, name=fn.name.value, detail="*args / **kwargs")
        inputs, seen = [], set()
        for param in [*p.posonly_params, *p.params, *p.kwonly_params]:
            name = param.name.value
            if name in seen:
                self.report("entry-signature", param, name=fn.name.value, detail=f"duplicate parameter '{name}'")
                continue
            seen.add(name)
            if name in INPUTS:
                v = self.emit(Op.INPUT, name, param)
                self.flow.env[name] = Binding(v, INPUTS[name])
                inputs.append(name)
            elif name in self.dsl.entry_names:
                continue  # bound to the DSL class or function of that name
            elif name in HOOK_PARAMS:
                self.flow.env[name] = Binding(*self.const(None, param))
            elif param.default is not None:
                self.flow.env[name] = Binding(*self.expr(param.default))
            else:
                self.report("entry-signature", param, name=fn.name.value,
                            detail=f"unknown parameter '{name}' (expected image, possible_answers, query, "
                                   "or the DSL names)")
        self.graph.meta["inputs"] = inputs

    # -- blocks ----------------------------------------------------------------------------
    def block(self, suite: cst.BaseSuite) -> None:
        body = suite.body
        for i, stmt in enumerate(body):
            if not self.alive:
                self.report("unreachable", stmt)
                self.check_dead(body[i:])
                return
            if type(suite) is cst.SimpleStatementSuite or type(stmt) in SMALL_STATEMENTS:
                self.small(stmt)
            else:
                self.statement(stmt)

    def statement(self, stmt: cst.BaseStatement) -> None:
        if type(stmt) is cst.SimpleStatementLine:  # type(...) is: an ABC isinstance costs 5x more
            for i, small in enumerate(stmt.body):
                if not self.alive:
                    self.report("unreachable", small)
                    self.check_dead(stmt.body[i:])
                    return
                self.small(small)
            return
        kind = type(stmt).__name__
        method = self._stmt_methods[type(stmt)]
        if method is not None:
            method(self, stmt)
            return
        if kind in ("Try", "TryStar"):
            self.report("try-unsupported", stmt)
        else:
            self.unsupported(stmt, UNSUPPORTED_STATEMENTS.get(kind, f"the statement {kind}"))
        self.poison(refused_bindings(stmt), stmt)

    def check_dead(self, nodes) -> None:
        """Unreachable code is not lowered, but Python still compiles it: a yield there makes
        the function a generator, an await or a misplaced break a syntax error."""
        scan = _DeadCode(self.frame.in_loop)
        for node in nodes:
            node.visit(scan)
        for node, what in scan.found:
            self.unsupported(node, what)

    def poison(self, names, node) -> None:
        """Bind names a refused statement would bind to an error value: no cascade."""
        for name in names:
            v, t = self.placeholder(node)
            self.flow.env[name] = Binding(v, t)

    def small(self, small: cst.BaseSmallStatement) -> None:
        kind = type(small).__name__
        method = self._small_methods[type(small)]
        if method is None:
            self.unsupported(small, UNSUPPORTED_STATEMENTS.get(kind, f"the statement {kind}"))
            if kind == "Raise":
                self.alive = False  # the path ends here, as Python's would
        else:
            method(self, small)

    def branch(self, flow, suite_or_stmt) -> object:
        """Lower a block on `flow`; the flow that falls through, or None."""
        self.flow, self.alive = flow, True
        if type(suite_or_stmt) is cst.If:
            self.stmt_If(suite_or_stmt)
        else:
            self.block(suite_or_stmt)
        return self.flow if self.alive else None

    # -- simple statements -------------------------------------------------------------------
    def small_Expr(self, small: cst.Expr) -> None:
        if type(small.value) in (cst.SimpleString, cst.ConcatenatedString):
            return  # a docstring or a bare string: no effect
        v, _ = self.expr(small.value)
        node = self.graph.nodes[v]
        if node.op is Op.NEURAL:  # a model call has no effect but its result
            self.report("unused-result", small, name=node.meta["method"])

    def small_Pass(self, small: cst.Pass) -> None:
        pass

    def small_Assign(self, small: cst.Assign) -> None:
        v, t = self.expr(small.value)
        node = self.graph.nodes[v]
        from_find = node.op is Op.NEURAL and node.target == "find"
        for target in small.targets:
            self.bind_target(target.target, v, t, from_find=from_find)

    def small_AnnAssign(self, small: cst.AnnAssign) -> None:
        if small.value is not None:
            v, t = self.expr(small.value)
            self.bind_target(small.target, v, t)

    def small_AugAssign(self, small: cst.AugAssign) -> None:
        op = AUG.get(type(small.operator))
        target = small.target
        if op is None or not isinstance(target, (cst.Name, cst.Subscript)):
            what = "this augmented assignment" if op is None else "an augmented assignment to this target"
            self.unsupported(small, what)
            return
        cur, t = self.expr(target)
        v, tv = self.expr(small.value)
        rt = _binop_type(op, t, tv)
        if rt is None:
            self.report("type-error", small, detail=(
                f"unsupported operand types for {op}=: '{T.describe(t)}' and '{T.describe(tv)}'"))
            rt = T.ANY
        r = self.emit(Op.PURE, P.INPLACE[op], small, (cur, v))
        self.bind_target(target, r, rt)

    def small_Return(self, small: cst.Return) -> None:
        v, t = self.expr(small.value) if small.value is not None else self.const(None, small)
        self.frame.returns.append((self.flow.guard, v, t))
        self.alive = False

    def small_Break(self, small: cst.Break) -> None:
        self.loop_exit(small, self.frame.breaks, "break")

    def small_Continue(self, small: cst.Continue) -> None:
        self.loop_exit(small, self.frame.continues, "continue")

    def loop_exit(self, small, exits: list, what: str) -> None:
        if not self.frame.in_loop:
            self.unsupported(small, f"'{what}' outside a loop")
            return
        exits.append(self.flow)
        self.alive = False

    def small_Assert(self, small: cst.Assert) -> None:
        args = [self.expr(small.test)[0]]
        if small.msg is not None:
            args.append(self.expr(small.msg)[0])
        self.emit(Op.PURE, P.ASSERT, small, args)

    def small_Import(self, small: cst.Import) -> None:
        for alias in small.names:
            name = cst.Module([]).code_for_node(alias.name)
            if name == "math" and alias.asname is not None:
                self.report("import-form", alias, form=cst.Module([]).code_for_node(small).strip())
            elif name != "math":
                self.report("forbidden-import", alias, module=name)
            else:
                self.math_imported = True

    def small_ImportFrom(self, small: cst.ImportFrom) -> None:
        module = cst.Module([]).code_for_node(small.module) if small.module is not None else "."
        if module == "math":
            self.report("import-form", small, form=cst.Module([]).code_for_node(small).strip())
        else:
            self.report("forbidden-import", small, module=module)

    # -- compound statements -----------------------------------------------------------------
    def stmt_If(self, stmt: cst.If) -> None:
        cond, _ = self.expr(stmt.test)
        self.note_truth_test(stmt.test)
        b = self.emit(Op.BRANCH, "if", stmt.test, (cond,))
        entry = self.flow
        then = self.branch(entry.fork((b, True)), stmt.body)
        if stmt.orelse is None:
            other = entry.fork((b, False))
        elif isinstance(stmt.orelse, cst.If):
            other = self.branch(entry.fork((b, False)), stmt.orelse)
        else:
            other = self.branch(entry.fork((b, False)), stmt.orelse.body)
        self.join([f for f in (then, other) if f is not None], entry.guard, stmt)

    def note_truth_test(self, test: cst.BaseExpression) -> None:
        """`if patches:` and `if not patches:` count as a length check."""
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test = test.expression
        if isinstance(test, cst.Name):
            self.length_checked.add(test.value)

    def stmt_For(self, stmt: cst.For) -> None:
        if stmt.asynchronous is not None:
            self.unsupported(stmt, "async for")
            return
        it, t = self.expr(stmt.iter)
        if not T.iterable(t):
            self.report("type-error", stmt.iter, detail=f"'{T.describe(t)}' object is not iterable")
        name = stmt.iter.value if type(stmt.iter) is cst.Name else None
        fresh = name is not None and name not in self.length_checked
        if fresh:
            self.length_checked.add(name)  # the body only runs when it is not empty
        self.loop(stmt, "for", (it,), T.elem(t))
        if fresh:
            self.length_checked.discard(name)

    def stmt_While(self, stmt: cst.While) -> None:
        self.loop(stmt, "while", (), None)

    def loop(self, stmt, kind: str, iter_args: tuple, item_type: str | None) -> None:
        names = suite_assigned_names(stmt.body)
        if kind == "for":
            target_names(stmt.target, names)
        carried = sorted(names)
        inits = [self.flow.env.get(n) or self.unbound(n, stmt) for n in carried]
        loop = self.emit(Op.LOOP, kind, stmt, (*iter_args, *[b.node for b in inits]), carried=carried)
        frame = Frame(loop, in_loop=True)
        with self.in_region(loop, frame):
            exit_types = self.loop_body(stmt, loop, carried, inits, item_type)
        self.after_loop(stmt, loop, carried, inits, frame, exit_types)
        if kind == "while" and _always_true(stmt.test) and not frame.breaks:
            self.alive = False  # `while True:` without break only leaves by return

    def loop_body(self, stmt, loop: int, carried, inits, item_type) -> dict[str, str]:
        for name, init in zip(carried, inits):
            v = self.emit(Op.INPUT, "carry:" + name, stmt)
            self.flow.env[name] = Binding(v, T.ANY, maybe_unbound=init.maybe_unbound)
        if item_type is not None:
            item = self.emit(Op.INPUT, "item", stmt.target)
            self.bind_target(stmt.target, item, item_type)
        else:
            cond, _ = self.expr(stmt.test)
            b = self.emit(Op.BRANCH, "while", stmt.test, (cond,))
            self.frame.stops.append(self.flow.fork((b, False)))
            self.flow = self.flow.fork((b, True))
        self.block(stmt.body)
        frame = self.frame
        if self.alive:
            frame.continues.append(self.flow)
        exits = frame.continues + frame.breaks + frame.stops
        self.flow = type(self.flow)(self.flow.env, ())
        types = {}
        for name in carried:
            if exits:
                b = self.merge_binding(name, exits, 0, stmt)
                self.emit(Op.OUTPUT, "carry:" + name, stmt, (b.node,))
                types[name] = b.type
        for key, flows in (("broke", frame.breaks), ("stop", frame.stops)):
            if flows:
                self.emit(Op.OUTPUT, key, stmt, (self.any_path([f.guard for f in flows], stmt),))
        if frame.returns:
            self.emit(Op.OUTPUT, "returned", stmt, (self.any_path([g for g, _, _ in frame.returns], stmt),))
            value = self.emit(Op.MERGE, "return", stmt, [v for _, v, _ in frame.returns],
                              when=[g for g, _, _ in frame.returns])
            self.emit(Op.OUTPUT, "retval", stmt, (value,))
        return types

    def after_loop(self, stmt, loop: int, carried, inits, frame: Frame, exit_types) -> None:
        for name, init in zip(carried, inits):
            v = self.emit(Op.PURE, P.PROJECT, stmt, (loop,), key="carry:" + name)
            out = exit_types.get(name, init.type)
            t = out if init.type == T.UNBOUND else T.join(init.type, out)
            self.flow.env[name] = Binding(v, t, maybe_unbound=init.maybe_unbound)
        if frame.returns:
            flag = self.emit(Op.PURE, P.PROJECT, stmt, (loop,), key="returned")
            rb = self.emit(Op.BRANCH, "loop-return", stmt, (flag,))
            self.flow.guard += ((rb, True),)
            value = self.emit(Op.PURE, P.PROJECT, stmt, (loop,), key="retval")
            t = T.ANY
            self.frame.returns.append((self.flow.guard, value, t))
            self.flow.guard = self.flow.guard[:-1] + ((rb, False),)
        if stmt.orelse is None:
            return
        if not frame.breaks:
            self.block(stmt.orelse.body)
            return
        flag = self.emit(Op.PURE, P.PROJECT, stmt, (loop,), key="broke")
        kb = self.emit(Op.BRANCH, "loop-break", stmt, (flag,))
        entry = self.flow
        other = self.branch(entry.fork((kb, False)), stmt.orelse.body)
        self.join([f for f in (entry.fork((kb, True)), other) if f is not None], entry.guard, stmt)


def _always_true(test: cst.BaseExpression) -> bool:
    return (isinstance(test, cst.Name) and test.value == "True") or (
        isinstance(test, cst.Integer) and int(test.value, 0) != 0)


class _DeadCode(cst.CSTVisitor):
    """What in unreachable code changes how Python compiles the whole function."""

    def __init__(self, in_loop: bool):
        super().__init__()
        self.loops, self.found = int(in_loop), []

    def visit_Lambda(self, node) -> bool:
        return False  # a yield there makes the lambda a generator, not the function

    def visit_Yield(self, node) -> None:
        self.found.append((node, "yield"))

    def visit_Await(self, node) -> None:
        self.found.append((node, "await"))

    def visit_Global(self, node) -> None:
        self.found.append((node, "global"))

    def visit_Nonlocal(self, node) -> None:
        self.found.append((node, "nonlocal"))

    def visit_For(self, node) -> bool:
        for part in (node.target, node.iter) if isinstance(node, cst.For) else (node.test,):
            part.visit(self)
        self.loops += 1
        node.body.visit(self)
        self.loops -= 1
        if node.orelse is not None:  # a loop's else is not in the loop
            node.orelse.visit(self)
        return False

    visit_While = visit_For

    def visit_Break(self, node) -> None:
        if not self.loops:
            self.found.append((node, "'break' outside a loop"))

    def visit_Continue(self, node) -> None:
        if not self.loops:
            self.found.append((node, "'continue' outside a loop"))
