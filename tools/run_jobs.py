"""Train and evaluate a paper's models ahead of its page, in the pool of one-thread
workers (lib.jobs), so that executing the page then loads them from the cache. Hours at
the `book` profile for the costliest papers; killed, it resumes where it stopped (every
finished entry is kept, every model at its last finished epoch).

    python tools/run_jobs.py adversary_critic --profile book [--workers 2]
"""

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from papers import SLUGS, paper  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slug", choices=SLUGS)
    parser.add_argument("--profile", default="book", choices=("smoke", "book", "paper"))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    package = paper(args.slug).package
    try:
        experiment = importlib.import_module(f"{package}.experiment")
    except ModuleNotFoundError:
        sys.exit(f"{package} has no experiment module yet: its page trains its models")
    if not hasattr(experiment, "run_all"):
        sys.exit(f"{package}.experiment has no run_all(profile, workers)")
    experiment.run_all(args.profile, workers=args.workers)


if __name__ == "__main__":
    main()
