"""The container image, kept honest without a Docker engine: the Dockerfile is parsed
(dockerfile-parse) and linted (hadolint), the build context is what .dockerignore
lets through, and the lock files pin every dependency with hashes."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from shared.deployment import SERVICES
from tests.support import ROOT


def instructions() -> list[dict[str, Any]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return list(parser.structure)


def stages() -> list[list[dict[str, Any]]]:
    """The instructions of each build stage, in order."""
    found: list[list[dict[str, Any]]] = []
    for instruction in instructions():
        if instruction["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final(name: str) -> dict[str, Any]:
    matching = [i for i in stages()[-1] if i["instruction"] == name]
    assert matching, f"no {name} in the final stage"
    return matching[-1]


def test_the_image_is_built_in_stages_on_a_slim_python_base() -> None:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    assert len(stages()) >= 2
    base = parser.baseimage  # the final stage's, build arguments resolved
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*-slim[\w.-]*", base), base
    froms = [s[0]["value"].split()[0] for s in stages()]
    assert len(set(froms)) == 1, "the venv copied between stages needs the same interpreter"


def test_the_final_stage_only_copies_what_the_build_stage_installed() -> None:
    runtime = stages()[-1]
    runs = " ".join(i["value"] for i in runtime if i["instruction"] == "RUN")
    assert "pip" not in runs and "apt" not in runs, "nothing is installed in the final stage"
    copies = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    assert copies and all(c.startswith("--from=build ") for c in copies)


def test_dependencies_install_from_the_lock_files_with_hashes_and_without_dev_extras() -> None:
    runs = [i["value"] for s in stages()[:-1] for i in s if i["instruction"] == "RUN"]
    pip_installs = [cmd for run in runs for cmd in run.split("&&") if "pip install" in cmd]
    from_locks = [cmd for cmd in pip_installs if "-r deploy/" in cmd]
    assert {"deploy/requirements.lock", "deploy/build-requirements.lock"} == {
        re.search(r"-r (\S+)", cmd).group(1)  # type: ignore[union-attr]
        for cmd in from_locks
    }
    assert all("--require-hashes" in cmd for cmd in from_locks)
    # The project's own wheel goes in with --no-deps: everything else came from the lock.
    others = [cmd for cmd in pip_installs if cmd not in from_locks]
    assert others and all("--no-deps" in cmd for cmd in others)
    assert not any(re.search(r"\[[^\]]*(dev|local)", cmd) for cmd in pip_installs)


def test_it_runs_as_a_non_root_user_given_by_number() -> None:
    user = final("USER")["value"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes' runAsNonRoot can check it"


def test_it_can_run_on_a_read_only_root_filesystem() -> None:
    env = " ".join(i["value"] for i in stages()[-1] if i["instruction"] == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "MENTORMESH_STATE_DIR=/tmp/" in env and "MPLCONFIGDIR=/tmp/" in env


def test_the_service_is_the_argument_and_every_service_is_one() -> None:
    assert final("ENTRYPOINT")["value"] == '["mentormesh", "serve"]'
    (default,) = re.findall(r'"(\w+)"', final("CMD")["value"])
    assert default in SERVICES


def test_the_health_check_asks_the_services_own_endpoint() -> None:
    check = final("HEALTHCHECK")["value"]
    assert re.search(r'CMD \["python", "-m", "shared.container", "probe", "/healthz"\]', check)
    assert "--start-period=" in check


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv/bin/hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


# ---------------------------------------------------------------- the build context


def sent(path: str) -> bool:
    """Whether .dockerignore lets `path` (relative to the context) into the build:
    the last matching rule wins, and a rule on a folder covers what is inside it."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = True
    for rule in rules:
        pattern = rule.removeprefix("!").rstrip("/")
        matched = any(
            fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern.replace("**/", ""))
            or (pattern.startswith("**/") and fnmatch.fnmatchcase(p.rsplit("/", 1)[-1],
                                                                  pattern[3:]))
            for p in prefixes
        )  # fmt: skip
        if matched:
            verdict = rule.startswith("!")
    return verdict


LEFT_OUT = (
    ".venv/lib/python3.11/site-packages/numpy/__init__.py",
    ".git/HEAD",
    "tests/support.py",
    "shared/__pycache__/cli.cpython-311.pyc",
    "mentormesh.egg-info/PKG-INFO",
    ".mentormesh/infra.json",
    "out/network.png",
)


def test_the_build_context_leaves_out_the_venv_tests_and_caches() -> None:
    for path in LEFT_OUT:
        assert not sent(path), path


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    copies = [i["value"].split() for i in instructions() if i["instruction"] == "COPY"]
    sources = [src for args in copies if not args[0].startswith("--from") for src in args[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        files = [source] if (ROOT / source).is_file() else [
            str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]  # fmt: skip
        assert files and all(sent(f) for f in files), source


# ---------------------------------------------------------------- the lock files


def locked(name: str) -> dict[str, tuple[str, int]]:
    """{package: (version, number of hashes)} of a pip-compile lock file."""
    text = (ROOT / "deploy" / name).read_text().replace("\\\n", " ")
    pins: dict[str, tuple[str, int]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement, *rest = line.split()
            package, version = requirement.split("==")
            pins[package.lower().replace("_", "-")] = (version, " ".join(rest).count("--hash="))
    return pins


def test_the_lock_pins_every_runtime_dependency_within_its_range_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked("requirements.lock")
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in deploy/requirements.lock: run `make lock`"
        version, _ = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version} vs {spec}"
    assert all(hashes for _, hashes in pins.values()), "a pin without --hash"


@pytest.mark.parametrize("extra", ["dev", "local"])
def test_the_lock_holds_nothing_of_the_dev_or_local_extras(extra: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {Requirement(s).name.lower() for s in project["optional-dependencies"][extra]}
    runtime = {Requirement(s).name.lower() for s in project["dependencies"]}
    assert not (extras - runtime) & set(locked("requirements.lock"))


def test_the_build_lock_pins_setuptools_new_enough_for_the_licence_metadata() -> None:
    version, hashes = locked("build-requirements.lock")["setuptools"]
    assert int(version.split(".")[0]) >= 77 and hashes
