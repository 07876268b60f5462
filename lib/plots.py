"""Figures from arrays: each function returns a matplotlib figure in the
book's seaborn style."""

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")


def curves(x, series, *, xlabel, ylabel, title=None, ylim=None, xlim=None, ax=None):
    """Line plot of {label: (mean, std)} against x, with a ±std band per line."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4.4))
    for (label, (mean, std)), color in zip(
        series.items(), sns.color_palette("tab10", len(series)), strict=True
    ):
        mean, std = np.asarray(mean), np.asarray(std)
        ax.plot(x, mean, marker="o", markersize=3, label=label, color=color)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    # set only when asked: set_xlim/set_ylim switch autoscaling off
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.legend(fontsize="small")
    return fig


def image_row(images, titles, *, cmaps=None, suptitle=None):
    """A row of 28x28 images with a title each; cmaps per image (gray for pixels, a
    diverging map for perturbations)."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.9))
    for ax, image, title, cmap in zip(
        axes, images, titles, cmaps or ["gray"] * len(images), strict=True
    ):
        image = np.asarray(image).squeeze()
        limit = np.abs(image).max() or 1.0
        vmin, vmax = (-limit, limit) if cmap != "gray" else (0, 1)
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize="small")
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def reliability_grid(panels, *, ncols=4, title=None):
    """Calibration plots: one panel per {label: (confidence, accuracy, count)},
    accuracy against confidence."""
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), sharex=True, sharey=True
    )
    axes = np.atleast_1d(axes).ravel()
    # The grid may hold more axes than panels: the spare ones are turned off below.
    for ax, (label, (confidence, bin_accuracy, count)) in zip(
        axes, panels.items(), strict=False
    ):
        filled = np.asarray(count) > 0
        ax.plot(
            [0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="ideal"
        )
        ax.plot(
            np.asarray(confidence)[filled],
            np.asarray(bin_accuracy)[filled],
            marker="o",
            label="model",
        )
        ax.set(title=label, xlim=(0, 1), ylim=(0, 1))
    for ax in axes[len(panels) :]:
        ax.axis("off")
    for ax in axes[::ncols]:
        ax.set_ylabel("accuracy")
    for ax in axes[-ncols:]:
        ax.set_xlabel("confidence")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


VERDICT_COLORS = {
    "reproduced": "tab:green",
    "partly": "tab:orange",
    "not reproduced": "tab:red",
    "undecided": "tab:gray",
}
CAUSE_MARKERS = {
    None: "o",
    "budget": "s",
    "reading": "D",
    "paper": "^",
    "noise": "P",
    "open": "X",
}


def paper_vs_ours(claims, *, tolerance, relative, title=None, ax=None):
    """Ours (mean ± std) against the paper's value for numeric claims [{"reported",
    "ours_mean", "ours_std", "verdict", "cause"}], with the y = x line and the band of
    the verdict's tolerance (relative: a fraction)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.8, 4.6))
    # a claim the run could not measure (ours NaN) has no point to draw
    claims = [c for c in claims if np.isfinite(c["ours_mean"])] or claims[:0]
    if not claims:
        ax.set(title=title)
        ax.axis("off")
        return fig
    reported = np.array([c["reported"] for c in claims], dtype=float)
    ours = np.array([c["ours_mean"] for c in claims], dtype=float)
    low, high = min(reported.min(), ours.min()), max(reported.max(), ours.max())
    pad = 0.05 * (high - low or 1.0)
    line = np.linspace(low - pad, high + pad, 200)
    band = tolerance * np.abs(line) if relative else np.full_like(line, tolerance)
    ax.fill_between(
        line,
        line - 2 * band,
        line + 2 * band,
        color="tab:orange",
        alpha=0.08,
        linewidth=0,
        label="partly band",
    )
    ax.fill_between(
        line,
        line - band,
        line + band,
        color="tab:green",
        alpha=0.15,
        linewidth=0,
        label="tolerance band",
    )
    ax.plot(line, line, color="gray", linestyle="--", linewidth=1, label="y = x")
    for c in claims:
        ax.errorbar(
            c["reported"],
            c["ours_mean"],
            yerr=c["ours_std"],
            color=VERDICT_COLORS[c["verdict"]],
            marker=CAUSE_MARKERS.get(c.get("cause"), "o"),
            markersize=6,
            linestyle="none",
            alpha=0.85,
        )
    ax.set(
        xlim=(line[0], line[-1]),
        ylim=(line[0], line[-1]),
        xlabel="paper",
        ylabel="ours",
        title=title,
    )
    ax.set_aspect("equal")
    return fig


def verdict_legend(fig):
    """One legend for a figure of paper_vs_ours panels: colour = verdict,
    marker = cause."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=color, marker="o", linestyle="none", label=verdict)
        for verdict, color in VERDICT_COLORS.items()
    ]
    handles += [
        Line2D(
            [],
            [],
            color="black",
            marker=marker,
            linestyle="none",
            label="no cause given" if cause is None else f"cause: {cause}",
        )
        for cause, marker in CAUSE_MARKERS.items()
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=5, fontsize="small", frameon=False
    )
    return fig


def budget_trends(panels, *, xlabel="epoch", ylabels=None, ncols=3, title=None):
    """The budget trend: one panel per claim metric, {title: {label: (amounts, values,
    paper's value)}}, ours along training as a line per model and the paper's value
    as a dashed line of the same colour; ylabels per panel title."""
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False
    )
    axes = axes.ravel()
    for ax, (name, lines) in zip(axes, panels.items(), strict=False):
        colors = sns.color_palette("tab10", len(lines))
        for (label, (amounts, values, paper)), color in zip(
            lines.items(), colors, strict=True
        ):
            ax.plot(amounts, values, marker="o", markersize=3, color=color, label=label)
            ax.axhline(paper, color=color, linestyle="--", linewidth=1)
        ax.set(title=name, xlabel=xlabel, ylabel=(ylabels or {}).get(name, ""))
        ax.set_xscale("log")
        if lines:
            ax.legend(fontsize="x-small")
    for ax in axes[len(panels) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
