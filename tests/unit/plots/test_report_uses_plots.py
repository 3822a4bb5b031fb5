"""The PDF draws the pages' own figures: same function, same data, so a chart cannot differ between the two.

The figures the report renders are caught on their way to the renderer and compared, as JSON, with what the
pages' plots functions draw from the same results.
"""

from __future__ import annotations

import pytest

from dlxai.explain.attribution import attribute
from dlxai.explain.views import global_importance
from dlxai.plots.explain import global_bars, group_importance_bars
from dlxai.plots.mitigation import front_figure
from dlxai.report import audit_model, build_report, charts


@pytest.fixture(scope="module")
def drawn(german, german_mlp, front):
    ig = attribute(german_mlp, german.X("test").head(24), method="integrated_gradients", n_steps=16)
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=20, explanations=ig, mitigation=front)
    figures, render = [], charts.render_png

    def caught(fig, *args, **kwargs):
        figures.append(fig)
        return render(fig, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(charts, "render_png", caught)
        rep = build_report(bundle, sections=["explanations", "mitigation"], chart_engine="matplotlib")
    by_title = {f.layout.title.text: f for f in figures}
    return bundle, ig, by_title, rep


def test_pdf_global_importance_is_the_pages_chart(drawn):
    _, ig, by_title, _ = drawn
    page = global_bars(global_importance(ig), top=12, highlight=["sex"])  # the page's call, at the PDF's size
    assert page.layout.title.text in by_title
    assert by_title[page.layout.title.text].to_json() == page.to_json()


def test_pdf_mitigation_front_is_the_pages_chart(drawn, front):
    _, _, by_title, _ = drawn
    page = front_figure(front)  # the page's default axis: the demographic parity difference
    assert page.layout.title.text in by_title
    assert by_title[page.layout.title.text].to_json() == page.to_json()
    assert sorted(x for tr in page.data for x in tr.x) == sorted(front.points["dp"].tolist())


def test_pdf_importance_by_group_uses_the_plots_group_bars(drawn):
    bundle, _, by_title, _ = drawn
    table = bundle.extras["explanation_groups"]["sex"]
    fig = group_importance_bars(table.T, "sex")
    assert by_title[fig.layout.title.text].to_json() == fig.to_json()
    assert [tr.name for tr in fig.data] == [str(g) for g in table.index]


def test_every_chart_was_drawn(drawn):
    assert drawn[3].chart_engines == {"matplotlib": 3}  # global importance, importance by sex, the front
