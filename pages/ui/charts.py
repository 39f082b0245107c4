"""Plotly figures built from plain data (no Streamlit calls), shared by pages."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_BATCH_POINTS = 600  # a line of more points looks the same and costs the page (and the job) time


def _batch_x(batches: list[dict]) -> tuple[list[float], list[dict]]:
    """Batch positions in epochs (3.5 = half-way through epoch 4), thinned to at most MAX_BATCH_POINTS.

    Linear in the number of batches: the chart is redrawn every second or two while a job runs,
    and a quadratic version of this (1.1 s for 5,000 batches) held the lock the training thread needs.
    """
    per_epoch: dict[int, int] = {}
    for b in batches:
        per_epoch[b["epoch"]] = max(per_epoch.get(b["epoch"], 0), b["batch"])
    step = max(1, -(-len(batches) // MAX_BATCH_POINTS))
    kept = batches[::step]
    if kept and kept[-1] is not batches[-1]:
        kept.append(batches[-1])
    return [b["epoch"] - 1 + b["batch"] / max(1, per_epoch[b["epoch"]]) for b in kept], kept


def training_figure(epochs: list[dict], batches: list[dict]) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, subplot_titles=("Loss", "Accuracy", "Learning rate"))
    if batches:
        xb, shown = _batch_x(batches)
        fig.add_trace(
            go.Scatter(
                x=xb,
                y=[b["loss"] for b in shown],
                name="train loss (batch)",
                mode="lines",
                line=dict(width=1, color="rgba(99,110,250,0.35)"),
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Scatter(x=xb, y=[b["lr"] for b in shown], name="learning rate", mode="lines", line=dict(color="gray")),
            1,
            3,
        )
    if epochs:
        x = [e["epoch"] for e in epochs]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e["train_loss"] for e in epochs],
                name="train loss",
                mode="lines+markers",
                line=dict(color="#636efa"),
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e["val_loss"] for e in epochs],
                name="val loss",
                mode="lines+markers",
                line=dict(color="#ef553b"),
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e["train_acc"] for e in epochs],
                name="train acc",
                mode="lines+markers",
                line=dict(color="#636efa", dash="dot"),
            ),
            1,
            2,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e["val_acc"] for e in epochs],
                name="val acc",
                mode="lines+markers",
                line=dict(color="#ef553b", dash="dot"),
            ),
            1,
            2,
        )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="e", row=1, col=3)  # 1e-4, not "100µ"
    fig.update_layout(height=340, margin=dict(t=40, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.25))
    return fig


def confusion_figure(classes: list[str], matrix) -> go.Figure:
    """A clickable confusion matrix: square markers so each cell is a selectable point."""
    xs, ys, vals, text = [], [], [], []
    for i, t in enumerate(classes):
        for j, p in enumerate(classes):
            xs.append(p)
            ys.append(t)
            vals.append(int(matrix[i][j]))
            text.append(str(int(matrix[i][j])))
    # the numbers belong to the heatmap: plotly picks light or dark text per cell, and a selection
    # (which fades unselected points of the clickable layer) cannot wash them out
    fig = go.Figure(
        go.Heatmap(
            z=[[int(v) for v in row] for row in matrix],
            x=classes,
            y=classes,
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
            texttemplate="%{z}",
            textfont=dict(size=16),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            text=text,
            marker=dict(symbol="square", size=40, opacity=0.01),
            customdata=list(zip(ys, xs)),
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(
        xaxis_title="predicted",
        yaxis_title="true",
        height=120 + 60 * len(classes),
        margin=dict(t=10, b=10, l=10, r=10),
        yaxis=dict(autorange="reversed"),
        clickmode="event+select",
        dragmode=False,
    )
    return fig


def lr_figure(found) -> go.Figure:
    fig = go.Figure(go.Scatter(x=found.lrs, y=found.losses, mode="lines", name="loss"))
    fig.add_vline(x=found.suggestion, line_dash="dash", annotation_text="suggested")
    fig.update_xaxes(type="log", title_text="learning rate", exponentformat="e")
    fig.update_yaxes(title_text="smoothed loss")
    fig.update_layout(height=280, margin=dict(t=20, b=10, l=10, r=10))


def group_map_figure(xy, group_names: list[str], hover: list[str], doubtful: list[bool], title: str = "") -> go.Figure:
    """The 2-D map of embeddings: one trace per group, doubtful images drawn as crosses.

    ``customdata`` carries each point's index into the grouping so a lasso or box
    selection maps straight back to images.
    """
    fig = go.Figure()
    trace = go.Scattergl if len(group_names) > 2000 else go.Scatter  # WebGL only when SVG would crawl
    for name in dict.fromkeys(group_names):
        idx = [i for i, n in enumerate(group_names) if n == name]
        fig.add_trace(
            trace(
                x=[float(xy[i][0]) for i in idx],
                y=[float(xy[i][1]) for i in idx],
                mode="markers",
                name=name,
                customdata=idx,
                text=[hover[i] for i in idx],
                marker=dict(size=9, symbol=["x" if doubtful[i] else "circle" for i in idx], opacity=0.85),
                hovertemplate="%{text}<extra>" + name.replace("<", "&lt;") + "</extra>",
            )
        )
    fig.update_layout(
        height=460,
        margin=dict(t=30 if title else 10, b=10, l=10, r=10),
        title=title or None,
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
        dragmode="lasso",
        legend=dict(orientation="h", y=-0.05),
    )
    return fig


def k_scores_figure(scores: dict[int, float], chosen: int) -> go.Figure:
    """Silhouette by number of groups, on a numeric axis (2, 3, ... 12, never sorted as text)."""
    ks = sorted(scores)
    fig = go.Figure(
        go.Bar(x=ks, y=[scores[k] for k in ks], marker_color=["#ef553b" if k == chosen else "#636efa" for k in ks])
    )
    fig.update_layout(
        height=220,
        margin=dict(t=10, b=10, l=10, r=10),
        xaxis=dict(title="groups", dtick=1),
        yaxis=dict(title="silhouette"),
    )
    return fig
