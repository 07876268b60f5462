"""A golden's checked output against a new run's: words and layout exactly, numbers
within tolerances that another x86-64 CPU's rounding stays inside.

What moves. A smoke run trains for an epoch or two on a few hundred images; another
instruction set or thread count rounds its sums otherwise, the weights drift apart like
two nearby seeds, and every number after training moves. Measured on the goldens run on
two threads and on one without the AVX2 pins (as `make portable` runs them), largest
moves: an accuracy on 50 to 500 test points 4.5 points, a two-seed std 4 (6.788 ->
2.828), a game's accuracy or distance 11 (32.17 -> 42.98; a bimodal discriminator's std
29.98 -> 17.18), a norm or std below 1 by half (0.108 -> 0.169), an accuracy on N test
images one image (100 / N points), an integer batch sum 0.5 % (2940 -> 2926).

The tolerances hold each of these with 1.4x or more to spare: a decimal within ABS +
REL * its size, never more than MAX, or 200 / N points (two images) where the output
says it is on N images; an integer within INT_REL of its size, so a count under 100 is
exact. A real regression (a model that stops learning, an attack that stops working)
still moves further. Words, settings (ε = 0.1) and line breaks compare exactly, except a
claim's verdict and an ordering's share of runs, which tests/sanitize.cfg masks (drawn
from the checked numbers, they flip near a threshold); runs of spaces count as one, as
pandas pads a column to its widest entry.
"""

import copy
import re

ABS = 3.0
REL = 0.5
MAX = 20.0
INT_REL = 0.01
# A number with its sign. Digits inside a name (A3T, L2, x_2, 3.3.0) are not one, nor is
# a setting (ε = 0.1, λ=0.1): those compare exactly, as text.
NUMBER = re.compile(r"(?<![\w.=])(?<!= )[-+]?\d+(?:\.\d+)?(?!\w|\.\d)")
# The number N of images an accuracy is measured on, as the captions say it.
IMAGES = re.compile(r"\b(?:on|first) (?:the )?(\d+) (?:clean )?(?:test )?images\b")


def split(text):
    """A text's numbers, and its lines with each number marked (# or #.#, so a change
    of format shows) and runs of spaces collapsed."""
    numbers = NUMBER.findall(text)
    marked = NUMBER.sub(lambda m: "#.#" if "." in m.group() else "#", text)
    return numbers, [" ".join(line.split()) for line in marked.splitlines()]


def images(text):
    """The smallest number of images an output says it is measured on, or None."""
    sizes = [int(n) for n in IMAGES.findall(text) if int(n) > 0]
    return min(sizes, default=None)


def tolerance(golden, new, n_images=None):
    """How far a new number may lie from its golden one."""
    size = max(abs(float(golden)), abs(float(new)))
    if "." not in golden:
        return INT_REL * size
    allowed = min(ABS + REL * size, MAX)
    return max(allowed, 200 / n_images) if n_images else allowed


def mismatch(golden, new):
    """The first difference beyond the tolerances between a golden's output text and a
    new one, in words, or None when they agree."""
    golden_numbers, golden_lines = split(golden)
    new_numbers, new_lines = split(new)
    if len(golden_lines) != len(new_lines):
        return f"{len(new_lines)} lines instead of {len(golden_lines)}"
    for i, (a, b) in enumerate(zip(golden_lines, new_lines, strict=True)):
        if a != b:
            return f"line {i + 1} differs beyond its numbers: {a!r} became {b!r}"
    n_images = images(golden)
    for a, b in zip(golden_numbers, new_numbers, strict=True):
        allowed = tolerance(a, b, n_images)
        if abs(float(a) - float(b)) > allowed:
            return f"{a} became {b}, beyond the tolerance of ±{allowed:.3g}"
    return None


def texts(output):
    """Where an output keeps its texts: a stream's text, or its data's text types,
    glued ones too (application/papermill.record/text/plain)."""
    if output.get("output_type") == "stream":
        return output, ["text"]
    data = output.get("data", {})
    return data, [key for key in data if "text/" in key]


def adopt(new, golden, sanitize):
    """The new outputs, each text that matches its golden within the tolerances
    replaced by the golden's, and a line for each text that does not."""
    new = copy.deepcopy(new)
    misses = []
    for i, (out, ref) in enumerate(zip(new, golden, strict=False)):
        if (out.get("output_type"), out.get("name")) != (
            ref.get("output_type"),
            ref.get("name"),
        ):
            continue  # nbval reports a different set of outputs itself
        (fields, keys), (golden_fields, golden_keys) = texts(out), texts(ref)
        for key in sorted(set(keys) & set(golden_keys)):
            why = mismatch(sanitize(golden_fields[key]), sanitize(fields[key]))
            if why is None:
                fields[key] = golden_fields[key]
            else:
                misses.append(f"output {i + 1} ({key}): {why}")
    return new, misses
