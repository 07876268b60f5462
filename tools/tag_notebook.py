"""Make an executed notebook read like a paper, and name no machine paths.

Hides papermill's injected-parameters cell (formatted as ruff formats a cell), drops
progress bars (they go to the kernel's stderr, which ipykernel may still forward into
the cell's outputs), and shortens absolute paths into the repository's data/ folder.
"""

import re
import sys

import nbformat

PROGRESS_BAR = re.compile(r"\d+/\d+ \[[\d:<?]+, *[\d.?]+ *(s/it|it/s)\]")
ABSOLUTE_DATA_PATH = re.compile(r"/\S*?/(data/(?:results|cache|MNIST)/)")


def is_progress(output):
    return (
        output.get("output_type") == "stream"
        and output.get("name") == "stderr"
        and PROGRESS_BAR.search(output.text)
    )


for path in sys.argv[1:]:
    notebook = nbformat.read(path, as_version=4)
    for key in ("input_path", "output_path"):
        notebook.metadata.get("papermill", {}).pop(key, None)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            # papermill ends the cell with a newline that ruff's formatter would remove
            cell.source = cell.source.rstrip("\n")
        if cell.cell_type == "code":
            cell.outputs = [
                output for output in cell.outputs if not is_progress(output)
            ]
            for output in cell.outputs:
                if output.get("output_type") == "stream":
                    output.text = ABSOLUTE_DATA_PATH.sub(r"\1", output.text)
    nbformat.write(notebook, path)
