import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Notebook kernels started by the tests (papermill, nbval) import lib from the
# repository too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
)
os.environ.setdefault("MPLBACKEND", "Agg")
