"""Explanations: why the model decides (local, global, per group), with the quality of each explanation."""

import streamlit as st

from dlxai.explain.quality import SANITY_MAX_SPEARMAN, completeness, randomisation_unavailable, what_to_try
from dlxai.explain.registry import label
from dlxai.explain.views import compare_importance, explained_output, global_importance, group_comparison, local_view
from dlxai.plots.explain import (
    completeness_hist,
    faithfulness_curves,
    global_bars,
    group_share_bars,
    importance_comparison_bars,
    local_bars,
    randomisation_bars,
)
from ui import state
from ui.errors import error_boundary
from ui.explain import explanation, faithfulness, freeze, method_picker, parameter_widgets, progress_bar, randomisation
from ui.widgets import require_model

st.title("Explanations")
ds, m = require_model()
st.caption(f"Explaining **{m.name}** on the {ds.name} test split. Attributions are computed on the model's "
           "inputs and summed back to your columns (one-hot levels add up).")

method = method_picker(m)
settings_dict = parameter_widgets(method, len(ds.test))
settings = freeze({"method": method, **settings_dict})

result = None
name = label(method)
with error_boundary("The explanation"):
    bar, update = progress_bar(f"Computing {name}…")
    result = explanation(m, m.fingerprint, ds, ds.fingerprint, settings, _progress=update)
    bar.progress(1.0, text=f"Explained {result.n} rows with {name} "
                           f"(target: {settings_dict['target'] if settings_dict['target'] is not None else 'predicted class'}).")
if result is None:
    st.stop()
output = explained_output(m, result)
st.info(f"**Explained output:** {output}.", icon=":material/target:")

# --- the checks first: an explanation that fails one is shown with a warning and what to try, not as a plain result
comp = faith = check = None
with error_boundary("The completeness check"):
    comp = completeness(result) if result.delta is not None else None
with error_boundary("The faithfulness check"):
    faith = faithfulness(m, m.fingerprint, ds, ds.fingerprint, settings)
no_randomisation = randomisation_unavailable(m)
if not no_randomisation:
    with error_boundary("The randomisation check"):
        n_rand = min(100, dict(settings)["n_rows"])
        rbar, rupdate = progress_bar("Randomisation check: re-initialising layers and recomputing…")
        check = randomisation(m, m.fingerprint, ds, ds.fingerprint, settings, n_rand, _progress=rupdate)
        rbar.empty()
state.set_result("explanations", [r for r in (result, comp, faith, check) if r is not None], about=m.fingerprint)

failed = []
if check is not None and not check.passed:
    failed.append(f"randomisation (ρ = {check.final:.2f} ≥ {SANITY_MAX_SPEARMAN}: the ranking barely changes when the "
                  "weights are random)")
if faith is not None and not faith.faithful:
    failed.append(f"faithfulness (deleting the top features first: AUC {faith.deletion_auc:.3f} vs "
                  f"{faith.random_deletion_auc:.3f} for a random order; inserting: {faith.insertion_auc:.3f} vs "
                  f"{faith.random_insertion_auc:.3f})")
if comp is not None and not comp.passed and method != "lrp":  # LRP's biases absorb relevance by design
    failed.append(f"completeness (median error {comp.median:.1%} > {comp.tolerance:.0%})")
if failed:
    st.warning("**This explanation failed its quality checks, so its chart below is not a trustworthy ranking.** "
               "Failed: " + "; ".join(failed) + ".\n\n**What to try:**\n"
               + "\n".join(f"- {t}" for t in what_to_try(method, result.params)), icon=":material/warning:")
elif check is not None and faith is not None:
    st.success(f"This explanation passed its quality checks: it depends on the learned weights (ρ = {check.final:.2f}) "
               f"and removing its top features lowers the score faster than a random order.", icon=":material/check_circle:")

views, quality = st.columns([3, 2], gap="large")

with views:
    st.subheader("Views")
    tab_local, tab_global, tab_groups, tab_models = st.tabs(
        ["Local: one row", "Global", "Groups compared", "Models compared"])
    with tab_local:
        pos = st.slider("Row (position among the explained rows)", 0, result.n - 1, 0, key="ex_row")
        with error_boundary("The local view"):
            lv = local_view(result, int(pos), raw=ds.test)
            proba = float(m.predict_proba(ds.test.loc[[result.row_index[pos]]])[0])
            st.markdown(f"Test row **{result.row_index[pos]}** · P(favourable) = **{proba:.3f}** · "
                        f"explained class **{int(result.target[pos])}**")
            st.plotly_chart(local_bars(lv), key="ex_local_fig")
            with st.expander("Values"):
                st.dataframe(lv, width="stretch", hide_index=True)
    with tab_global:
        with error_boundary("The global view"):
            gi = global_importance(result)
            title = "Global importance: mean |attribution|" + (" (FAILED its quality checks)" if failed else "")
            st.plotly_chart(global_bars(gi, title=title, highlight=state.sensitive()), key="ex_global_fig")
            st.caption(f"Mean |attribution| over {result.n} rows; sensitive attributes in red."
                       + (" The checks above failed: read it with care." if failed else ""))
    with tab_groups:
        options = ds.group_columns()
        default = state.sensitive()[0] if state.sensitive() and state.sensitive()[0] in options else options[0]
        attr = st.selectbox("Compare groups of", options, index=options.index(default), key="ex_group_attr")
        with error_boundary("The group comparison"):
            labels = ds.test.loc[result.row_index, attr]
            cmp = group_comparison(result, labels, attr, data=ds.train)
            st.plotly_chart(group_share_bars(cmp), key="ex_groups_fig")
            c = st.columns(3)
            c[0].metric(f"Largest share on {attr}", f"{cmp.sensitive_share.max():.1%}",
                        help="0% when the model does not see the attribute itself.")
            c[1].metric("Largest share on likely proxies", f"{cmp.proxy_share.max():.1%}",
                        help="Proxies: " + (", ".join(cmp.proxies) or "none above the association threshold"))
            c[2].metric("Rank agreement between groups", f"{cmp.rank_correlation:.2f}",
                        help="Smallest Spearman correlation between two groups' feature rankings (1 = same order).")
            st.caption(f"Likely proxies of {attr}: {', '.join(cmp.proxies) or 'none'} "
                       f"(association ≥ 0.3 on the training rows).")
            st.dataframe(cmp.share.style.format("{:.1%}"), width="stretch")

    with tab_models:  # e.g. before and after mitigation: did the weight on the sensitive attribute drop?
        others = {n: o for n, o in state.models().items() if o is not m and o.dataset == ds.name}
        if not others:
            st.info("Only one model in this session. Mitigate or train another one to compare their explanations.")
        else:
            other = others[st.selectbox("Compare with", list(others), key="ex_other")]
            with error_boundary(f"Explaining {other.name}"):
                res_other = explanation(other, other.fingerprint, ds, ds.fingerprint, settings)
                table = compare_importance({m.name: result, other.name: res_other})
                st.plotly_chart(importance_comparison_bars(table, highlight=state.sensitive()),
                                key="ex_models_fig")
                st.dataframe(table.style.format("{:.1%}"), width="stretch")

with quality:
    st.subheader("Quality of this explanation")
    if result.delta is None:
        st.info(f"{name} defines no completeness error: its attributions need not add up to the change in the "
                "model's output.")
    elif comp is not None:
        st.metric("Conservation error" if method == "lrp" else "Completeness error", f"{100 * comp.median:.2f}%",
                  help="Median over rows of |Σ attribution − (f(x) − f(baseline))| relative to "
                       "|f(x) − f(baseline)|.")
        st.caption("Checked against the explained output named at the top: each row's Σ attribution vs that "
                   f"output's change from the baseline to the row. {comp.share_within:.0%} of rows within {100 * comp.tolerance:g}%; mean {100 * comp.mean:.2f}%."
                   + (" For LRP this is the relevance the layers' biases absorb: information, not a pass/fail check."
                      if method == "lrp" else ""))
        st.plotly_chart(completeness_hist(comp), key="ex_comp_fig")
    if faith is not None:
        c = st.columns(2)
        c[0].metric("Deletion AUC", f"{faith.deletion_auc:.3f}", help="Lower is better: the score falls fast as the "
                    "top features are removed.",
                    delta=f"{faith.deletion_auc - faith.random_deletion_auc:+.3f} vs random", delta_color="inverse")
        c[1].metric("Insertion AUC", f"{faith.insertion_auc:.3f}", help="Higher is better: the score rises fast as "
                    "the top features are added to the baseline.",
                    delta=f"{faith.insertion_auc - faith.random_insertion_auc:+.3f} vs random")
        st.plotly_chart(faithfulness_curves(faith), key="ex_faith_fig")
    if no_randomisation:
        st.info(no_randomisation)
    elif check is not None:
        st.metric("Randomisation ρ", f"{check.final:.2f}",
                  help=f"Spearman ρ between the trained model's ranking and the ranking after re-initialising all "
                       f"layers. Passes below {SANITY_MAX_SPEARMAN}: the ranking then depends on what the model "
                       "learned.")
        if check.passed:
            st.success(f"ρ < {SANITY_MAX_SPEARMAN}: the attributions depend on what the model learned.")
        else:
            st.warning(f"ρ ≥ {SANITY_MAX_SPEARMAN}: the ranking barely changes with random weights, so it reflects the "
                       "inputs more than the model. See what to try at the top of the page.")
        st.plotly_chart(randomisation_bars(check, SANITY_MAX_SPEARMAN), key="ex_rand_fig")
