"""What readers see: the input language (text.py), LaTeX (latex.py) and SymPy (sympy.py)."""
