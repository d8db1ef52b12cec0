"""The package as a user installs it: the wheel, built from this tree, in a fresh
virtual environment outside it, runs the offline commands with the defaults it ships.

No network: the wheel goes in with `--no-deps`, and the fresh environment sees the
dependencies already installed in this project's `.venv` through a path entry (not
a site directory, so the editable install of this tree stays invisible to it)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.matcher.test_cohort_cli import CAPS, SCORES
from tests.notifier import builders as b
from tests.support import ROOT

pytestmark = pytest.mark.slow
VERSION = "0.1.0"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh venv with only the built wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"),
         str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (work / "dist").glob("mentormesh-*.whl")
    target = work / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return target / "bin"


def run(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # nothing of this tree's settings
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def from_wheel_and_tree(
    installed: Path, args: Sequence[str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The same command run by the installed wheel and by this tree, side by side."""
    with ThreadPoolExecutor(2) as pool:
        wheel = pool.submit(run, [str(installed / "mentormesh"), *args], cwd)
        tree = pool.submit(run, [sys.executable, "-m", "shared.cli", *args], ROOT)
        return wheel.result(), tree.result()


def samples(folder: Path) -> dict[str, Path]:
    history = [b.profile("ana", "Europe/Berlin"), b.started(b.T0), b.proposed(b.T0, match="p1")]
    files = {
        "events": (folder / "events.jsonl", "".join(e.to_json().decode() + "\n" for e in history)),
        "scores": (folder / "scores.csv", SCORES),
        "capacities": (folder / "caps.csv", CAPS),
    }
    for path, text in files.values():
        path.write_text(text)
    return {name: path for name, (path, _) in files.items()}


def test_the_installed_package_is_the_wheel_not_this_tree(installed: Path, tmp_path: Path) -> None:
    code = (
        "import shared, services.notifier.rules as r; print(shared.__file__, r.DEFAULT_RULES_FILE)"
    )
    where = run([str(installed / "python"), "-c", code], tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout
    assert all(p.startswith(str(installed.parent)) for p in where.stdout.split())


def test_mentormesh_version_names_the_release(installed: Path, tmp_path: Path) -> None:
    result = run([str(installed / "mentormesh"), "--version"], tmp_path)
    assert (result.returncode, result.stdout) == (0, f"mentormesh {VERSION}\n")


def test_the_default_rules_and_programme_files_ship_inside_the_package(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "from shared.programmes import DEFAULT_DIR; from services.notifier.rules import "
        "DEFAULT_RULES_FILE as R; print(sorted(p.name for p in DEFAULT_DIR.iterdir()), "
        "R.is_file())"
    )
    result = run([str(installed / "python"), "-c", code], tmp_path)
    assert result.stdout == "['default.toml'] True\n", result.stderr


def test_nudges_simulate_gives_what_it_gives_in_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    events = samples(tmp_path)["events"]
    args = ["nudges", "simulate", "--events", str(events), "--until", "2025-03-06T12:00:00Z"]
    from_wheel, from_tree = from_wheel_and_tree(installed, args, tmp_path)
    assert from_wheel.returncode == 0, from_wheel.stderr
    assert from_wheel.stdout.count('"kind": "proposal-reminder"') == 2
    assert from_wheel.stdout == from_tree.stdout


def test_match_solve_gives_what_it_gives_in_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    files = samples(tmp_path)
    args = ["match", "solve", "--scores", str(files["scores"]),
            "--capacities", str(files["capacities"]), "--mode", "optimal"]  # fmt: skip
    from_wheel, from_tree = from_wheel_and_tree(installed, args, tmp_path)
    assert from_wheel.returncode == 0, from_wheel.stderr
    assert '"assignments"' in from_wheel.stdout
    assert from_wheel.stdout == from_tree.stdout
