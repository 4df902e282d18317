"""Accuracy vs token budget, one line per checkpoint and one panel per task, as a self-explaining PNG.

matplotlib is imported inside the function (headless Agg backend), so importing this module is free.
"""

from __future__ import annotations

from pathlib import Path

from harness.comparison import Selection, budget_name, task_name, tasks_of


def accuracy_vs_budget(selections: list[Selection], path: str | Path) -> Path:
    """Write the plot to `path`: avg@n (%) against budget, shaded 95 % CI, requested budgets marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = tasks_of(selections)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.5), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        for s in selections:
            rows = sorted((r for (t, _), r in s.rows.items() if t == task), key=lambda r: r["budget"])
            if not rows:
                continue
            x = [r["budget"] for r in rows]
            y = [100 * r["avg"] for r in rows]
            n = max(r["n"] or 0 for r in rows)
            (line,) = ax.plot(x, y, "-", label=f"{s.label} (n={n})")
            if all(r["ci_lo"] is not None for r in rows):
                ax.fill_between(
                    x,
                    [100 * r["ci_lo"] for r in rows],
                    [100 * r["ci_hi"] for r in rows],
                    color=line.get_color(),
                    alpha=0.15,
                    linewidth=0,
                )
            asked = [r for r in rows if not r["curve_point"]]
            ax.plot([r["budget"] for r in asked], [100 * r["avg"] for r in asked], "o", color=line.get_color())
            for r in asked:
                ax.annotate(
                    f"{100 * r['avg']:.1f}",
                    (r["budget"], 100 * r["avg"]),
                    textcoords="offset points",
                    xytext=(0, 7),
                    ha="center",
                    fontsize=8,
                )
        budgets = sorted({r["budget"] for s in selections for (t, _), r in s.rows.items() if t == task})
        problems = max((r["problems"] or 0 for s in selections for (t, _), r in s.rows.items() if t == task), default=0)
        ax.set_title(f"{task_name(task)} ({problems} problems)")
        ax.set_xlabel("token budget (max response tokens)")
        if len(budgets) <= 8:
            ax.set_xticks(budgets, [budget_name(b) for b in budgets])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[0][0].set_ylabel("avg@n accuracy (%)")
    fig.suptitle(
        "Accuracy vs token budget (dots: requested budgets; band: 95% bootstrap CI over problems)", fontsize=10
    )
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Lay out, write a PNG (creating its folder) and free the figure: every plot of ours ends here."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
