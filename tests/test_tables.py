"""A page's table carries its caption as an HTML <caption> and as the first line of its
text."""

import pandas as pd
import pytest

from lib.tables import Table


def frame():
    return pd.DataFrame(
        {"clean": [99.1, 98.2], "FGSM": [float("nan"), 91.0]},
        index=["AT", "A3T & <co>"],
    )


def test_the_caption_is_the_tables_first_child_and_escaped():
    html = Table(frame(), "Table 1: accuracy (%) < 100")._repr_html_()
    assert html.startswith('<table border="1" class="dataframe">\n  <caption>')
    assert "<caption>Table 1: accuracy (%) &lt; 100</caption>" in html
    assert html.count("<caption>") == 1
    assert "A3T &amp; &lt;co&gt;" in html and "–" in html


def test_the_text_is_the_caption_then_the_table():
    text = repr(Table(frame(), "Table 1", index=False))
    lines = text.splitlines()
    assert lines[0] == "Table 1"
    assert lines[1].split() == ["clean", "FGSM"]
    assert lines[2].split() == ["99.1", "–"]
    assert "AT" not in text


def test_bad_arguments_name_what_is_allowed():
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame, got list"):
        Table([1, 2], "x")
    with pytest.raises(ValueError, match="caption must be a non-empty string"):
        Table(frame(), "")
