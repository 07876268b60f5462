import os
import sys
from pathlib import Path

import golden
from nbval.plugin import IPyNbCell

# test_golden.py runs nbval on notebooks it writes.
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Notebook kernels started by the tests (papermill, nbval) import lib from the
# repository too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
)
os.environ.setdefault("MPLBACKEND", "Agg")

# nbval compares the goldens' checked outputs exactly; their numbers compare within
# tolerances instead (tests/golden.py), so the goldens hold on any x86-64 CPU.
compare_exactly = IPyNbCell.compare_outputs


def compare_within_tolerance(self, test, ref, skip_compare=None):
    """nbval's comparison, after each new text within the tolerances of its golden has
    taken the golden's text; a failure says which number moved beyond them."""
    test, misses = golden.adopt(test, ref, self.sanitize)
    if compare_exactly(self, test, ref, skip_compare):
        return True
    self.comparison_traceback.extend(misses)
    return False


IPyNbCell.compare_outputs = compare_within_tolerance


def pytest_ignore_collect(collection_path, config):
    """`make test NB=<slug>`: of the goldens, that page's alone."""
    only = os.environ.get("NB")
    if only and collection_path.parent == ROOT / "tests" / "notebooks":
        return collection_path.name != f"{only}.smoke.ipynb"
    return None
