"""Evaluation of Officine Mezzogiorno: counterfactual and difference-in-differences analysis."""

__version__ = "0.1.0"
