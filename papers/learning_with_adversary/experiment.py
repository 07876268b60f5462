"""What the Learning with Adversary page trains and evaluates, as job lists (lib.jobs):
every row of Tables 1 and 2 as one stack of seeds, the readings' rows beside them, and
each stack's evaluations. `python tools/run_jobs.py learning_with_adversary` runs them
all ahead of the page, which then loads them from the cache."""

import re

from lib import jobs
from lib.profiles import resolve_profile
from papers.learning_with_adversary import evaluation
from papers.learning_with_adversary.config import PAPER_NAMES, PROFILES, SLUG
from papers.learning_with_adversary.training import ABLATION, LINF, train_stack

TRAINING = ("hidden", "dropout", "goodfellow_eps", "lr", "batch_size", "split_seed")


def row_specs(cfg, seeds):
    """{(arch, row): train_stack's spec}: the paper's rows, then the readings' rows on
    the same seeds. The undefended networks train one seed more: the Fixed sets of
    seed s are made on the undefended network of seed s + 1."""
    seeds = list(seeds)
    base = {name: getattr(cfg, name) for name in TRAINING}
    base |= {"epochs": cfg.epochs, "n_train": cfg.n_train, "c": cfg.c}

    def spec(arch, method, members=seeds, keep=cfg.trend_epochs, **options):
        head = {"arch": arch, "method": method, "seeds": members, "keep": list(keep)}
        return head | base | options

    every_epoch = range(1, cfg.epochs + 1)  # Fig. 2: LWA's LeNet after each epoch
    rows = {
        ("MLP", "undefended"): spec("MLP", "undefended", [*seeds, len(seeds)]),
        **{("MLP", m): spec("MLP", m) for m in ("Dropout", "Goodfellow", "LWA")},
        ("MLP", "LWA_Rep"): spec("MLP", "LWA_Rep"),
        ("LeNet", "undefended"): spec("LeNet", "undefended", [*seeds, len(seeds)]),
        ("LeNet", "LWA"): spec("LeNet", "LWA", keep=every_epoch),
        ("MLP", ABLATION): spec("MLP", ABLATION),
        ("MLP", f"Dropout (input {cfg.input_dropout:g})"): spec(
            "MLP", "Dropout", input_dropout=cfg.input_dropout
        ),
        ("MLP", f"LWA_Rep (c = {cfg.rep_relative_c:g}·‖h‖)"): spec(
            "MLP", "LWA_Rep", c=cfg.rep_relative_c, relative_c=True
        ),
        ("MLP", f"LWA_Rep ({cfg.rep_units})"): spec(
            "MLP", "LWA_Rep", units=cfg.rep_units
        ),
        ("MLP", f"LWA_Rep (h after {cfg.rep_layers_deep} layers)"): spec(
            "MLP", "LWA_Rep", rep_layers=cfg.rep_layers_deep
        ),
    }
    for arch, method in (
        ("MLP", "undefended"),
        ("LeNet", "undefended"),
        ("MLP", "LWA"),
        ("LeNet", "LWA"),
    ):
        rows[arch, longer_row(method, cfg.long_epochs)] = spec(
            arch, method, keep=(), epochs=cfg.long_epochs
        )
    for eps in cfg.goodfellow_linf:
        rows["MLP", f"{LINF[:-1]} {eps:g})"] = spec("MLP", LINF, goodfellow_linf=eps)
    return rows


def longer_row(method, epochs):
    """The name of a method's row trained for `epochs`: "<paper's name> (N epochs)"."""
    return f"{PAPER_NAMES.get(method, method)} ({epochs} epochs)"


LONGER = re.compile(r"(?P<name>.+) \((?P<epochs>\d+) epochs\)")  # longer_row's names


def sweep_spec(cfg, seed, h_norm):
    """LWA_Rep at c = fractions of the undefended MLP's median ‖h‖ (h_norm), one seed,
    the fractions as the members of one stack."""
    cs = [round(r * h_norm, 3) for r in cfg.rep_c_ratios]
    spec = row_specs(cfg, [seed])["MLP", "LWA_Rep"]
    return spec | {"seeds": [seed] * len(cs), "c": cs, "keep": []}


def cost(spec):
    """A stack's training cost in network-epochs (an adversarial example doubles a
    batch's passes): the pool takes its jobs in order, so the longest start first and
    no core idles long at the end while another finishes."""
    passes = 1 if spec["method"] in ("undefended", "Dropout") else 2
    return spec["epochs"] * len(spec["seeds"]) * passes


def training_jobs(specs):
    return {key: jobs.Job(SLUG, train_stack, spec) for key, spec in specs.items()}


def evaluation_jobs(specs, eval_cfg):
    """Each stack's evaluations: {(kind, arch, row): Job}."""
    out = {}
    for (arch, row), spec in specs.items():
        fixed = specs[arch, "undefended"]
        lenet = specs.get(("LeNet", "undefended"), fixed)
        for kind in evaluation.kinds(arch, row):
            out[kind, arch, row] = evaluation.job(kind, spec, fixed, lenet, eval_cfg)
    return out


def run_all(profile, workers=None):
    """Every job of the page: the stacks, then (once the undefended MLP has set the
    sweep's c) the sweep and every evaluation in one pool."""
    train_cfg, eval_cfg = resolve_profile(PROFILES, profile)
    specs = row_specs(train_cfg, range(eval_cfg.seeds))
    longest_first = sorted(training_jobs(specs).values(), key=lambda j: -cost(j.spec))
    jobs.run(longest_first, workers=workers)
    normal = jobs.result(training_jobs(specs)["MLP", "undefended"])
    h_norm = evaluation.feature_norm_of(normal["states"][0], train_cfg)
    specs["MLP", "LWA_Rep sweep"] = sweep_spec(train_cfg, 0, h_norm)
    sweep = training_jobs({"sweep": specs["MLP", "LWA_Rep sweep"]})
    every = [*sweep.values(), *evaluation_jobs(specs, eval_cfg).values()]
    jobs.run(every, workers=workers)
