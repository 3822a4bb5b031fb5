"""AppTest of the Report page: build the PDF from a trained model, thresholds, sections, a bad rule."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.app.conftest import errors_of
from tests.app.conftest import with_model as _with_model


def test_build_and_download_the_report(app, german_tiny):
    from ui import state

    at = _with_model(app, german_tiny).switch_page("pages/report.py").run()
    assert not at.exception, at.exception
    at.text_input(key="rep_title").set_value("Credit audit Q3")
    at.text_input(key="rep_org").set_value("Example Bank")
    at.number_input(key="rep_boot").set_value(100)
    at.selectbox(key="rep_engine").set_value("matplotlib")
    at.button(key="rep_build").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at)
    ready = [s.value for s in at.success] + [e.value for e in at.error]
    assert any(v.startswith("Report ready:") for v in ready), ready
    result = at.session_state[state.REPORT].result
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(result.pdf)).pages)
    assert "Credit audit Q3" in text and "Example Bank" in text and "demographic_parity_difference>0.1" in text
    assert f"{result.pages} pages" in ready[0]
    assert at.get("download_button"), "no download button"
    # the checks table the page shows is the report's
    shown = at.dataframe[0].value
    assert list(shown["Rule"])[0] == "Demographic parity difference > 0.1"  # human names; the manifest keeps the rule


def test_a_malformed_rule_is_a_user_error_and_keeps_the_page(app, german_tiny):
    at = _with_model(app, german_tiny).switch_page("pages/report.py").run()
    at.text_area(key="rep_extra").set_value("accuracy >> 0.8")
    at.selectbox(key="rep_engine").set_value("matplotlib")
    at.button(key="rep_build").click().run()
    assert not at.exception
    assert any("Cannot read the threshold rule" in e for e in errors_of(at))
    assert at.button(key="rep_build")  # the page is still there


def test_results_left_by_other_pages_fill_their_sections(app, german_tiny):
    from dlxai.explain.attribution import attribute
    from ui import state

    ds, m = german_tiny
    ig = attribute(m, ds.X("test").head(10), method="integrated_gradients", n_steps=8)
    at = _with_model(app, german_tiny)
    at.session_state[state.RESULTS] = {"explanations": (ig, m.fingerprint)}
    at = at.switch_page("pages/report.py").run()
    assert any("included from this session" in c.value for c in at.caption)
    at.multiselect(key="rep_sections").set_value(["summary", "explanations"])
    at.selectbox(key="rep_engine").set_value("matplotlib")
    at.number_input(key="rep_boot").set_value(0)
    at.button(key="rep_build").click().run()
    assert not at.exception, at.exception
    result = at.session_state[state.REPORT].result
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(result.pdf)).pages)
    assert "Global importance (Integrated gradients, 10 rows)" in text and "Importance by sex" in text
    assert result.missing == ()


def test_the_report_has_a_section_for_every_explanation_method_run(app, german_tiny):
    from dlxai.explain.registry import label
    from ui import state

    at = _with_model(app, german_tiny).switch_page("pages/explanations.py").run()
    at.selectbox(key="ex_method").set_value("saliency").run()
    at.selectbox(key="ex_method").set_value("integrated_gradients").run()
    assert not at.exception, at.exception
    at.switch_page("pages/report.py").run()
    at.multiselect(key="rep_sections").set_value(["explanations"])
    at.selectbox(key="rep_engine").set_value("matplotlib")
    at.button(key="rep_build").click().run()
    assert not at.exception, at.exception
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(at.session_state[state.REPORT].result.pdf)).pages)
    for method in ("saliency", "integrated_gradients"):
        assert f"Example local explanations ({label(method)})" in text, method
