"""Tables as a page shows them: an HTML table whose caption is a <caption>, not a line
printed above it, with the same caption and table as plain text for the goldens (nbval
compares the text) and for a terminal."""

from html import escape

import pandas as pd


class Table:
    """A DataFrame with its caption, shown by Jupyter as HTML and printed as text.

    `index`: whether the row labels are shown; `na_rep`: the text of a missing value.
    """

    def __init__(self, frame, caption, *, index=True, na_rep="–"):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"frame must be a pandas DataFrame, got {type(frame).__name__}"
            )
        if not caption or not isinstance(caption, str):
            raise ValueError(f"caption must be a non-empty string, got {caption!r}")
        self.frame = frame
        self.caption = caption
        self.index = index
        self.na_rep = na_rep

    def _repr_html_(self):
        html = self.frame.to_html(index=self.index, na_rep=self.na_rep)
        # to_html opens with one <table ...> tag; the caption is its first child.
        opening, rest = html.split(">", 1)
        return f"{opening}>\n  <caption>{escape(self.caption)}</caption>{rest}"

    def __repr__(self):
        text = self.frame.to_string(index=self.index, na_rep=self.na_rep)
        return f"{self.caption}\n{text}"
