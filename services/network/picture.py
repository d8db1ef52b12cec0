"""A picture of the programme's network for its lead: the largest components with
who mentors whom, the platform's own connections they grew from, which
introductions were made, accepted or declined, the busiest introducers by name; and
below, ties and accepted introductions per week."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

LineStyle = Literal["solid", "dashed", "dotted"]
# kind -> (colour, line style, width, alpha, label); drawn in this order, so the
# platform's many connections lie underneath what the programme made of them.
EDGE_STYLES: dict[str, tuple[str, LineStyle, float, float, str]] = {
    "follows": ("#d9d9d9", "solid", 0.4, 0.5, "follows (platform)"),
    "same_group": ("#c7b8e0", "solid", 0.6, 0.6, "same meetup group (platform)"),
    "colleague": ("#a6a6a6", "solid", 0.7, 0.7, "colleagues (platform)"),
    "connection": ("#bdbdbd", "solid", 0.6, 0.6, "other platform connection"),
    "alumni": ("#6baed6", "dashed", 1.0, 0.8, "ended mentorship (alumni)"),
    "mentorship": ("#1f77b4", "solid", 1.8, 0.9, "mentorship"),
    "declined": ("#d62728", "dotted", 1.0, 0.7, "introduction declined"),
    "suggested": ("#ff7f0e", "dashed", 1.2, 0.8, "introduction suggested, open"),
    "introduced": ("#2ca02c", "solid", 2.6, 0.95, "introduction accepted by both"),
}
# How strongly each kind pulls its two people together in the layout.
LAYOUT_WEIGHT = {"mentorship": 3.0, "introduced": 2.0, "alumni": 1.5, "colleague": 1.0,
                 "same_group": 0.5, "connection": 0.5, "follows": 0.2}  # fmt: skip
MENTOR, MENTEE, OTHER = "#6a3d9a", "#fdbf6f", "#cccccc"
LABELLED_INTRODUCERS = 6
MAX_PEOPLE = 450  # components are drawn largest first until this many people


@dataclass(frozen=True)
class Week:
    index: int
    mentorships: int  # started that week
    introductions: int  # accepted by both that week
    ties: int  # ties of any kind at the end of the week


@dataclass(frozen=True)
class NetworkPicture:
    mentors: frozenset[str]
    mentees: frozenset[str]
    edges: Sequence[tuple[str, str, str]]  # (a, b, kind from EDGE_STYLES)
    title: str
    introducers: Counter[str] = field(default_factory=Counter)
    weeks: Sequence[Week] = ()


def largest_components(edges: Sequence[tuple[str, str, str]], limit: int) -> nx.Graph:
    g = nx.Graph()
    for a, b, kind in edges:
        weight = LAYOUT_WEIGHT.get(kind, 0.0)
        if g.has_edge(a, b):
            g[a][b]["weight"] = max(g[a][b]["weight"], weight)
        else:
            g.add_edge(a, b, weight=weight)
    kept: set[str] = set()
    for component in sorted(nx.connected_components(g), key=len, reverse=True):
        if kept and len(kept) + len(component) > limit:
            break
        kept |= component
    return g.subgraph(kept).copy()


def draw(picture: NetworkPicture, path: Path, seed: int = 7) -> Path:
    fig, (ax, weekly) = plt.subplots(
        2, 1, figsize=(14, 17), dpi=100, gridspec_kw={"height_ratios": [3.2, 1]}
    )
    ax.set_axis_off()
    ax.set_title(picture.title, fontsize=14)
    g = largest_components(picture.edges, MAX_PEOPLE)
    if g.number_of_nodes():
        pos = nx.spring_layout(
            g, weight="weight", seed=seed, k=2.2 / max(1, len(g)) ** 0.5, iterations=120
        )
        for kind, (colour, style, width, alpha, _) in EDGE_STYLES.items():
            shown = [(a, b) for a, b, k in picture.edges if k == kind and a in g and b in g]
            if shown:
                nx.draw_networkx_edges(g, pos, edgelist=shown, edge_color=colour, style=style,
                                       width=width, alpha=alpha, ax=ax)  # fmt: skip
        made = Counter(n for a, b, k in picture.edges if k in ("mentorship", "introduced")
                       for n in (a, b))  # fmt: skip
        colours = [
            MENTOR if n in picture.mentors else MENTEE if n in picture.mentees else OTHER for n in g
        ]
        sizes = [25 + 22 * made[n] for n in g]
        nx.draw_networkx_nodes(g, pos, node_color=colours, node_size=sizes, linewidths=0.4,
                               edgecolors="#333333", ax=ax)  # fmt: skip
        busiest = [p for p, _ in picture.introducers.most_common(LABELLED_INTRODUCERS) if p in g]
        labels = {p: f"{p}\n{picture.introducers[p]} introductions" for p in busiest}
        nx.draw_networkx_labels(g, pos, labels=labels, font_size=8, font_weight="bold",
                                bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none",
                                      "pad": 1.0}, ax=ax)  # fmt: skip
    handles = [
        Line2D([0], [0], color=c, linestyle=s, linewidth=max(w, 1.5), label=label)
        for c, s, w, _, label in EDGE_STYLES.values()
    ] + [
        Line2D([0], [0], marker="o", color="w", markerfacecolor=c, markeredgecolor="#333333",
               markersize=9, label=label)
        for c, label in ((MENTOR, "mentor"), (MENTEE, "mentee"), (OTHER, "other"))
    ]  # fmt: skip
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9,
              framealpha=0.9)  # fmt: skip
    ax.text(1.0, 0.0, "node size: mentorships and accepted introductions; labelled: the "
            "busiest introducers", transform=ax.transAxes, ha="right", fontsize=8,
            color="#555555")  # fmt: skip
    _draw_weeks(weekly, picture.weeks)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _draw_weeks(ax: Axes, weeks: Sequence[Week]) -> None:
    ax.set_title("per simulated week", fontsize=12)
    if not weeks:
        ax.text(0.5, 0.5, "no activity yet", ha="center", va="center", transform=ax.transAxes)
        return
    x = [w.index for w in weeks]
    ax.bar([i - 0.2 for i in x], [w.mentorships for w in weeks], width=0.4,
           color=EDGE_STYLES["mentorship"][0], label="mentorships started")  # fmt: skip
    ax.bar([i + 0.2 for i in x], [w.introductions for w in weeks], width=0.4,
           color=EDGE_STYLES["introduced"][0], label="introductions accepted by both")  # fmt: skip
    ax.set_xlabel("week")
    ax.set_ylabel("new that week")
    ax.set_xticks(x)
    total = ax.twinx()
    total.plot(x, [w.ties for w in weeks], color="#333333", marker="o", label="ties in all")
    total.set_ylabel("ties in all (incl. platform connections)")
    total.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = total.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=9)
