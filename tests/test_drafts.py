"""The pages waiting in drafts/ (drafts/README.md): each is a page of the registry,
reads as a notebook whose code compiles, and brings a reported file the verdict rule
accepts."""

import json
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

from lib.verdicts import check_reported
from papers import SLUGS

DRAFTS = Path(__file__).resolve().parent.parent / "drafts"
PAGES = sorted(DRAFTS.glob("*.md"))
PAGES = [p for p in PAGES if p.name != "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_draft_is_a_paper_page_whose_code_compiles(page):
    assert page.stem in SLUGS
    notebook = jupytext.read(page)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in cells]
    assert any("parameters" in t for t in tags)
    # an execution's injected parameters do not belong in the text to adopt
    assert not any("injected-parameters" in t for t in tags)
    for cell in cells:
        compile(cell.source, f"{page.name} cell", "exec")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_draft_brings_its_reported_numbers(page):
    reported = DRAFTS / f"{page.stem}.reported.json"
    check_reported(json.loads(reported.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_draft_passes_the_books_lint_as_a_page(page, tmp_path):
    notebook = tmp_path / f"{page.stem}.ipynb"
    jupytext.write(jupytext.read(page), notebook, fmt="ipynb")
    config = ["--config", str(DRAFTS.parent / "pyproject.toml")]
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(notebook)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
