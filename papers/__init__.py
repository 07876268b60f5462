"""The book's papers, one record each: the one list that the Makefile, the tests, the
scorecard and the leaderboard read.

Each paper's own code lives in its package, papers/<slug>/: what only that paper uses
(its networks, attacks, training steps and games). A paper's package imports lib/ and
never another paper's package, so editing one paper re-keys that paper's models alone.
`python -m papers` prints the slugs, in the book's order, for the Makefile.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    slug: str  # the page, the package, the reported and results JSON, the cache folder
    title: str
    authors: str

    @property
    def package(self):
        return f"papers.{self.slug}"

    @property
    def page(self):
        return f"book/{self.slug}.ipynb"


# In the book's order (_toc.yml)
PAPERS = (
    Paper(
        "gan_adversarial_training",
        "Generative Adversarial Networks for Adversarial Training",
        "Dhillon & Pavse",
    ),
    Paper(
        "adversary_critic",
        "Improved Network Robustness with Adversary Critic",
        "Matyasko & Chau (NeurIPS 2018)",
    ),
    Paper(
        "a3t",
        "A3T: Adversarially Augmented Adversarial Training",
        "Erraqabi, Baratin, Bengio & Lacoste-Julien (2018)",
    ),
    Paper("learning_with_adversary", "Learning with Adversary", "Huang et al. (2015)"),
    Paper(
        "wagan",
        "Learning Robust Neural Networks using Wasserstein Adversarial GAN",
        "Goel, Shah & Suresh",
    ),
)
SLUGS = tuple(p.slug for p in PAPERS)
# The book's other executed pages: a method page and the two pages over every paper
OTHER_PAGES = ("attacks", "scorecard", "leaderboard")


def paper(slug):
    """The record of one paper; a ValueError names the slugs there are."""
    for p in PAPERS:
        if p.slug == slug:
            return p
    raise ValueError(f"unknown paper {slug!r}: the papers are {', '.join(SLUGS)}")
