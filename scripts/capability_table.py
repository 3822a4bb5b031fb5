"""The capability matrix as a Markdown table: every kind of model the app loads or makes (built by the real
exporters on German credit, as tests/unit/test_capability_matrix.py builds them) × every capability, ✓ where the app
offers it (the matrix test runs each of those) or the exact reason the user reads where it does not.

    python scripts/capability_table.py > capabilities.md
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from dlxai.data import load_german
    from dlxai.fairness.offers import labels, offers
    from tests.unit.models.exporters import KINDS, Zoo

    warnings.simplefilter("ignore")
    zoo = Zoo(load_german())
    try:
        rows = {kind: offers(zoo[kind], ["sex"]) for kind in KINDS}
    finally:
        zoo.close()
    reasons: dict[str, int] = {}
    names = labels()
    print("| Capability | " + " | ".join(KINDS) + " |")
    print("|---" * (len(KINDS) + 1) + "|")
    for key, name in names.items():
        cells = []
        for kind in KINDS:
            why = rows[kind][key]
            cells.append("✓" if not why else f"[{reasons.setdefault(why, len(reasons) + 1)}]")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nReasons shown to the user (sensitive column for mitigation: sex):\n")
    for why, n in reasons.items():
        print(f"{n}. {why}.")


if __name__ == "__main__":
    main()
