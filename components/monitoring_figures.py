"""Figures of the Monitoring page, from plain data: traffic series over time (from Prometheus), samples
predicted per bucket, jobs by state, and the drift of recent inputs with its thresholds marked
(engine.drift's PSI_MODERATE, PSI_MAJOR, ALPHA and MAJOR_DRIFT_SHARE, drawn as lines)."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.figures import _colours, _layout, _note
from engine import drift as engine_drift

DRIFTED, STABLE = "#d62728", "#9ecae1"
THRESHOLD_LINE = {"color": "#7f7f7f", "dash": "dash", "width": 1}
STATE_COLOURS = {"queued": "#9ecae1", "running": "#3182bd", "done": "#31a354", "failed": "#d62728",
                 "cancelled": "#7f7f7f"}
UNIT_AXES = {"requests/s": "requests per second", "s": "seconds", "share": "share of requests"}


def traffic_figure(title: str, unit: str, series: Sequence[Mapping]) -> go.Figure:
    """One line per series over time. `series`: {"name", "times" (datetimes), "values" (None: no value)}."""
    fig = go.Figure()
    for item in series:
        fig.add_trace(go.Scatter(x=list(item["times"]), y=list(item["values"]), mode="lines", name=item["name"],
                                 connectgaps=False,
                                 hovertemplate=f"%{{x}}<br>%{{y:.3g}} {unit}<extra>{item['name']}</extra>"))
    _layout(fig, title, "time (UTC)", UNIT_AXES.get(unit, unit), height=300, showlegend=len(series) > 1)
    if unit == "share":
        fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    else:
        fig.update_yaxes(rangemode="tozero")
    values = [v for item in series for v in item["values"] if v is not None]
    if not values:
        _note(fig, "no requests in this window" if series else "no data in this window")
    return fig


def predictions_figure(counts: Sequence[Mapping], title: str, subtitle: str, bucket: str) -> go.Figure:
    """Stacked bars of samples per bucket: one colour per model version and class (`what`; the model
    version alone where `what` is empty). `counts`: {"bucket", "model", "what", "samples"}."""
    stacks: dict[str, dict] = defaultdict(dict)
    for row in counts:
        name = f"{row['model']} · {row['what']}" if row["what"] else row["model"]
        stacks[name][row["bucket"]] = stacks[name].get(row["bucket"], 0) + int(row["samples"])
    colours = _colours(sorted(stacks))
    fig = go.Figure()
    for name in sorted(stacks):
        buckets = sorted(stacks[name])
        fig.add_trace(go.Bar(x=buckets, y=[stacks[name][b] for b in buckets], name=name,
                             marker={"color": colours[name]},
                             hovertemplate=f"%{{x}}<br>%{{y}} samples<extra>{name}</extra>"))
    _layout(fig, title, f"{bucket} (UTC)", "samples", subtitle=subtitle, barmode="stack", height=380,
            legend={"orientation": "h"})
    fig.update_yaxes(rangemode="tozero")
    if not stacks:
        _note(fig, "nothing predicted in this window")
    return fig


def jobs_figure(prediction_runs: Mapping[str, int], notebook_runs: Mapping[str, int], subtitle: str) -> go.Figure:
    """Prediction runs and notebook runs by state: one bar group per kind, one colour per state."""
    kinds = {"prediction runs": prediction_runs, "notebook runs": notebook_runs}
    states = list(dict.fromkeys([*prediction_runs, *notebook_runs]))
    fig = go.Figure()
    for state in states:
        fig.add_trace(go.Bar(x=list(kinds), y=[kinds[k].get(state, 0) for k in kinds], name=state,
                             marker={"color": STATE_COLOURS.get(state, "#636363")},
                             hovertemplate=f"%{{x}}: %{{y}} {state}<extra></extra>"))
    _layout(fig, "Background jobs by state", "", "jobs", subtitle=subtitle, barmode="group", height=340)
    fig.update_yaxes(rangemode="tozero")
    if not any(v for counts in kinds.values() for v in counts.values()):
        _note(fig, "no jobs in this window")
    return fig


def _minus_log10(p: float | None) -> float | None:
    return None if p is None else -math.log10(max(p, 1e-300))


def drift_features_figure(model: str, verdict: str, top: Sequence[Mapping], *,
                          psi_moderate: float = engine_drift.PSI_MODERATE, psi_major: float = engine_drift.PSI_MAJOR,
                          alpha: float = engine_drift.ALPHA) -> go.Figure:
    """The most drifted features of one model: their PSI (left) and adjusted p-value as -log10 (right), red
    where the feature drifts, with the PSI thresholds and the significance level drawn as dashed lines.
    `top`: {"feature", "kind", "psi", "p_adjusted", "drifted"}, most drifted first."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04, column_widths=[0.55, 0.45],
                        subplot_titles=("Population stability index (PSI)", "-log10 adjusted p-value"))
    features = [row["feature"] for row in top]
    for drifted, colour, label in ((True, DRIFTED, "drifts"), (False, STABLE, "does not drift")):
        rows = [row for row in top if bool(row["drifted"]) == drifted]
        if not rows:
            continue
        names = [row["feature"] for row in rows]
        fig.add_trace(go.Bar(x=[row["psi"] for row in rows], y=names, orientation="h", name=label,
                             legendgroup=label, marker={"color": colour}, customdata=[row["kind"] for row in rows],
                             hovertemplate="<b>%{y}</b> (%{customdata})<br>PSI %{x:.3f}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Bar(x=[_minus_log10(row["p_adjusted"]) for row in rows], y=names, orientation="h",
                             name=label, legendgroup=label, showlegend=False, marker={"color": colour},
                             customdata=[row["p_adjusted"] for row in rows],
                             hovertemplate="<b>%{y}</b><br>adjusted p %{customdata:.3g}<extra></extra>"),
                      row=1, col=2)
    for value, words in ((psi_moderate, "moderate"), (psi_major, "major")):
        fig.add_vline(value, line=THRESHOLD_LINE, row=1, col=1, annotation_text=f"PSI {value} ({words})",
                      annotation_font_size=10)
    fig.add_vline(-math.log10(alpha), line=THRESHOLD_LINE, row=1, col=2, annotation_text=f"p = {alpha}",
                  annotation_font_size=10)
    _layout(fig, f"{model}: most drifted features", "", "feature", barmode="overlay",
            subtitle=(f"Verdict: {verdict}. A feature drifts (red) when its adjusted p-value is below {alpha} "
                      f"and its PSI is at least {psi_moderate}."),
            height=max(320, 150 + 24 * len(top)), legend={"orientation": "h"})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=features, autorange="reversed")
    if not top:
        _note(fig, "no features compared")
    return fig


def drift_share_figure(reports: Sequence[Mapping], *, major_share: float = engine_drift.MAJOR_DRIFT_SHARE) -> go.Figure:
    """The share of features that drift per model version, with the share from which drift is major drawn.
    `reports`: {"model" (name:version), "share" (None: nothing compared), "verdict"}."""
    shown = [r for r in reports if r["share"] is not None]
    colours = {engine_drift.NO_DRIFT: "#31a354", engine_drift.SOME_DRIFT: "#fd8d3c", engine_drift.MAJOR_DRIFT: DRIFTED}
    fig = go.Figure(go.Bar(x=[r["model"] for r in shown], y=[r["share"] for r in shown],
                           marker={"color": [colours.get(r["verdict"], "#636363") for r in shown]},
                           customdata=[r["verdict"] for r in shown],
                           hovertemplate="%{x}<br>%{y:.1%} of features drift (%{customdata})<extra></extra>"))
    fig.add_hline(major_share, line=THRESHOLD_LINE, annotation_text=f"major drift from {major_share:.0%}",
                  annotation_font_size=10)
    _layout(fig, "Share of features drifting, by model", "model version", "share of features", height=320,
            subtitle="Recent uploads against the version's training samples; green none, orange some, red major.",
            showlegend=False)
    fig.update_yaxes(tickformat=".0%", range=[0, max([major_share * 1.5, *[r["share"] * 1.1 for r in shown]])])
    if not shown:
        _note(fig, "no recent uploads to compare")
    return fig
