"""Public social graphs split in time, as shipped by registry packages.

Coleman's high-school friendship data (J. S. Coleman, *Introduction to Mathematical
Sociology*, 1964): 73 boys in a small Illinois high school named their friends in
the fall of 1957 and again in the spring of 1958. Debian's package `r-cran-sna`
(the R package sna, GPL-2+) ships it as `sna/data/coleman.RData`, a 2 x 73 x 73
array of directed nominations. Here a nomination either way is a tie; the fall is
"before", the spring "after".

The file is found in an installed `r-cran-sna`, in a directory given by
`MENTORMESH_SNA_DIR`, or taken from the package itself: `apt-get download r-cran-sna`
into a cache directory and unpacked with `dpkg-deb -x` (no R needed). It is read
with the PyPI package `rdata` (`pip install -e '.[public-data]'`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from services.network.inputs import Edge

RELATIVE = Path("usr/lib/R/site-library/sna/data/coleman.RData")
CACHE = Path(tempfile.gettempdir()) / "mentormesh-public-graphs"


@dataclass(frozen=True)
class TimeSplitGraph:
    name: str
    source: str
    before: list[Edge]
    after: list[Edge]


class Unavailable(RuntimeError):
    """The data or the reader is not on this machine; the message says how to get it."""


def _coleman_file() -> Path:
    candidates = [Path("/") / RELATIVE, CACHE / RELATIVE]
    if "MENTORMESH_SNA_DIR" in os.environ:
        candidates.insert(0, Path(os.environ["MENTORMESH_SNA_DIR"]) / "coleman.RData")
    for path in candidates:
        if path.exists():
            return path
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", "r-cran-sna"], cwd=CACHE, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        [deb] = sorted(CACHE.glob("r-cran-sna_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(CACHE)], check=True, timeout=60)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise Unavailable(
            f"coleman.RData not found and `apt-get download r-cran-sna` failed ({exc}); "
            "install r-cran-sna or set MENTORMESH_SNA_DIR"
        ) from exc
    return CACHE / RELATIVE


def coleman() -> TimeSplitGraph:
    try:
        import rdata
    except ImportError as exc:
        raise Unavailable("reading R data needs `pip install -e '.[public-data]'`") from exc
    path = _coleman_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file declares no string encoding
        nominations = rdata.read_rda(path)["coleman"].values
    waves = []
    for wave in nominations:
        n = len(wave)
        waves.append([Edge(f"boy{i + 1}", f"boy{j + 1}")
                      for i in range(n) for j in range(n) if i != j and wave[i][j]])  # fmt: skip
    return TimeSplitGraph(
        name="Coleman's high-school friendships, fall 1957 -> spring 1958",
        source="Debian r-cran-sna (sna/data/coleman.RData)",
        before=waves[0],
        after=waves[1],
    )
