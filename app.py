"""dlxai dashboard entry point: page config, navigation, the active data and model in the sidebar."""

import streamlit as st

st.set_page_config(page_title="dlxai — explainability & fairness audits", page_icon=":material/balance:", layout="wide")

from ui import jobs, state  # noqa: E402
from ui.cache import demo_dataset  # noqa: E402
from ui.upload import prestart_model_worker  # noqa: E402
from ui.widgets import sidebar_status  # noqa: E402

# every page, in menu order; pages/ is not auto-discovered under st.navigation
PAGES = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/data_model.py", title="Data & model", icon=":material/model_training:"),
        st.Page("pages/upload.py", title="Upload", icon=":material/upload_file:"),
    ],
    "Audit": [
        st.Page("pages/fairness.py", title="Fairness", icon=":material/balance:"),
        st.Page("pages/mitigation.py", title="Mitigation", icon=":material/build:"),
        st.Page("pages/image_audit.py", title="Image audit", icon=":material/image_search:"),
    ],
    "Explain": [st.Page("pages/explanations.py", title="Explanations", icon=":material/search:"),
                st.Page("pages/images.py", title="Images", icon=":material/image:"),
                st.Page("pages/counterfactuals.py", title="Counterfactuals", icon=":material/swap_horiz:"),
                st.Page("pages/surrogate.py", title="Surrogate tree", icon=":material/account_tree:")],
    "Report": [st.Page("pages/report.py", title="Report", icon=":material/description:")],
    "Lessons": [st.Page("pages/lessons.py", title="All lessons", icon=":material/school:"),
                st.Page("pages/lesson_bias.py", title="Bias in, bias out", icon=":material/looks_one:"),
                st.Page("pages/lesson_blindness.py", title="Blindness is not fairness", icon=":material/looks_two:"),
                st.Page("pages/lesson_trust.py", title="Which explanation can you trust?", icon=":material/looks_3:"),
                st.Page("pages/lesson_price.py", title="The price of fairness", icon=":material/looks_4:"),
                st.Page("pages/lesson_recourse.py", title="What would it take?", icon=":material/looks_5:"),
                st.Page("pages/lesson_clever_hans.py", title="Clever Hans: the shortcut", icon=":material/looks_6:")],
}

prestart_model_worker()  # uploaded ONNX/TorchScript models run in sandboxed workers forked from it
if state.dataset() is None:  # a bundled demo is ready from the first page on
    state.set_dataset(demo_dataset("adult"), "adult")

jobs.prestart()  # the job runner's spare process imports torch before the first job, in the background
nav = st.navigation(PAGES, expanded=True)  # every section shown: Lessons must not hide behind "View more"
status = st.sidebar.empty()
# Drawn before the page, because st.stop() in a page ends the run at the next element (a `finally` draws
# nothing), and again after it, so a dataset or model the page just made active shows.
sidebar_status(status)
nav.run()
sidebar_status(status)
