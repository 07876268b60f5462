"""The goldens' comparison: numbers within tolerances, text exactly, in tests/golden.py
and in nbval through tests/conftest.py."""

import copy
import re

import golden
import nbformat
import pytest
from conftest import ROOT
from nbval.plugin import get_sanitize_patterns

TABLE = """\
Accuracy (%) on the first 200 test points
                 real         FGSM
method           mean   std   mean   std
simple training  82.00  0.71  24.00  6.36
A3T              45.25  1.06  24.50  8.49
"""


def same(text):
    return text


def test_numbers_are_split_from_the_words_around_them():
    text = "A3T, 2 seeds, ε = 0.1: 73.10 ± 3.82, L2 -0.5 (torch 2.14.1)."
    numbers, lines = golden.split(text)
    assert numbers == ["2", "73.10", "3.82", "-0.5"]
    assert lines == ["A3T, # seeds, ε = 0.1: #.# ± #.#, L2 #.# (torch 2.14.1)."]


def test_a_setting_is_exact():
    assert golden.mismatch("at ε = 0.1: 40.50", "at ε = 0.3: 40.50") is not None
    assert golden.mismatch("FGSM λ=0.1 40.50", "FGSM λ=0.2 40.50") is not None


def test_a_move_within_the_tolerances_passes():
    moved = TABLE.replace("45.25", "44.75").replace("8.49", "6.36")
    assert golden.mismatch(TABLE, moved) is None


def test_a_wider_number_repadding_the_table_passes():
    # pandas pads a column to its widest entry
    wider = TABLE.replace(" 6.36", "10.36").replace("   mean", "    mean")
    assert golden.mismatch(TABLE, wider) is None


def test_a_move_beyond_the_tolerance_fails_and_says_which_number():
    why = golden.mismatch(TABLE, TABLE.replace("82.00", "12.00"))
    assert why == "82.00 became 12.00, beyond the tolerance of ±20"


def test_small_numbers_move_by_points_and_large_ones_by_at_most_max():
    assert golden.mismatch("std 0.35", "std 2.47") is None
    assert golden.mismatch("rho 0.266", "rho 9.000") is not None
    assert golden.mismatch("d_W 23.064", "d_W 23.364") is None
    assert golden.mismatch("accuracy 80.00", "accuracy 59.00") is not None


def test_integers_are_exact_below_a_hundred_and_close_above():
    assert golden.mismatch("sums: 4256, 3512, 2936", "sums: 4256, 3519, 2926") is None
    assert (
        golden.mismatch("sums: 4256, 3512, 2936", "sums: 4256, 3612, 2936") is not None
    )
    assert golden.mismatch("2 seeds", "3 seeds") is not None


@pytest.mark.parametrize(
    "changed",
    [
        TABLE.replace("A3T", "A2T"),  # a word
        TABLE.replace("200", "500"),  # a count
        TABLE.replace("82.00", "82"),  # a decimal printed as an integer
        TABLE + "one more line\n",
    ],
    ids=["word", "integer", "format", "line"],
)
def test_text_and_integers_compare_exactly(changed):
    assert golden.mismatch(TABLE, changed) is not None


def test_a_verdict_that_flips_fails():
    row = "vanilla: clean accuracy (%) 98.26 97.90 1 {}"
    why = golden.mismatch(row.format("reproduced"), row.format("partly"))
    assert why is not None and "partly" in why


def test_accuracy_on_a_few_images_moves_by_whole_images():
    caption = "AutoAttack, first 20 test images: accuracy (%)\nAT 0.0\n"
    assert golden.images(caption) == 20
    assert golden.mismatch(caption, caption.replace("0.0", "10.0")) is None
    assert golden.mismatch(caption, caption.replace("0.0", "15.0")) is not None


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def table(plain, html):
    return nbformat.v4.new_output(
        "display_data", data={"text/plain": plain, "text/html": html}
    )


def test_adopt_takes_the_golden_text_within_the_tolerances_only():
    ref = [stream("mean 40.50\n"), table("AT 73.10", "<td>73.10</td>")]
    new = [stream("mean 40.75\n"), table("AT 20.00", "<td>20.00</td>")]
    adopted, misses = golden.adopt(new, ref, same)
    assert adopted[0].text == "mean 40.50\n"
    assert adopted[1].data["text/plain"] == "AT 20.00"
    assert new[0].text == "mean 40.75\n"  # the run's own outputs stay as they were
    assert sorted(misses) == [
        "output 2 (text/html): 73.10 became 20.00, beyond the tolerance of ±20",
        "output 2 (text/plain): 73.10 became 20.00, beyond the tolerance of ±20",
    ]


def test_adopt_compares_glued_numbers_too():
    glued = "application/papermill.record/text/plain"
    ref = [nbformat.v4.new_output("display_data", data={glued: "38.199999928474426"})]
    new = [nbformat.v4.new_output("display_data", data={glued: "36.800000071525574"})]
    adopted, misses = golden.adopt(new, ref, same)
    assert adopted[0].data[glued] == "38.199999928474426" and misses == []


def test_adopt_compares_after_sanitizing():
    ref, new = (
        [stream("trained in 12.5 s, 40.50\n")],
        [stream("trained in 99.0 s, 40.50\n")],
    )
    adopted, misses = golden.adopt(
        new, ref, lambda s: s.replace("12.5 s", "T").replace("99.0 s", "T")
    )
    assert adopted[0].text == ref[0].text and misses == []


def notebook_printing(printed, golden_output):
    """A one-cell notebook whose checked cell prints a text, with a golden output."""
    cell = nbformat.v4.new_code_cell(
        f"print({printed!r})",
        execution_count=1,
        outputs=[stream(golden_output)],
        metadata={"tags": ["nbval-check-output"]},
    )
    return nbformat.v4.new_notebook(cells=[cell])


@pytest.mark.parametrize(
    "golden_output, failure",
    [
        ("accuracy 73.10 ± 3.82, reproduced\n", None),  # as printed
        ("accuracy 73.00 ± 3.96, reproduced\n", None),  # another CPU's rounding
        ("accuracy 20.00 ± 3.82, reproduced\n", "20.00 became 73.10"),
        ("accuracy 73.10 ± 3.82, partly\n", "differs beyond its numbers"),
    ],
    ids=["same", "within", "beyond", "verdict"],
)
def test_nbval_compares_within_the_tolerances(pytester, golden_output, failure):
    # In process: nbval runs with the comparison that tests/conftest.py installed.
    printed = "accuracy 73.10 ± 3.82, reproduced"
    nbformat.write(notebook_printing(printed, golden_output), pytester.path / "g.ipynb")
    result = pytester.runpytest_inprocess(
        "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "g.ipynb"
    )
    if failure is None:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        assert failure in result.stdout.str()


GOLDENS = sorted((ROOT / "tests" / "notebooks").glob("*.smoke.ipynb"))


def checked_outputs(path):
    cells = nbformat.read(path, as_version=4).cells
    tagged = [c for c in cells if "nbval-check-output" in c.metadata.get("tags", [])]
    return [output for cell in tagged for output in cell.outputs]


def first_decimal(outputs):
    """The first checked text holding a decimal: its fields, key and the decimal."""
    for output in outputs:
        fields, keys = golden.texts(output)
        for key in keys:
            for found in golden.NUMBER.finditer(fields[key]):
                if "." in found.group():
                    return fields, key, found
    raise AssertionError("no checked output holds a decimal")


def move(outputs, by):
    """A copy of a golden's checked outputs with its first decimal moved, and how."""
    outputs = copy.deepcopy(outputs)
    fields, key, found = first_decimal(outputs)
    text, old = fields[key], found.group()
    new = f"{float(old) + by:.{len(old.split('.')[1])}f}"
    fields[key] = text[: found.start()] + new + text[found.end() :]
    return outputs, f"{old} became {new}"


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name.split(".")[0])
def test_a_golden_fails_when_one_checked_result_moves(path):
    outputs = checked_outputs(path)
    assert golden.adopt(outputs, outputs, same)[1] == []
    # Twice the widest tolerance that output can have: a real change.
    fields, key, _ = first_decimal(outputs)
    n_images = golden.images(fields[key])
    moved, how = move(outputs, 2 * max(golden.MAX, 200 / n_images if n_images else 0))
    misses = golden.adopt(moved, outputs, same)[1]
    assert len(misses) == 1 and how in misses[0]
    # One unit of the last printed digit: another CPU's rounding.
    nudged, _ = move(outputs, 0.01)
    assert golden.adopt(nudged, outputs, same)[1] == []


def repository_sanitizer():
    """The goldens' sanitizer as nbval applies it: tests/sanitize.cfg's pairs."""
    pairs = get_sanitize_patterns((ROOT / "tests" / "sanitize.cfg").read_text())

    def sanitize(text):
        for regex, replace in pairs:
            text = re.sub(regex, replace, text)
        return text

    return sanitize


def test_a_claims_verdict_and_share_are_checked_as_present_not_as_which():
    sanitize = repository_sanitizer()
    row = "β− lowest accuracy holds {} 1 {}"
    held, failed = (
        row.format("100% of runs", "reproduced"),
        row.format("0% of runs", "not reproduced open"),
    )
    assert golden.mismatch(sanitize(held), sanitize(failed)) is None
    html = "<td>{}</td>\n      <td>{}</td>"
    assert sanitize(html.format("reproduced", "")) == sanitize(
        html.format("not reproduced", "paper")
    )
    # The numbers on the row are still checked, and so is the claim's wording
    row = "AT: accuracy under FGSM (%) 94.45 {} 2 {}"
    assert golden.mismatch(
        sanitize(row.format("40.20", "reproduced")),
        sanitize(row.format("90.20", "not reproduced budget")),
    )
    assert golden.mismatch(sanitize(held), sanitize(held.replace("lowest", "highest")))


def test_a_defenses_masking_flags_are_checked_as_listed_not_as_which():
    sanitize = repository_sanitizer()
    row = "LeNet-5 VAT {}"
    assert sanitize(row.format("none")) == sanitize(row.format("no_fall_with_eps"))
    assert sanitize(row.format("none")) == sanitize(
        row.format("one_step_far_weaker, no_fall_with_eps")
    )
    # the defense's name is still checked
    assert sanitize(row.format("none")) != sanitize("LeNet-5 AT none")


def test_a_budget_trends_cause_is_checked_as_present_not_as_which():
    sanitize = repository_sanitizer()
    row = "LeNet LWA (%) 66.00 (se 4.7) the budget trend's later half (1 to 2) {} {}"
    budget, other = (
        row.format("55.00 to 65.00", "budget"),
        row.format("56.00 to 54.00", "open"),
    )
    assert golden.mismatch(sanitize(budget), sanitize(other)) is None
    html = (
        "<td>the budget trend's later half (1 to 2)</td>\n      <td>{}</td>\n"
        "      <td></td>\n      <td>{}</td>"
    )
    assert sanitize(html.format("55.00 to 65.00", "budget")) == sanitize(
        html.format("55.00 to 65.00", "open")
    )
    # the trend's numbers are still checked, and a cause elsewhere is not masked
    assert golden.mismatch(
        sanitize(budget), sanitize(row.format("5.00 to 9.00", "open"))
    )
    no_trend = (
        "<td>no reading run</td>\n      <td></td>\n      <td></td>\n      <td>{}</td>"
    )
    assert sanitize(no_trend.format("open")) != sanitize(no_trend.format("budget"))
