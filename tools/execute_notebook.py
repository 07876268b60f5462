"""Execute a notebook with papermill and put it in place only if every cell ran: a
failure changes nothing.

    python tools/execute_notebook.py book/a3t.ipynb book/a3t.ipynb -p profile book

papermill saves the output after every cell, so it writes into _build/executing/; the
finished notebook is tagged (tools/tag_notebook.py) and renamed over the destination. A
failed run is kept in _build/failed/.
"""

import argparse
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parent.parent


def value(text):
    """A parameter's value as papermill's command line reads it: a Python literal,
    else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def what(error):
    """Where and why an execution failed, in a few words."""
    if isinstance(error, papermill.PapermillExecutionError):
        return f"at In [{error.exec_count}] ({error.ename}: {first_line(error.evalue)})"
    if isinstance(error, subprocess.CalledProcessError):
        last = (error.stderr or "").strip().splitlines()[-1:]
        return f"in tools/tag_notebook.py ({last})"
    return f"({type(error).__name__}: {first_line(str(error))})"


def first_line(text):
    return (text.strip().splitlines() or [""])[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("destination", type=Path)
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
    )
    parser.add_argument("--kernel", default="python3")
    args = parser.parse_args(argv)
    parameters = {name: value(text) for name, text in args.parameter}
    running = (
        ROOT / "_build" / "executing" / f"{args.destination.stem}.{os.getpid()}.ipynb"
    )
    running.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(args.source),
            str(running),
            parameters=parameters,
            cwd=str(ROOT),
            kernel_name=args.kernel,
            progress_bar=sys.stderr.isatty(),
        )
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "tag_notebook.py"), str(running)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except KeyboardInterrupt:
        running.unlink(missing_ok=True)
        sys.exit(f"error: interrupted; {args.destination} is unchanged")
    except Exception as error:
        # A failing cell, a dead kernel, a failed tagging: the destination is untouched.
        failed = ROOT / "_build" / "failed" / args.destination.name
        failed.parent.mkdir(parents=True, exist_ok=True)
        kept = running.exists()
        if kept:
            os.replace(running, failed)
        sys.exit(
            f"error: {args.source} failed {what(error)}; "
            f"{args.destination} is unchanged"
            + (f" and the failed run is in {failed.relative_to(ROOT)}" if kept else "")
            + ": fix the error, then execute again"
        )
    # Copied next to the destination first, so that the rename stays on one file system
    # and is atomic.
    partial = args.destination.with_name(f".{args.destination.name}.{os.getpid()}.part")
    shutil.copyfile(running, partial)
    os.replace(partial, args.destination)
    running.unlink()
    if args.destination.resolve().parent == ROOT / "book":
        # A page's text mirror follows it (the injected parameters may have changed)
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "text_pages.py"), args.destination],
            check=True,
        )


if __name__ == "__main__":
    main()
