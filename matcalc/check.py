"""Is a user's derivative right? `check(expr, wrt, claim)` compares a claimed gradient, Jacobian
or Hessian with matcalc's own (itself checked against finite differences), and says what is wrong.

The verdict is numeric: claim and derivative are evaluated by the interpreter (verify.py) at several
random points of the function's domain and compared entry by entry. Simplifying
`claim - derivative` settles it symbolically where it reaches zero, and otherwise shows the
difference in the user's names. A wrong claim is diagnosed as the usual mistakes:

- transposed (a Jacobian in the denominator layout is the transpose of J_ij = ∂f_i/∂x_j);
- off by a constant factor (2, 1/2, −1, …);
- the symmetric convention: for a symmetric S the gradient is sym(G) = (G + G')/2, not the
  textbook G + G' − diag(G) nor the unsymmetrised G (README, "Symmetric matrices");
- right only if some matrix were symmetric (`2*A*x` for x'*A*x);
- a missing or an extra term;
- the wrong shape.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from . import algebra, api
from .errors import DifferentiationError, MatcalcError, ParseError
from .operators import known_functions
from .ops import Node
from .parse import Ast, parse, tokenize, walk
from .printing.readers.text import to_text
from .rules import load_rules
from .shapes import Problem, build_problem
from .simplify import simplify
from .verify import SAMPLERS, dimension_sizes, evaluate, sample_inputs

TOLERANCE = 1e-6        # relative difference below which claim and derivative agree at a point
POINTS = 5              # random points the claim is compared at


@dataclass
class CheckResult:
    """The verdict on a claimed derivative; true when right (`bool(result)`)."""
    correct: bool
    diagnosis: str              # right, transposed, factor, symmetric-convention, unsymmetrised,
    #                             needs-symmetric, missing-term, extra-term, wrong-terms, shape,
    #                             wrong
    message: str
    label: str                  # ∂f/∂X, ∂²f/∂x², …
    claim: str
    expected: str               # matcalc's derivative, with its where clause
    kind: str
    error: float                # largest relative difference at the points compared
    points: int
    symbolic: bool | None       # simplification settled it equal (True), unequal (False), or not
    difference: str | None = None     # derivative − claim, simplified, in the user's names
    factor: float | None = None
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    input: str = ""
    wrt: str = ""

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        lines = [f"{'right' if self.correct else 'wrong'}: {self.message}"]
        if not self.correct:
            lines.append(f"  {self.label} = {self.expected}")
            lines.append(f"  claim = {self.claim.strip()}")
            if self.difference is not None and self.diagnosis in ("wrong", "wrong-terms"):
                lines.append(f"  {self.label} - claim = {self.difference}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (schema matcalc.check/1)."""
        return {"schema": "matcalc.check/1", "input": self.input, "wrt": self.wrt,
                "kind": self.kind, "claim": self.claim, "correct": self.correct,
                "diagnosis": self.diagnosis, "message": self.message, "expected": self.expected,
                "difference": self.difference, "factor": self.factor, "missing": self.missing,
                "extra": self.extra, "error": None if np.isnan(self.error) else self.error,
                "points": self.points, "symbolic": self.symbolic}

    def json(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


def check(expr: str, wrt: str, claim: str, shapes: dict | None = None,
          symmetric: set[str] | None = None, hessian: bool = False,
          points: int = POINTS, seed: int = 0) -> CheckResult:
    """Is `claim` the derivative of `expr` with respect to `wrt` (the Hessian with hessian=True)?

    The claim is in the input language and may use the expression's variables and bindings, and
    bindings of its own (`... where s = sigmoid(X'*a)`); a linear map (the Hessian with respect
    to a matrix X) is written in `dX`.

    >>> r = check("w'*w where w = sigmoid(X'*a)", "X", "2*(w.^2 - w.^3)*a'")
    >>> r.correct, r.diagnosis
    (False, 'transposed')
    """
    if not isinstance(wrt, str):
        raise DifferentiationError("check takes one variable (wrt a name)")
    d = (api.hessian if hessian else api.derive)(expr, wrt, shapes=shapes, symmetric=symmetric)
    variables, expected = d._code_outputs()
    names = _dimension_names(variables)
    claimed = _read_claim(claim, d.problem, variables, names)
    try:        # matcalc's result read back in the claim's terms, for the symbolic comparison
        reference = _read(to_text(expected), d.problem, variables, names)
    except MatcalcError:
        reference = None
    comparison = _Comparison(d, variables, expected, claimed, names, points, seed)
    result = CheckResult(False, "wrong", "", d.label, claim, str(d), d.kind, float("nan"),
                         0, None, input=d.problem.text, wrt=wrt)
    if reference is not None:
        _symbolic(result, claimed, reference, d)
    comparison.diagnose(result)
    return result


# -- reading the claim ------------------------------------------------------------------------------

def _dimension_names(variables: dict[str, tuple]) -> dict[object, str]:
    """A declarable name (an identifier) for each symbolic dimension: rows(X) → rows_X."""
    out: dict[object, str] = {}
    for shape in variables.values():
        for dim in shape:
            if isinstance(dim, int) or dim in out:
                continue
            name = re.sub(r"\W+", "_", str(dim)).strip("_") or "n"
            while name in out.values():
                name += "_"
            out[dim] = name
    return out


def _declared(variables: dict[str, tuple], names: dict[object, str]) -> dict[str, tuple]:
    def dim(d: object) -> object:
        return d if isinstance(d, int) else names[d]
    return {n: () if s == (1, 1) else (dim(s[0]),) if s[1] == 1 else (dim(s[0]), dim(s[1]))
            for n, s in variables.items()}


def _names_used(node: Ast) -> list[Ast]:
    return [n for n in walk(node) if n.kind == "name"]


def _read_claim(claim: str, problem: Problem, variables: dict[str, tuple],
                names: dict[object, str]) -> Problem:
    """The claim as an expression tree over the problem's variables and bindings."""
    try:
        program = parse(claim)
        own = {n for n, _ in program.bindings}
        known = set(variables) | set(problem.bindings) | own | {"eye"}
        assert program.body is not None
        for body in [b for _, b in program.bindings] + [program.body]:
            for name in _names_used(body):
                if name.value not in known and str(name.value) not in known_functions():
                    raise ParseError(f"{name.value!r} is neither a variable nor a binding of the "
                                     f"expression (its variables: {', '.join(variables)}"
                                     + (f"; bindings: {', '.join(problem.bindings)}"
                                        if problem.bindings else "") + ")",
                                     claim, name.start, name.end)
        return _read(claim, problem, variables, names, own)
    except MatcalcError as exc:
        raise type(exc)(f"in the claim: {exc.message}", exc.text, exc.start, exc.end) from None


def _read(text: str, problem: Problem, variables: dict[str, tuple], names: dict[object, str],
          own: set[str] = frozenset()) -> Problem:
    """`text` read with the problem's variable shapes and the problem's bindings appended."""
    bindings = [f"{n} = {to_text(problem.bindings[n])}" for n in problem.binding_order
                if n not in own]
    full = text.rstrip().rstrip(";")
    if bindings:
        joiner = "\n, " if any(t.text == "where" for t in tokenize(text)) else "\nwhere "
        full += joiner + ", ".join(bindings)
    program = parse(full)
    used = {str(a.value) for _, b in program.bindings for a in _names_used(b)}
    used |= {str(a.value) for a in _names_used(program.body)} if program.body else set()
    return build_problem(program, _declared(variables, names),
                         {s for s in problem.symmetric if s in used})


def _inlined(node: Node, bindings: dict[str, Node], own: set[str]) -> Node:
    """The claim with its own bindings written out (the problem's stay names)."""
    if node.op == "ref" and node.value in own:
        return _inlined(bindings[str(node.value)], bindings, own)
    if not node.args:
        return node
    return algebra.rebuild(node, tuple(_inlined(a, bindings, own) for a in node.args))


# -- symbolic comparison ----------------------------------------------------------------------------

def _symbolic(result: CheckResult, claimed: Problem, reference: Problem, d) -> None:
    """claim − derivative simplified: zero settles it; else the missing and extra terms."""
    rules = load_rules()
    own = set(claimed.bindings) - set(reference.bindings)
    claim = _inlined(claimed.expr, claimed.bindings, own)
    if claim.shape != reference.expr.shape:
        return
    try:
        expected, _ = simplify(reference.expr, rules, reference.bindings, [], d.label)
        claim, _ = simplify(claim, rules, reference.bindings, [], d.label)
        difference, _ = simplify(algebra.sub(expected, claim), rules, reference.bindings, [],
                                 d.label)
    except (MatcalcError, RecursionError):
        return
    if algebra.is_zero(difference):
        result.difference = "0"
        result.symbolic = True
        return
    result.difference = to_text(difference)
    # the difference in expanded terms: a term of the derivative is missing from the claim, the
    # negation of a term of the claim is extra
    theirs, mine = _expanded(expected), _expanded(claim)
    if theirs is None or mine is None:
        return
    missing, extra = [], []
    for term in _expanded(algebra.add(*theirs, *(algebra.neg(t) for t in mine))) or []:
        if term in theirs:
            missing.append(term)
        elif algebra.neg(term) in mine:
            extra.append(algebra.neg(term))
        else:
            return
    result.missing = [_tidy(t, rules, reference.bindings) for t in missing]
    result.extra = [_tidy(t, rules, reference.bindings) for t in extra]


MAX_TERMS = 64


def _expanded(node: Node) -> list[Node] | None:
    """The terms of `node` with products and transposes distributed over sums (None: too many)."""
    if node.op == "add":
        out: list[Node] = []
        for a in node.args:
            terms = _expanded(a)
            if terms is None:
                return None
            out += terms
        return out if len(out) <= MAX_TERMS else None
    if node.op in ("matmul", "hadamard"):
        combos: list[list[Node]] = [[]]
        for a in node.args:
            terms = _expanded(a)
            if terms is None or len(combos) * len(terms) > MAX_TERMS:
                return None
            combos = [c + [t] for c in combos for t in terms]
        build = algebra.mul if node.op == "matmul" else algebra.hadamard
        return [build(*c) for c in combos]
    if node.op == "transpose":
        terms = _expanded(node.args[0])
        return None if terms is None else [algebra.transpose(t) for t in terms]
    return [node]


def _tidy(term: Node, rules, bindings: dict[str, Node]) -> str:
    try:
        return to_text(simplify(term, rules, bindings, [], "")[0])
    except MatcalcError:
        return to_text(term)


# -- numeric comparison -----------------------------------------------------------------------------

class _Comparison:
    """Claim and derivative evaluated at the same random points."""

    def __init__(self, d, variables: dict[str, tuple], expected: Node, claimed: Problem,
                 names: dict[object, str], points: int, seed: int):
        self.d = d
        self.variables = variables
        self.expected = expected
        self.claimed = claimed
        self.names = names
        self.points = points
        self.seed = seed

    def pairs(self, symmetric: set[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(derivative, claim) at up to `points` random points where both are finite."""
        rng = np.random.default_rng(self.seed)
        if self.d.wrt in symmetric and self.d.direction is not None:
            symmetric = symmetric | {self.d.direction}     # a symmetric direction dS
        out = []
        for trial in range(self.points * 4):
            if len(out) >= self.points:
                break
            sizes = dimension_sizes(self.variables, base=trial)
            env = sample_inputs(self.variables, sizes, rng, *SAMPLERS[trial % len(SAMPLERS)],
                                symmetric=symmetric)
            env["__dims__"] = {**sizes, **{self.names[k]: v for k, v in sizes.items()}}
            try:
                with np.errstate(all="ignore"):
                    e = evaluate(self.expected, env, self.d.problem.bindings)
                    c = evaluate(self.claimed.expr, env, self.claimed.bindings)
            except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
                continue
            if np.all(np.isfinite(e)) and np.all(np.isfinite(c)):
                out.append((e, c))
        return out

    def diagnose(self, result: CheckResult) -> None:
        symmetric = set(self.d.problem.symmetric)
        pairs = self.pairs(symmetric)
        result.points = len(pairs)
        if not pairs:
            raise DifferentiationError("no sampled point where both the claim and the derivative "
                                       "are finite: cannot compare them")
        same_shape = all(e.shape == c.shape for e, c in pairs)
        result.error = max(_difference(e, c) for e, c in pairs) if same_shape else float("inf")
        if same_shape and result.error <= TOLERANCE:
            result.correct, result.diagnosis = True, "right"
            how = "symbolically, and " if result.symbolic else ""
            result.message = (f"the claim equals {result.label}: {how}numerically at "
                              f"{len(pairs)} random points (largest relative difference "
                              f"{result.error:.1e})")
            return
        if result.symbolic:     # simplification said equal, the numbers disagree: trust numbers
            result.symbolic = None
        elif result.difference is not None:
            result.symbolic = False
        if self._transposed_or_scaled(result, pairs):
            return
        if not same_shape:
            want, got = self._shape_text(self.expected.shape), self._shape_text(
                self.claimed.expr.shape)
            return _verdict(result, "shape", f"the claim is {got}; {result.label} is {want}"
                                             + (", shaped like " + self.d.wrt
                                                if self.d.kind == "gradient" else ""))
        if self.d.wrt in symmetric and self._symmetric_convention(result, pairs):
            return
        needs = self._needs_symmetric(symmetric)
        if needs:
            flags = " ".join(f"--sym {n}" for n in needs)
            return _verdict(result, "needs-symmetric",
                            f"the claim is right only where {', '.join(needs)} "
                            f"{'is' if len(needs) == 1 else 'are'} symmetric: declare "
                            f"{'it' if len(needs) == 1 else 'them'} ({flags})")
        self._terms(result)

    def _transposed_or_scaled(self, result: CheckResult, pairs: list) -> bool:
        """The claim is the transpose of the derivative, or a constant times it (or both)."""
        transposed = [(e, c.T) for e, c in pairs]
        same_t = all(e.shape == c.shape for e, c in transposed)
        if same_t and max(_difference(e, c) for e, c in transposed) <= TOLERANCE:
            layout = (" (the denominator layout; matcalc's Jacobian is J_ij = ∂f_i/∂x_j)"
                      if self.d.kind == "jacobian" else "")
            _verdict(result, "transposed", f"the claim is the transpose of "
                                           f"{result.label}{layout}")
            return True
        for candidates, how in ((pairs, ""), (transposed, "the transpose of ")):
            if not all(e.shape == c.shape for e, c in candidates):
                continue
            k = _factor(candidates)
            if k is not None:
                result.factor = k
                _verdict(result, "factor", f"the claim is {how}{_number(k)} × "
                                           f"{result.label}: off by a constant factor")
                return True
        return False

    def _terms(self, result: CheckResult) -> None:
        """Terms missing from the claim, extra in it, or both; else plainly wrong."""
        if result.missing and not result.extra:
            terms = ", ".join(result.missing)
            return _verdict(result, "missing-term",
                            f"the claim misses the term{'s' if len(result.missing) > 1 else ''} "
                            f"{terms}")
        if result.extra and not result.missing:
            terms = ", ".join(result.extra)
            return _verdict(result, "extra-term",
                            f"the claim has the extra term{'s' if len(result.extra) > 1 else ''} "
                            f"{terms}")
        if result.missing and result.extra and len(result.missing) + len(result.extra) <= 4:
            return _verdict(result, "wrong-terms",
                            f"the claim has {', '.join(result.extra)} where {result.label} has "
                            f"{', '.join(result.missing)}")
        return _verdict(result, "wrong", f"the claim differs from {result.label} (largest "
                                         f"relative difference {result.error:.2g})")

    def _symmetric_convention(self, result: CheckResult,
                              pairs: list[tuple[np.ndarray, np.ndarray]]) -> bool:
        """For a symmetric variable: G + G' − diag(G), or an unsymmetrised G."""
        s = self.d.wrt
        textbook = [(2 * e - np.diag(np.diag(e)), c) for e, c in pairs]
        why = (f"matcalc gives sym(G) = (G + G')/2, the gradient on symmetric matrices under the "
               f"Frobenius inner product, so that ∂f/∂{s} : E is the directional derivative for "
               f"every symmetric E (README, 'Symmetric matrices')")
        if max(_difference(e, c) for e, c in textbook) <= TOLERANCE:
            _verdict(result, "symmetric-convention",
                     f"the claim is G + G' - diag(G), the textbook convention for symmetric {s}; "
                     + why)
            return True
        symmetrised = [(e, (c + c.T) / 2) for e, c in pairs]
        if max(_difference(e, c) for e, c in symmetrised) <= TOLERANCE:
            _verdict(result, "unsymmetrised",
                     "the claim is an unsymmetrised gradient G (not symmetric); its symmetric "
                     "part (G + G')/2 is right: " + why)
            return True
        return False

    def _needs_symmetric(self, symmetric: set[str]) -> list[str]:
        """Square matrix variables that, made symmetric, make the claim right."""
        square = [n for n, (r, c) in self.variables.items()
                  if r == c and r != 1 and n not in symmetric and n != self.d.direction]
        if not square:
            return []
        pairs = self.pairs(symmetric | set(square))
        if not pairs or max(_difference(e, c) for e, c in pairs) > TOLERANCE:
            return []
        needed = [n for n in square if self.pairs(symmetric | set(square) - {n}) and max(
            _difference(e, c) for e, c in self.pairs(symmetric | set(square) - {n})) > TOLERANCE]
        return needed or square

    def _shape_text(self, shape: tuple) -> str:
        back = {v: str(k) for k, v in self.names.items()}
        r, c = (back.get(str(d), str(d)) for d in shape)
        if (r, c) == ("1", "1"):
            return "a scalar"
        if c == "1":
            return f"a vector of length {r}"
        if r == "1":
            return f"a row vector of length {c}"
        return f"{r}×{c}"


def _verdict(result: CheckResult, diagnosis: str, message: str) -> None:
    result.correct = False
    result.diagnosis = diagnosis
    result.message = message


def _difference(e: np.ndarray, c: np.ndarray) -> float:
    if e.shape != c.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(e), initial=0.0)), float(np.max(np.abs(c), initial=0.0)))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(e - c))) / scale


def _factor(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """k with claim = k × derivative at every point (k ≠ 1, 0), else None."""
    ks = []
    for e, c in pairs:
        norm = float(np.sum(e * e))
        if norm == 0.0:
            return None
        ks.append(float(np.sum(e * c)) / norm)
    k = ks[0]
    if k == 0.0 or abs(k - 1.0) <= TOLERANCE:
        return None
    if all(abs(x - k) <= TOLERANCE * abs(k) for x in ks) and all(
            _difference(k * e, c) <= TOLERANCE for e, c in pairs):
        return k
    return None


def _number(k: float) -> str:
    f = Fraction(k).limit_denominator(12)
    if abs(float(f) - k) <= 1e-9 * max(1.0, abs(k)):
        return str(f)
    return f"{k:.6g}"


__all__ = ["CheckResult", "check"]
