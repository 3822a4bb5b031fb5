"""dlxai: explainability and fairness audits for deep-learning (and other) models.

The engine is a plain Python library.  It never imports streamlit, and importing it is cheap:
heavy dependencies (torch, captum, shap, fairlearn) are imported where they are used.
"""

from dlxai.errors import DlxaiError, UnsupportedModelError, UserInputError

__version__ = "0.1.0"

__all__ = ["DlxaiError", "UnsupportedModelError", "UserInputError", "__version__"]
