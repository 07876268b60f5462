"""Make an executed notebook read like a paper: hide papermill's injected-parameters cell, drop progress bars.

The bars go to the kernel's stderr, which ipykernel may still forward into the cell's outputs.
"""
import re
import sys

import nbformat

PROGRESS_BAR = re.compile(r"\d+/\d+ \[[\d:<?]+, *[\d.?]+ *(s/it|it/s)\]")


def is_progress(output):
    return output.get("output_type") == "stream" and output.get("name") == "stderr" and PROGRESS_BAR.search(output.text)


for path in sys.argv[1:]:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs if not is_progress(output)]
    nbformat.write(notebook, path)
