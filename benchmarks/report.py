"""The full Adult demo report, timed once the model is trained (target: <= 10 s on 2 CPU cores).

Prints JSON lines {"pages", "report_s", ...}: the first report (Chromium started during training, as the CLI
does), a second one (browser warm, as on the page), a cold one (the browser starts inside the report), and the
browser-free matplotlib fallback.  report_s covers the audit (test-split
predictions, performance, fairness by sex, race and age band with 1,000 bootstrap resamples) and the PDF.
"""

import argparse
import time

from _common import add_load_option, emit, start_load

from dlxai.data import load_adult
from dlxai.models import train_model
from dlxai.report import audit_model, build_report, charts

TARGET_S = 10.0


def one(ds, model, engine: str, label: str) -> None:
    t = time.perf_counter()
    bundle = audit_model(model, ds, rules=["demographic_parity_difference>0.1"])
    audit_s = time.perf_counter() - t
    rep = build_report(bundle, title="Adult demo audit", chart_engine=engine)
    total = time.perf_counter() - t
    emit({"benchmark": "report_adult_demo", "case": label, "pages": rep.pages, "report_s": total,
          "audit_s": audit_s, "pdf_s": rep.seconds, "charts": rep.chart_engines, "target_s": TARGET_S,
          "ratio_to_target": total / TARGET_S})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=None, help="MLP epochs (default: the app's default)")
    add_load_option(ap)
    args = ap.parse_args()
    start_load(args.load)
    charts.warm_up()  # as `python -m dlxai demo --out` does: Chromium starts while the model trains
    ds = load_adult()
    params = {} if args.epochs is None else {"max_epochs": args.epochs}
    model = train_model(ds, "mlp", seed=0, **params)
    one(ds, model, "auto", "first report, browser started during training (the CLI's path)")
    one(ds, model, "auto", "second report, browser warm (the page's path)")
    charts.shutdown()
    one(ds, model, "auto", "cold: the browser starts inside the report")
    one(ds, model, "matplotlib", "no browser (matplotlib fallback)")
    charts.shutdown()


if __name__ == "__main__":
    main()
