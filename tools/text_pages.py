"""The pages' text mirrors, book/text/<page>.md: written from book/<page>.ipynb, or
checked against them (--check), so that a page's change reads as a text diff.

The pairing and its filters are in jupytext.toml; this is what `jupytext --sync` writes,
computed without writing, so that `make lint` can say which mirror is out of date.
"""

import argparse
import sys
from pathlib import Path

import jupytext
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = load_jupytext_config(str(ROOT / "book" / "page.ipynb"))


def mirror(page):
    """The text mirror of a page, as jupytext --sync writes it."""
    return page.parent / "text" / f"{page.stem}.md"


def shown(path):
    """A path as the reader knows it: relative to the repository when inside it."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def text_of(page):
    return jupytext.writes(jupytext.read(page), fmt="md:myst", config=CONFIG)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("pages", nargs="*", type=Path)
    args = parser.parse_args()
    pages = args.pages or sorted((ROOT / "book").glob("*.ipynb"))
    stale = []
    for page in pages:
        text, path = text_of(page), mirror(page)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    for path in stale:
        page = shown(path.parent.parent / f"{path.stem}.ipynb")
        print(
            f"{shown(path)} is not its page's text: run `jupytext --sync {page}`",
            file=sys.stderr,
        )
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
