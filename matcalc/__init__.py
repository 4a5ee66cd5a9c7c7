"""matcalc — symbolic matrix calculus with derivations, LaTeX and generated NumPy code.

>>> import matcalc
>>> d = matcalc.derive("w'*w where w = sigmoid(X'*a)", wrt="X")
>>> print(d)
2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)
"""
from .api import derive, hessian
from .derivation import Derivation, DerivationSet, Step
from .errors import DifferentiationError, MatcalcError, ParseError, RuleError, ShapeError

__version__ = "0.1.0"
__all__ = [
           "Derivation",
           "DerivationSet",
           "DifferentiationError",
           "MatcalcError",
           "ParseError",
           "RuleError",
           "ShapeError",
           "Step",
           "__version__",
           "derive",
           "hessian",
]
