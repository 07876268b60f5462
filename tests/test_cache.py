"""The model cache under faults: damaged entries, code changes, SIGKILL and resume,
two runs at once, bit-identical re-runs, and executions that fail without touching
what was there.

The notebook tests run a fixture notebook (written below) that trains four tiny models
through the cache in a few seconds; one uninterrupted run is the reference the others
are compared with.
"""

import importlib
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import papermill
import pytest
import torch
from conftest import ROOT

from lib import cache, fingerprint
from lib.cache import cached
from lib.fingerprint import code_fingerprint

WIDTHS = (16, 32, 48, 64)

FIXTURE_CELLS = [
    # The parameters: where the run keeps its cache, results and training log, and the
    # fault to inject.
    """cache_root = ""
results_root = ""
log = ""
pid_file = ""
pause = 0.0
fail = False""",
    """import os
import time
from pathlib import Path

import torch

from lib.cache import cached
from lib.data import Batches
from lib.metrics import accuracy
from lib.models import mlp
from lib.results import write_results
from lib.runtime import seed_everything
from lib.train import train
from lib.verdicts import claim

started = time.time()
if pid_file:
    Path(pid_file).write_text(str(os.getpid()))
generator = torch.Generator().manual_seed(0)
x = torch.rand(1500, 1, 28, 28, generator=generator)
# Brighter top half or not
y = (x[:, 0, :14].mean((1, 2)) > x[:, 0, 14:].mean((1, 2))).long()
x_train, y_train, x_test, y_test = x[:1000], y[:1000], x[1000:], y[1000:]
WIDTHS = (16, 32, 48, 64)
EPOCHS = 4""",
    """def make_model(width):
    return mlp([784, width, 2])


def fit(width, seed=0):
    def make():
        seed_everything(seed)
        model = make_model(width)
        batches = Batches(x_train, y_train, batch_size=50, seed=seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = train(model, batches, epochs=EPOCHS, optimizer=optimizer)
        time.sleep(pause)  # lets a test kill the run between two models
        if log:
            with open(log, "a") as handle:
                handle.write(f"{width}\\n")
        return {"state": model.state_dict(), "loss": loss}
    spec = {"width": width, "seed": seed, "epochs": EPOCHS}
    return cached("fixture", spec, make, root=cache_root)


runs = {width: fit(width) for width in WIDTHS}""",
    """models = {width: make_model(width) for width in WIDTHS}
for width, model in models.items():
    model.load_state_dict(runs[width]["state"])
acc = {width: accuracy(model.eval(), x_test, y_test) for width, model in models.items()}
print({width: round(a, 3) for width, a in acc.items()})""",
    """if fail:
    raise RuntimeError("the fixture notebook was asked to fail")""",
    """wider = acc[WIDTHS[-1]] >= acc[WIDTHS[0]]
claims = [
    claim("wider", "the widest model is as accurate as the narrowest", "ordering", None,
          [wider])
]
metrics = {
    "accuracy": {str(w): a for w, a in acc.items()},
    "loss": {str(w): r["loss"] for w, r in runs.items()},
}
config = {"widths": list(WIDTHS), "epochs": EPOCHS}
write_results("fixture", "smoke", config, claims, metrics, device="cpu", seeds=[0],
              started=started, root=results_root)""",
]


@pytest.fixture(scope="module")
def fixture_notebook(tmp_path_factory):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in FIXTURE_CELLS]
    notebook.cells[0].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path_factory.mktemp("fixture") / "fixture.ipynb"
    nbformat.write(notebook, path)
    return path


class Run:
    """One execution of the fixture notebook: its folder holds the cache, the results
    and the training log."""

    def __init__(self, folder, notebook):
        self.folder, self.notebook = folder, notebook
        self.cache, self.results = folder / "cache", folder / "results"
        self.out, self.log = folder / "out.ipynb", folder / "trained.log"

    def parameters(self, **extra):
        return {
            "cache_root": str(self.cache),
            "results_root": str(self.results),
            "log": str(self.log),
            **extra,
        }

    def execute(self, **extra):
        papermill.execute_notebook(
            str(self.notebook),
            str(self.out),
            parameters=self.parameters(**extra),
            cwd=str(ROOT),
            kernel_name="python3",
            progress_bar=False,
        )
        return nbformat.read(self.out, as_version=4)

    def start(self, **extra):
        """The same execution in a process of its own, to be killed or
        run beside another."""
        command = [
            sys.executable,
            "-m",
            "papermill",
            str(self.notebook),
            str(self.out),
            "--cwd",
            str(ROOT),
            "-k",
            "python3",
            "--no-progress-bar",
        ]
        for name, value in self.parameters(**extra).items():
            command += ["-p", name, str(value)]
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def trained(self):
        """The widths this run's log says were trained (one line per training)."""
        return (
            [int(line) for line in self.log.read_text().split()]
            if self.log.exists()
            else []
        )

    def numbers(self):
        record = json.loads((self.results / "fixture-smoke.json").read_text())
        return {key: record[key] for key in ("config", "claims", "metrics")}

    def entries(self):
        return sorted((self.cache / "fixture").glob("*.pt"))

    def leftovers(self):
        return sorted(
            p.name
            for p in (self.cache / "fixture").iterdir()
            if not p.name.endswith(".pt")
        )


def entry_width(path):
    entry = torch.load(path, weights_only=True)
    return json.loads(entry["spec"])["width"]


@pytest.fixture(scope="module")
def reference(fixture_notebook, tmp_path_factory):
    """An uninterrupted run from an empty cache: the numbers every other
    run must give."""
    run = Run(tmp_path_factory.mktemp("reference"), fixture_notebook)
    run.execute()
    assert sorted(run.trained()) == list(WIDTHS)
    return run


# ---- The notebook under faults -------------------------------------------------------


def test_same_seed_and_thread_count_give_bit_identical_results(
    reference, fixture_notebook, tmp_path
):
    again = Run(tmp_path, fixture_notebook)
    again.execute()
    # trained again from an empty cache, not loaded
    assert sorted(again.trained()) == list(WIDTHS)
    assert again.numbers() == reference.numbers()  # every float, bit for bit


def test_a_rerun_loads_every_model(reference, fixture_notebook, tmp_path):
    again = Run(reference.folder, fixture_notebook)
    again.log = tmp_path / "trained.log"
    again.out = tmp_path / "out.ipynb"
    again.execute()
    assert again.trained() == []


def test_a_truncated_entry_is_named_moved_aside_and_retrained(
    reference, fixture_notebook, tmp_path
):
    run = Run(tmp_path, fixture_notebook)
    run.cache.mkdir()
    subprocess.run(
        ["cp", "-r", str(reference.cache / "fixture"), str(run.cache)], check=True
    )
    victim = run.entries()[1]
    # As a full disk or a killed copy leaves it
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    executed = run.execute()
    assert run.trained() == [entry_width(reference.cache / "fixture" / victim.name)]
    assert run.numbers() == reference.numbers()
    stderr = "".join(
        o.get("text", "")
        for c in executed.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    )
    warning = [line for line in stderr.splitlines() if victim.name in line]
    assert (
        len(warning) == 1
        and "damaged" in warning[0]
        and "training this model again" in warning[0]
    )
    damaged = [
        name for name in run.leftovers() if name.startswith(f"{victim.name}.damaged-")
    ]
    assert len(damaged) == 1 and damaged[0] in warning[0]


def test_sigkill_then_resume_loads_the_finished_models(
    reference, fixture_notebook, tmp_path
):
    run = Run(tmp_path, fixture_notebook)
    pid_file = tmp_path / "kernel.pid"
    process = run.start(pause=1.0, pid_file=pid_file)
    deadline = time.time() + 120
    while not ((run.cache / "fixture").exists() and run.entries()):
        assert process.poll() is None, (
            f"the run ended before it could be killed:\n{process.stdout.read()}"
        )
        assert time.time() < deadline, "no cache entry after 120 s"
        time.sleep(0.02)
    # The kernel: the process that trains and writes
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    process.kill()
    process.wait()
    # Every entry left behind loads whole
    finished = {entry_width(path) for path in run.entries()}
    assert finished and finished != set(WIDTHS), (
        "the kill came too late to interrupt anything"
    )
    killed_run_log = run.trained()
    run.log = tmp_path / "resumed.log"
    run.execute()
    # The finished ones are loaded, not retrained
    assert set(run.trained()) == set(WIDTHS) - finished
    assert set(killed_run_log) >= finished
    assert run.numbers() == reference.numbers()
    # No partial file left behind as an entry or beside one
    assert run.leftovers() == []


def test_two_runs_at_once_train_each_model_once_and_agree(
    reference, fixture_notebook, tmp_path
):
    run = Run(tmp_path, fixture_notebook)
    beside = Run(tmp_path, fixture_notebook)
    beside.out = tmp_path / "beside.ipynb"
    first, second = run.start(pause=0.3), beside.start(pause=0.3)
    outputs = [process.communicate(timeout=300)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    # At most twice is the promise; the entry lock gives once
    assert sorted(run.trained()) == list(WIDTHS)
    assert run.numbers() == reference.numbers()
    assert len(run.entries()) == len(WIDTHS) and run.leftovers() == []


# ---- Executions that fail change nothing ---------------------------------------------


def execute_script(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "execute_notebook.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_a_failing_execution_leaves_the_page_and_results_intact(
    reference, fixture_notebook, tmp_path
):
    page = tmp_path / f"page-{os.getpid()}.ipynb"
    page.write_bytes(reference.out.read_bytes())
    results = reference.results / "fixture-smoke.json"
    before = results.read_bytes()
    parameters = [
        a
        for name, value in reference.parameters(log=tmp_path / "log").items()
        for a in ("-p", name, value)
    ]
    failed = execute_script(fixture_notebook, page, *parameters, "-p", "fail", "True")
    assert failed.returncode != 0
    message = failed.stderr.strip().splitlines()[-1]
    assert (
        "RuntimeError: the fixture notebook was asked to fail" in message
        and "unchanged" in message
    )
    assert (
        page.read_bytes() == reference.out.read_bytes()
        and results.read_bytes() == before
    )
    kept = ROOT / "_build" / "failed" / page.name
    assert kept.exists() and not list(tmp_path.glob(".*.part"))
    kept.unlink()

    done = execute_script(fixture_notebook, page, *parameters)
    assert done.returncode == 0, done.stderr
    executed = nbformat.read(page, as_version=4)
    injected = [
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    ]
    # Tagged by tag_notebook
    assert injected and "remove-cell" in injected[0].metadata["tags"]
    assert not list(tmp_path.glob(".*.part"))


def test_make_execute_stops_at_the_first_failure_and_keeps_the_pages():
    pages = {
        slug: (ROOT / "book" / f"{slug}.ipynb").read_bytes()
        for slug in ("a3t", "learning_with_adversary")
    }
    # The suite's own set-up stands
    set_up = ["-o", ".venv/bin/.installed", "-o", "data/MNIST/raw/.verified"]
    run = subprocess.run(
        [
            "make",
            *set_up,
            "execute",
            "NB=a3t learning_with_adversary",
            "PROFILE=nonsense",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode != 0
    # Stopped at the first
    assert "== a3t" in run.stdout and "== learning_with_adversary" not in run.stdout
    (message,) = [
        line for line in run.stderr.splitlines() if line.startswith("error: ")
    ]
    assert (
        "ValueError: profile must be one of" in message
        and "book/a3t.ipynb is unchanged" in message
    )
    assert {
        slug: (ROOT / "book" / f"{slug}.ipynb").read_bytes() for slug in pages
    } == pages
    (ROOT / "_build" / "failed" / "a3t.ipynb").unlink()


def test_make_goldens_goes_through_the_script():
    dry = subprocess.run(
        ["make", "-n", "goldens", "NB=a3t"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    command = " ".join(dry.stdout.replace("\\\n", " ").split())
    # in a copy of the working tree whose model cache starts empty, for NB alone
    assert "cd _build/golden && OMP_NUM_THREADS=1" in command
    assert (
        "tools/execute_notebook.py book/a3t.ipynb tests/notebooks/a3t.smoke.ipynb"
        in command
    )
    assert "wagan" not in command


# ---- The cache alone -----------------------------------------------------------------


def counting(result=None):
    calls = []

    def make():
        calls.append(1)
        return (
            result
            if result is not None
            else {"weights": torch.arange(4.0), "loss": [0.5, 0.25]}
        )

    return make, calls


def damage_truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def damage_empty(path):
    path.write_bytes(b"")


def damage_garbage(path):
    path.write_bytes(b"not a zip archive" * 10)


def damage_missing_keys(path):
    torch.save({"result": {"weights": torch.zeros(4)}}, path)


def damage_foreign_key(path):
    entry = torch.load(path, weights_only=True)
    torch.save({**entry, "key": "0" * 16}, path)


@pytest.mark.parametrize(
    "damage",
    [
        damage_truncate,
        damage_empty,
        damage_garbage,
        damage_missing_keys,
        damage_foreign_key,
    ],
    ids=lambda f: f.__name__.removeprefix("damage_"),
)
def test_a_damaged_entry_is_never_fatal_and_never_silent(damage, tmp_path, capsys):
    make, calls = counting()
    cached("toy", {"seed": 0}, make, root=tmp_path)
    (path,) = (tmp_path / "toy").glob("*.pt")
    damage(path)
    result = cached("toy", {"seed": 0}, make, root=tmp_path)
    assert len(calls) == 2 and torch.equal(result["weights"], torch.arange(4.0))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and path.name in lines[0]
    assert (
        "damaged" in lines[0]
        and "moved aside" in lines[0]
        and "training this model again" in lines[0]
    )
    assert [
        p.name.split(".damaged-")[0] for p in (tmp_path / "toy").glob("*.damaged-*")
    ] == [path.name]
    cached("toy", {"seed": 0}, make, root=tmp_path)  # the new entry is whole
    assert len(calls) == 2 and capsys.readouterr().err == ""


TRAINER = '''"""A training module (a stand-in for lib/train.py)."""


def step(w):
    return w * 2  # the update rule
'''


def test_a_changed_training_function_is_never_reused(tmp_path, monkeypatch):
    module_dir = tmp_path / "code"
    module_dir.mkdir()
    source = module_dir / "toytrainer.py"
    source.write_text(TRAINER)
    monkeypatch.syspath_prepend(str(module_dir))
    toytrainer = importlib.import_module("toytrainer")
    calls = []

    def make():
        calls.append(1)
        return {"w": torch.tensor(float(toytrainer.step(1)))}

    assert cached("toy", {"seed": 0}, make, root=tmp_path)["w"] == 2
    cached("toy", {"seed": 0}, make, root=tmp_path)
    assert len(calls) == 1
    source.write_text(
        TRAINER.replace("# the update rule", "# a comment, reworded").replace(
            "A training", "Some"
        )
    )
    importlib.reload(toytrainer)
    cached("toy", {"seed": 0}, make, root=tmp_path)
    # Comments and docstrings do not decide a model: no retraining
    assert len(calls) == 1
    source.write_text(TRAINER.replace("w * 2", "w * 3"))
    importlib.reload(toytrainer)
    # The old model is not reused
    assert cached("toy", {"seed": 0}, make, root=tmp_path)["w"] == 3
    assert len(calls) == 2


NOTEBOOK_CELLS = """
import torch
from lib.models import mlp

x_train = torch.arange(6.0)


def make_model(width):
    return mlp([784, width, 2])


def evaluate(model):
    return 0.5


def make():
    torch.manual_seed(0)
    return {"state": make_model(4).state_dict(), "data": x_train.sum()}
"""


def notebook_namespace(source):
    """Functions defined as a notebook's cells define them: in __main__, with no file
    of their own."""
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace


def test_the_key_follows_a_notebooks_helpers_and_data_not_its_other_cells():
    base = code_fingerprint(notebook_namespace(NOTEBOOK_CELLS)["make"])
    assert code_fingerprint(notebook_namespace(NOTEBOOK_CELLS)["make"]) == base
    changed = {
        "a helper make calls": NOTEBOOK_CELLS.replace(
            "[784, width, 2]", "[784, width, width, 2]"
        ),
        "the training data": NOTEBOOK_CELLS.replace(
            "torch.arange(6.0)", "torch.arange(6.0) / 2"
        ),
        "make itself": NOTEBOOK_CELLS.replace("manual_seed(0)", "manual_seed(1)"),
    }
    for what, source in changed.items():
        assert code_fingerprint(notebook_namespace(source)["make"]) != base, what
    unchanged = {
        "an evaluation function": NOTEBOOK_CELLS.replace("return 0.5", "return 0.75"),
        "a comment": NOTEBOOK_CELLS.replace(
            "def make():", "def make():  # trains\n    # a comment"
        ),
    }
    for what, source in unchanged.items():
        assert code_fingerprint(notebook_namespace(source)["make"]) == base, what
    namespace = notebook_namespace(NOTEBOOK_CELLS)
    # Edited in place: the same tensor object, new contents
    namespace["x_train"].add_(1)
    assert code_fingerprint(namespace["make"]) != base


def test_the_key_reaches_the_library_modules_that_train():
    namespace = notebook_namespace(
        NOTEBOOK_CELLS + "\nfrom lib.train import train\n"
        "def make_trained():\n    return train, make()\n"
    )
    walk = fingerprint._Walk()
    walk.visit(namespace["make_trained"])
    assert {
        "lib.train",
        "lib.models",
    } <= walk.modules and "lib.plots" not in walk.modules


def test_code_named_by_hand_joins_the_key():
    make, _ = counting()
    namespace = notebook_namespace(NOTEBOOK_CELLS)
    keys = {
        cache.cache_key({"seed": 0}, make, code)
        for code in [
            (),
            ("v1",),
            ("v2",),
            (namespace["evaluate"],),
            (namespace["make_model"],),
        ]
    }
    assert len(keys) == 5


def test_a_stale_partial_file_is_no_entry_and_is_cleared(tmp_path):
    make, calls = counting()
    key = cache.cache_key({"seed": 0}, make)
    (tmp_path / "toy").mkdir()
    # As a run killed while writing leaves it
    stale = tmp_path / "toy" / f"{key}.pt.999999-deadbeef.part"
    stale.write_bytes(b"half an entry")
    cached("toy", {"seed": 0}, make, root=tmp_path)
    assert len(calls) == 1 and not stale.exists()
    assert [p.name for p in (tmp_path / "toy").iterdir()] == [f"{key}.pt"]


def test_a_failed_write_keeps_the_result_and_says_so(tmp_path, capsys, monkeypatch):
    def full_disk(obj, path):
        open(path, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    make, calls = counting()
    result = cached("toy", {"seed": 0}, make, root=tmp_path)
    assert torch.equal(result["weights"], torch.arange(4.0))
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert (
        "could not save the cache entry" in line and "No space left on device" in line
    )
    assert "the next will train it again: free disk space" in line
    assert list((tmp_path / "toy").iterdir()) == []  # the partial file is gone


@pytest.mark.parametrize("keep", [0, 10, 0.25, 0.5, 0.75, -1])
def test_an_entry_cut_anywhere_is_damage_and_is_retrained(tmp_path, keep, capsys):
    # torch's zip reader fails differently depending on where the file ends
    # (RuntimeError, or an OSError with EINVAL): every one of them is damage.
    weights = {"weights": torch.arange(3000.0)}  # big enough for a cut inside the data
    make, calls = counting(weights)
    cached("toy", {"seed": 0}, make, root=tmp_path)
    (entry,) = (tmp_path / "toy").glob("*.pt")
    data = entry.read_bytes()
    entry.write_bytes(data[: keep if isinstance(keep, int) else int(keep * len(data))])
    result = cached("toy", {"seed": 0}, make, root=tmp_path)
    assert torch.equal(result["weights"], weights["weights"]) and len(calls) == 2
    assert "damaged cache entry" in capsys.readouterr().err
    assert len(list((tmp_path / "toy").glob("*.pt.damaged-*"))) == 1


def test_an_unreadable_entry_is_not_taken_for_damage(tmp_path):
    (tmp_path / "toy").write_text("a file where the cache's folder should be")
    make, calls = counting()
    with pytest.raises(
        OSError,
        match="cannot read the cache entry .*: fix its permissions, or move it out",
    ):
        cached("toy", {"seed": 0}, make, root=tmp_path)
    assert calls == []


def test_a_spec_with_a_memory_address_is_refused():
    make, _ = counting()
    with pytest.raises(
        ValueError, match="memory address.*put its name or its numbers in the spec"
    ):
        cache.cache_key({"loss": object()}, make)


def test_with_info_reports_training_time_and_whether_this_call_trained(tmp_path):
    make, _ = counting()
    _, info = cached("toy", {"seed": 0}, make, root=tmp_path, with_info=True)
    _, again = cached("toy", {"seed": 0}, make, root=tmp_path, with_info=True)
    assert (
        info["trained"]
        and not again["trained"]
        and again["train_s"] == info["train_s"] >= 0
    )
