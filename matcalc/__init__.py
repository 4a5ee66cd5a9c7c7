"""matcalc — symbolic matrix calculus with derivations, LaTeX and generated NumPy code.

>>> import matcalc
>>> d = matcalc.derive("w'*w where w = sigmoid(X'*a)", wrt="X")
>>> print(d)
2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)
"""
from .api import derive, hessian
from .check import CheckResult, check
from .derivation import Derivation, DerivationSet, Step
from .errors import DifferentiationError, MatcalcError, ParseError, RuleError, ShapeError
from .hvp import HessianVectorProduct, hvp

__version__ = "0.1.0"
__all__ = [
           "CheckResult",
           "Derivation",
           "DerivationSet",
           "DifferentiationError",
           "HessianVectorProduct",
           "MatcalcError",
           "ParseError",
           "RuleError",
           "ShapeError",
           "Step",
           "__version__",
           "check",
           "derive",
           "hessian",
           "hvp",
]
