"""Every page has a text mirror in step with it, and the check says when one is not."""

import shutil
import subprocess
import sys

import jupytext
import nbformat
import pytest
from conftest import ROOT

from papers import SLUGS

SCRIPT = ROOT / "tools" / "text_pages.py"


def check(*pages):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *map(str, pages)],
        capture_output=True,
        text=True,
    )


def test_every_page_has_its_mirror_in_step():
    run = check()
    assert run.returncode == 0, run.stderr


def test_an_edited_page_makes_its_mirror_stale(tmp_path):
    page = tmp_path / "scorecard.ipynb"
    shutil.copy(ROOT / "book" / "scorecard.ipynb", page)
    subprocess.run([sys.executable, str(SCRIPT), str(page)], check=True)
    mirror = tmp_path / "text" / "scorecard.md"
    assert "```{code-cell} ipython3" in mirror.read_text()
    assert '"papermill"' not in mirror.read_text()  # run metadata stays out
    assert check(page).returncode == 0
    notebook = nbformat.read(page, as_version=4)
    code = next(c for c in notebook.cells if c.cell_type == "code")
    code.source += "\nprint('an edit')"
    nbformat.write(notebook, page)
    run = check(page)
    assert run.returncode == 1 and "scorecard.md is not its page's text" in run.stderr


def checked_cells(path):
    """The code cells nbval compares, by source, of a page, its mirror or a golden."""
    cells = jupytext.read(path).cells
    return [
        c.source.strip()
        for c in cells
        if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])
    ]


PAPER_PAGES = [ROOT / "book" / "text" / f"{slug}.md" for slug in SLUGS]
DRAFT_PAGES = [p for p in (ROOT / "drafts").glob("*.md") if p.name != "README.md"]


@pytest.mark.parametrize("page", PAPER_PAGES + DRAFT_PAGES, ids=lambda p: p.stem)
def test_a_paper_page_checks_its_claims_and_misses_tables(page):
    # a sync against an older page once dropped such tags unseen
    checked = "\n".join(checked_cells(page))
    for cell in jupytext.read(page).cells:
        for table in ("claims_table(claims)", "misses_table(claims)"):
            if cell.cell_type == "code" and table in cell.source:
                assert cell.source.strip() in checked, f"{table} is not checked"


@pytest.mark.parametrize("slug", SLUGS)
def test_a_golden_checks_the_cells_its_page_checks(slug):
    golden = ROOT / "tests" / "notebooks" / f"{slug}.smoke.ipynb"
    page = ROOT / "book" / f"{slug}.ipynb"
    assert checked_cells(golden) == checked_cells(page)
