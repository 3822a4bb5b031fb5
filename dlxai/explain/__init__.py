"""Explanations: attribution methods with quality checks, counterfactuals, surrogate trees."""
