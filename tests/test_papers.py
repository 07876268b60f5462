"""The registry of papers is the one list, and each paper's package stands alone:
editing it re-keys that paper's models and no other's."""

import ast
import json
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from papers import OTHER_PAGES, PAPERS, SLUGS, paper

# Prints, for every paper, the fingerprint of its package's modules: the code the
# cache key hashes whole for any model that reaches them.
FINGERPRINTS = """
import importlib, json, pkgutil
from lib.fingerprint import code_fingerprint
from papers import PAPERS
prints = {}
for p in PAPERS:
    package = importlib.import_module(p.package)
    modules = [
        importlib.import_module(f"{p.package}.{m.name}")
        for m in pkgutil.iter_modules(package.__path__)
    ]
    prints[p.slug] = code_fingerprint(*modules)
print(json.dumps(prints))
"""


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_registry_is_the_books_order_of_paper_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [
        chapter["file"]
        for part in toc["parts"]
        if part["caption"] == "Reproductions"
        for chapter in part["chapters"]
    ]
    assert chapters == [p.page.removesuffix(".ipynb") for p in PAPERS]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_paper_has_its_page_package_numbers_and_golden(slug):
    p = paper(slug)
    assert (ROOT / p.page).exists()
    assert (ROOT / "papers" / slug / "__init__.py").exists()
    assert json.loads((ROOT / "data" / "reported" / f"{slug}.json").read_text())
    assert (ROOT / "tests" / "notebooks" / f"{slug}.smoke.ipynb").exists()


def test_the_book_has_no_page_outside_the_registry():
    pages = {path.stem for path in (ROOT / "book").glob("*.ipynb")}
    assert pages == set(SLUGS) | set(OTHER_PAGES)


def test_an_unknown_slug_names_the_papers():
    with pytest.raises(ValueError, match="the papers are gan_adversarial_training"):
        paper("gan")


def test_the_readme_lists_the_registrys_papers():
    readme = (ROOT / "README.md").read_text()
    listed = [
        line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")
    ]
    assert listed == list(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_a_paper_imports_no_other_paper(slug):
    for path in (ROOT / "papers" / slug).glob("*.py"):
        others = [
            m
            for m in imported_modules(path)
            if m.startswith("papers.") and m.split(".")[1] != slug
        ]
        assert not others, f"{path.relative_to(ROOT)} imports {others}"


def test_the_library_imports_no_papers_code():
    for path in (ROOT / "lib").rglob("*.py"):
        reached = [m for m in imported_modules(path) if m.startswith("papers.")]
        assert not reached, f"{path.relative_to(ROOT)} imports {reached}"


def fingerprints(root):
    run = subprocess.run(
        [sys.executable, "-c", FINGERPRINTS],
        cwd=root,
        env={"PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def copy_and_prints(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    for folder in ("lib", "papers"):
        shutil.copytree(ROOT / folder, root / folder)
    return root, fingerprints(root)


def fingerprints_after_an_edit(root, module):
    """The fingerprints with a function appended to `module`, which is then restored."""
    original = module.read_text()
    module.write_text(original + "\n\ndef an_edit():\n    return 1\n")
    try:
        return fingerprints(root)
    finally:
        module.write_text(original)


@pytest.mark.parametrize("edited", SLUGS)
def test_editing_one_paper_rekeys_that_paper_alone(copy_and_prints, edited):
    root, before = copy_and_prints
    module = sorted((root / "papers" / edited).glob("[!_]*.py"))[0]
    after = fingerprints_after_an_edit(root, module)
    assert after[edited] != before[edited]
    assert {s: after[s] for s in SLUGS if s != edited} == {
        s: before[s] for s in SLUGS if s != edited
    }


def test_editing_the_shared_library_rekeys_the_papers_that_use_it(copy_and_prints):
    root, before = copy_and_prints
    after = fingerprints_after_an_edit(root, root / "lib" / "attacks" / "base.py")
    assert all(after[s] != before[s] for s in SLUGS)
