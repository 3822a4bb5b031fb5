"""Result objects -> plotly figures: the only place the project draws.

One module per domain (``fairness``, ``performance``, ``explain``, ``images``, ``counterfactuals``, ``mitigation``),
one function per chart, all styled by :mod:`dlxai.plots.style`.  The pages show these figures and the PDF report
renders the very same ones (:mod:`dlxai.report.charts`), so a chart cannot differ between the two.  The engine
(``dlxai.data``, ``models``, ``explain``, ``fairness``) never imports this package; it imports the engine's result
types.  Import the submodule you need: this file imports nothing, so ``import dlxai.plots`` stays free of plotly.
"""
