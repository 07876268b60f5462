"""Every book notebook runs at the smoke profile, refuses bad parameters early, and
matches its golden."""

import os

import nbformat
import papermill
import pytest
from conftest import ROOT

from lib import results
from papers import OTHER_PAGES, SLUGS

# `make test NB=<slug>` runs one page's tests
ONLY = os.environ.get("NB") or None
BOOK = [
    ROOT / "book" / f"{slug}.ipynb"
    for slug in (*SLUGS, *OTHER_PAGES)
    if ONLY in (None, slug)
]
PAPERS = [path for path in BOOK if path.stem in SLUGS]


def code_cells(path):
    return results.code_cells(path.read_text())


def test_there_are_notebooks():
    assert BOOK, f"no page {ONLY!r} in book/"


@pytest.mark.parametrize("path", BOOK, ids=lambda p: p.stem)
def test_smoke_execution(path, tmp_path):
    out = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(out),
        parameters={"profile": "smoke"},
        cwd=str(ROOT),
        kernel_name="python3",
        progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    assert not [
        o
        for c in executed.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


@pytest.mark.parametrize("path", PAPERS, ids=lambda p: p.stem)
@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"profile": "fast"}, "profile must be one of"),
        ({"profile": "smoke", "epochs": -1}, "epochs must be"),
    ],
    ids=["unknown-profile", "negative-epochs"],
)
def test_bad_parameters_stop_before_training(path, parameters, message, tmp_path):
    out = tmp_path / path.name
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(
            str(path),
            str(out),
            parameters=parameters,
            cwd=str(ROOT),
            kernel_name="python3",
            progress_bar=False,
        )
    assert error.value.ename == "ValueError" and message in error.value.evalue
    executed = nbformat.read(out, as_version=4)
    failed = next(
        i
        for i, c in enumerate(executed.cells)
        if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    )
    assert not any(
        "train(" in c.source or "train_game(" in c.source
        for c in executed.cells[: failed + 1]
    )


@pytest.mark.parametrize("path", PAPERS, ids=lambda p: p.stem)
def test_golden_has_the_book_notebooks_code(path):
    golden = ROOT / "tests" / "notebooks" / f"{path.stem}.smoke.ipynb"
    assert golden.exists(), (
        f"missing golden {golden.name}: run `make goldens NB={path.stem}`"
    )
    assert code_cells(golden) == code_cells(path)
