"""The published site and the hosted test run call the Makefile's own targets, so they
cannot drift from what `.ci/run` runs."""

import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def make_targets():
    return set(
        re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M)
    )


def run_commands(name):
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]


def test_every_make_call_names_a_makefile_target():
    for path in WORKFLOWS.glob("*.yml"):
        for command in run_commands(path.name):
            for target in re.findall(r"\bmake\s+([\w-]+)", command):
                assert target in make_targets(), (
                    f"{path.name} calls `make {target}`, not in the Makefile"
                )


def test_the_book_workflow_builds_with_make_book_and_publishes_its_html():
    assert run_commands("book.yml") == ["make book"]
    workflow = yaml.safe_load((WORKFLOWS / "book.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    upload = next(
        step
        for step in steps
        if step.get("uses", "").startswith("actions/upload-pages-artifact")
    )
    assert upload["with"]["path"] == "_build/html"
    assert any(
        step.get("uses", "").startswith("actions/deploy-pages") for step in steps
    )
    # YAML reads the key `on` as True
    assert workflow[True]["push"]["branches"] == ["main"]


def test_the_test_workflow_runs_the_same_command_as_ci():
    assert run_commands("test.yml") == ["make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def collected_by_make_test(nb):
    """The test ids that `make test NB=nb` has pytest collect: its pytest command, as
    `make -n` prints it, run with --collect-only."""
    dry = subprocess.run(
        ["make", "-n", "test", f"NB={nb}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.replace("\\\n", " ")
    (command,) = [line for line in dry.splitlines() if " -m pytest " in line]
    args = shlex.split(command.split(" -m pytest ", 1)[1])
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NB": nb},
    )
    assert run.returncode == 0, run.stdout[-2000:]
    return run.stdout


@pytest.mark.parametrize("nb", ["", "a3t", "attacks"])
def test_make_test_collects_the_unit_tests_smoke_runs_and_goldens(nb):
    ids = collected_by_make_test(nb)
    assert "tests/test_papers.py::" in ids  # the unit tests, always
    for slug in ("a3t", "attacks", "wagan"):
        smoke = f"tests/test_notebooks.py::test_smoke_execution[{slug}]" in ids
        golden = f"tests/notebooks/{slug}.smoke.ipynb::" in ids
        assert smoke == (nb in ("", slug))
        assert golden == (nb in ("", slug) and slug != "attacks")
