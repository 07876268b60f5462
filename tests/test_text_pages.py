"""Every page has a text mirror in step with it, and the check says when one is not."""

import shutil
import subprocess
import sys

import nbformat
from conftest import ROOT

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
