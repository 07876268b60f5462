"""Figures from arrays: each function returns a matplotlib figure in the book's seaborn style."""
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")


def curves(x, series, *, xlabel, ylabel, title=None, ylim=None, xlim=None, ax=None):
    """Line plot of {label: (mean, std)} against x, with a ±std band per line."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4.4))
    for (label, (mean, std)), color in zip(series.items(), sns.color_palette("tab10", len(series))):
        mean, std = np.asarray(mean), np.asarray(std)
        ax.plot(x, mean, marker="o", markersize=3, label=label, color=color)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if xlim is not None:  # set only when asked: set_xlim/set_ylim switch autoscaling off
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.legend(fontsize="small")
    return fig


def image_row(images, titles, *, cmaps=None, suptitle=None):
    """A row of 28x28 images with a title each; cmaps per image (gray for pixels, a diverging map for perturbations)."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.9))
    for ax, image, title, cmap in zip(axes, images, titles, cmaps or ["gray"] * len(images)):
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
    """Calibration plots: one panel per {label: (confidence, accuracy, count)}, accuracy against confidence."""
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, (label, (confidence, bin_accuracy, count)) in zip(axes, panels.items()):
        filled = np.asarray(count) > 0
        ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="ideal")
        ax.plot(np.asarray(confidence)[filled], np.asarray(bin_accuracy)[filled], marker="o", label="model")
        ax.set(title=label, xlim=(0, 1), ylim=(0, 1))
    for ax in axes[len(panels):]:
        ax.axis("off")
    for ax in axes[::ncols]:
        ax.set_ylabel("accuracy")
    for ax in axes[-ncols:]:
        ax.set_xlabel("confidence")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
