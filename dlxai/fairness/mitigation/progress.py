"""Progress of a mitigation counted in real fits, with a time estimate, and a way to stop between fits.

Fairlearn's reductions call ``fit`` on copies of the estimator a number of times that only the method knows
(GridSearch: one per grid point; ExponentiatedGradient: one best response per iteration plus the fits its
duality-gap checks need, which vary).  :class:`~dlxai.fairness.mitigation.wrappers.CountedFit` wraps the estimator so that every real ``fit`` (a
DummyClassifier that Fairlearn substitutes when the relabelled target has one class is not counted) reaches
one shared :class:`FitCounter`.  The counter reports ``Fit 3 of 31 · about 40 s left`` to the caller's
``progress(fraction, text)`` and, once the count passes the plan, ``Fit 32 (more than planned)`` instead of a
total that the count has overshot.  The wrapper lives in :mod:`~dlxai.fairness.mitigation.wrappers` (it needs
scikit-learn, which importing the registry does not load).  A ``progress`` that returns False stops the run: the counter raises
:class:`~dlxai.errors.Cancelled` before the next fit (or, for dlxai's torch MLP, after the current epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dlxai.errors import CANCELLED, Cancelled

Progress = Callable[[float, str], "bool | None"]


def about(seconds: float) -> str:
    """``about 40 s left`` / ``about 3 min left``: a rough figure, rounded so that it does not flicker."""
    if seconds < 90:
        return f"about {max(5, int(round(seconds / 5.0)) * 5)} s left"
    return f"about {int(round(seconds / 60.0))} min left"


class FitCounter:
    """Counts real fits against a plan and reports them (see the module doc).  Shared by every copy of the
    wrapped estimator: Fairlearn clones or deep-copies the estimator per fit, and a deep copy of the counter
    is the counter itself."""

    def __init__(self, planned: int, progress: Progress | None, what: str = "Mitigation"):
        self.planned, self.progress, self.what = max(int(planned), 0), progress, what
        self.done = 0  # fits started
        self.first: float | None = None  # when the first fit started

    def __deepcopy__(self, memo):
        return self

    def __getstate__(self):  # a pickled model keeps no reference to a page's progress bar
        return {**self.__dict__, "progress": None}

    def start_fit(self) -> None:
        """Called as a fit starts: counts it, reports, and stops the run if the caller asked."""
        self.done += 1
        if self.first is None:
            self.first = time.perf_counter()
        self.report(0.0)

    def epoch(self, epoch: int, max_epochs: int) -> None:
        """Called after each epoch of a torch fit: a finer report, and a chance to stop within a long fit."""
        self.report(min(epoch / max(max_epochs, 1), 1.0), f"epoch {epoch} of {max_epochs}")

    def text(self, within: float = 0.0, detail: str = "") -> str:
        n = self.done
        parts = [f"Fit {n} of {self.planned}" if n <= self.planned else f"Fit {n} (more than planned)"]
        if detail:
            parts.append(detail)
        finished = n - 1 + within  # fits' worth of work done so far
        if self.first is not None and finished > 0 and n <= self.planned:
            per_fit = (time.perf_counter() - self.first) / finished
            parts.append(about(per_fit * (self.planned - finished)))
        return " · ".join(parts)

    def fraction(self, within: float = 0.0) -> float:
        if self.planned <= 0:
            return 0.0
        return min((self.done - 1 + within) / self.planned, 0.99)

    def report(self, within: float = 0.0, detail: str = "") -> None:
        if self.progress is None:
            return
        if self.progress(self.fraction(within), self.text(within, detail)) is False:
            raise Cancelled(CANCELLED.format(what=self.what, done=max(self.done - 1, 0), planned=self.planned))

    def detach(self) -> None:
        """Forget the caller's callback once the fits are done (the fitted models keep the counter)."""
        self.progress = None
