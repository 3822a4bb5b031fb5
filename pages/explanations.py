"""Explanations: why the model decides (local, global, per group), with the quality of each explanation."""

import streamlit as st

from dlxai.explain.quality import SANITY_MAX_SPEARMAN, completeness
from dlxai.explain.views import compare_importance, global_importance, group_comparison, local_view
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
with error_boundary("The explanation"):
    bar, update = progress_bar(f"Computing {method.replace('_', ' ')}…")
    result = explanation(m, m.fingerprint, ds, ds.fingerprint, settings, _progress=update)
    bar.progress(1.0, text=f"Explained {result.n} rows with {method.replace('_', ' ')} "
                           f"(target: {settings_dict['target'] if settings_dict['target'] is not None else 'predicted class'}).")
if result is None:
    st.stop()
state.set_result("explanations", result, about=m.fingerprint)

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
            st.plotly_chart(global_bars(gi, highlight=state.sensitive()), key="ex_global_fig")
            st.caption(f"Mean |attribution| over {result.n} rows; sensitive attributes in red.")
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
    with error_boundary("The completeness check"):
        if result.delta is None:
            st.info(f"{method.replace('_', ' ')} defines no completeness error: its attributions need not add up "
                    "to the change in the model's output.")
        else:
            comp = completeness(result)
            st.metric("Completeness error (median)", f"{100 * comp.median:.2f}%",
                      help="|Σ attribution − (f(x) − f(baseline))| relative to |f(x) − f(baseline)|.")
            st.caption(f"{comp.share_within:.0%} of rows within {100 * comp.tolerance:g}%; mean {100 * comp.mean:.2f}%.")
            st.plotly_chart(completeness_hist(comp), key="ex_comp_fig")
    with error_boundary("The faithfulness check"):
        f = faithfulness(m, m.fingerprint, ds, ds.fingerprint, settings)
        c = st.columns(2)
        c[0].metric("Deletion AUC (lower is better)", f"{f.deletion_auc:.3f}",
                    delta=f"{f.deletion_auc - f.random_deletion_auc:+.3f} vs random", delta_color="inverse")
        c[1].metric("Insertion AUC (higher is better)", f"{f.insertion_auc:.3f}",
                    delta=f"{f.insertion_auc - f.random_insertion_auc:+.3f} vs random")
        st.plotly_chart(faithfulness_curves(f), key="ex_faith_fig")
    with error_boundary("The randomisation check"):
        if m.kind != "mlp" and getattr(m.estimator, "module_", None) is None:
            st.info("The randomisation check re-initialises a network's layers; this model has none.")
        else:
            n_rand = min(100, dict(settings)["n_rows"])
            rbar, rupdate = progress_bar("Re-initialising layers and recomputing…")
            check = randomisation(m, m.fingerprint, ds, ds.fingerprint, settings, n_rand, _progress=rupdate)
            rbar.empty()
            st.metric("Randomisation check: Spearman ρ after re-initialising all layers", f"{check.final:.2f}")
            if check.passed:
                st.success(f"ρ < {SANITY_MAX_SPEARMAN}: the attributions depend on what the model learned.")
            else:
                st.warning(f"ρ ≥ {SANITY_MAX_SPEARMAN}: the ranking barely changes with random weights, so it "
                           "reflects the inputs more than the model. Read it with care.")
            st.plotly_chart(randomisation_bars(check, SANITY_MAX_SPEARMAN), key="ex_rand_fig")
