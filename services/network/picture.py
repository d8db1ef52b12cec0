"""A picture of the programme's network for its lead: who mentors whom, who
stayed in touch, and which introductions were made, accepted or declined."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
from matplotlib.lines import Line2D

LineStyle = Literal["solid", "dashed", "dotted"]
# kind -> (colour, line style, width, label)
EDGE_STYLES: dict[str, tuple[str, LineStyle, float, str]] = {
    "mentorship": ("#1f77b4", "solid", 1.6, "mentorship"),
    "alumni": ("#9e9e9e", "solid", 1.0, "ended mentorship (alumni)"),
    "introduced": ("#2ca02c", "solid", 2.2, "introduction accepted by both"),
    "suggested": ("#ff7f0e", "dashed", 1.2, "introduction suggested, open"),
    "declined": ("#d62728", "dotted", 1.2, "introduction declined"),
}
MENTOR, MENTEE, OTHER = "#6a3d9a", "#fdbf6f", "#cccccc"


@dataclass(frozen=True)
class NetworkPicture:
    mentors: frozenset[str]
    mentees: frozenset[str]
    edges: Sequence[tuple[str, str, str]]  # (a, b, kind from EDGE_STYLES)
    title: str


def draw(picture: NetworkPicture, path: Path, seed: int = 7) -> Path:
    g = nx.Graph()
    for a, b, _ in picture.edges:
        g.add_edge(a, b)
    fig, ax = plt.subplots(figsize=(13, 10), dpi=110)
    ax.set_axis_off()
    ax.set_title(picture.title, fontsize=14)
    if g.number_of_nodes():
        structural = nx.Graph()
        structural.add_nodes_from(g)
        structural.add_edges_from((a, b) for a, b, k in picture.edges if k != "declined")
        pos = nx.spring_layout(structural, seed=seed, k=1.2 / max(1, len(g)) ** 0.5)
        for kind, (colour, style, width, _) in EDGE_STYLES.items():
            edges = [(a, b) for a, b, k in picture.edges if k == kind]
            if edges:
                nx.draw_networkx_edges(g, pos, edgelist=edges, edge_color=colour, style=style,
                                       width=width, alpha=0.8, ax=ax)  # fmt: skip
        degree = dict(g.degree())
        colours = [
            MENTOR if n in picture.mentors else MENTEE if n in picture.mentees else OTHER for n in g
        ]
        sizes = [30 + 18 * degree[n] for n in g]
        nx.draw_networkx_nodes(g, pos, node_color=colours, node_size=sizes, linewidths=0.4,
                               edgecolors="#333333", ax=ax)  # fmt: skip
        if len(g) <= 60:
            nx.draw_networkx_labels(g, pos, font_size=7, ax=ax)
    handles = [
        Line2D([0], [0], color=c, linestyle=s, linewidth=max(w, 1.5), label=label)
        for c, s, w, label in EDGE_STYLES.values()
    ] + [
        Line2D([0], [0], marker="o", color="w", markerfacecolor=c, markeredgecolor="#333333",
               markersize=9, label=label)
        for c, label in ((MENTOR, "mentor"), (MENTEE, "mentee"), (OTHER, "other"))
    ]  # fmt: skip
    ax.legend(handles=handles, loc="lower left", fontsize=9, framealpha=0.9)
    fig.text(0.99, 0.01, "node size: number of ties", ha="right", fontsize=8, color="#555555")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
