"""`python -m papers`: the papers' slugs, one a line, in the book's order."""

from papers import SLUGS

print("\n".join(SLUGS))
