"""The code generator: module.py builds the function around the expressions (names,
temporaries, out=); code.py decides each operation (chain.py: product order and forms;
inplace.py: results written into out=).
"""
