"""The GAN paper's experiment: its stacks as jobs that load what they build on, and its
orderings decided on their weakest comparison."""

import pytest

from papers.gan_adversarial_training import report
from papers.gan_adversarial_training.config import PROFILES
from papers.gan_adversarial_training.experiment import MINMAX, stacks
from papers.gan_adversarial_training.training import pretrain_adversary, train_gan


def test_the_initialised_gans_start_from_adversaries_pretrained_on_vanilla():
    jobs = stacks(PROFILES["book"][0], [0, 1, 2])
    names = list(jobs)
    assert names.index("undefended") < names.index("pre-trained tanh adversary")
    pretrained = jobs["pre-trained tanh adversary"]
    assert pretrained.fn is pretrain_adversary
    assert pretrained.spec["vanilla"] == jobs["undefended"].spec
    initialised = jobs["initialised GAN tanh"]
    assert (
        initialised.fn is train_gan
        and initialised.spec["pretrained"] == pretrained.spec
    )
    assert jobs[MINMAX].spec["squash"] == "min-max"
    assert all(job.spec.get("seeds", [0, 1, 2]) == [0, 1, 2] for job in jobs.values())


def results(fgsm_by_model):
    """Evaluations of one seed: every model at every λ with the same accuracy."""
    lambdas = [round(0.1 * i, 1) for i in range(11)]
    return {
        ("fgsm", m): [{"fgsm": dict.fromkeys(lambdas, v), "ece": 5.0}]
        for m, v in fgsm_by_model.items()
    }


def test_at_best_almost_throughout_stands_on_its_eighty_percent_point():
    evaluated = results(
        {"undefended": 20.0, "random noise": 25.0, "adversarial training": 70.0}
        | dict.fromkeys(report.GANS, 40.0)
    )
    ((margin, se),) = report.Results(evaluated, 10_000).at_best_almost_throughout(0)
    assert margin == pytest.approx(30.0) and se > 0


def test_the_scaled_adversary_with_its_training_batch_statistics_is_a_reading():
    spec = {
        "id": "pretrained_scaled_vs_vanilla",
        "description": "vanilla under the pre-trained scaled adversary",
        "kind": "attack",
        "n": 10_000,
        "model": "undefended",
        "attack": "pre-trained scaled adversary",
        "lambda": 0.1,
        "reported": 46.28,
    }
    evaluated = {
        ("adversary", "pre-trained scaled adversary"): [
            {"eval": 80.0, "batch statistics": 46.0}
        ],
        ("adversary", "pre-trained min-max adversary"): [
            {"eval": 70.0, "batch statistics": 60.0}
        ],
    }
    record = report.scored(spec, evaluated, [0], 10_000, reading_rows=[{}])
    assert record["verdict"] == "not reproduced" and record["cause"] == "reading"
    assert record["evidence"]["reading"].startswith("the adversary with the batch")


def test_a_gans_own_adversary_on_its_training_batch_statistics_is_a_reading():
    spec = {
        "id": "own_adversary_drop_gan_scaled",
        "description": "GAN scaled: accuracy lost to its own adversary (points)",
        "kind": "drop",
        "n": 10_000,
        "model": "GAN scaled",
        "attack": "own GAN adversary",
        "lambda": 0.1,
        "drop": True,
        "reported": 1.29,
    }
    evaluated = results({"GAN scaled": 98.0})
    row = evaluated["fgsm", "GAN scaled"][0]
    row |= {"own": 97.9, "own, batch statistics": 96.8}
    record = report.scored(spec, evaluated, [0], 10_000, reading_rows=[{}])
    assert record["ours_mean"] == pytest.approx(0.1)
    assert record["cause"] == "reading"
    assert record["evidence"]["values"] == [pytest.approx(1.2)]
    row["own, batch statistics"] = 97.9  # the same drop under the reading: still open
    evaluated["train mode", "GAN scaled"] = [{"fgsm": {0.0: 97.0}, "own": 96.5}]
    record = report.scored(spec, evaluated, [0], 10_000, reading_rows=[{}])
    assert record["cause"] == "open"
    tried = {t["reading"]: t["ours"] for t in record["evidence"]["tried"]}
    assert tried == {
        "the adversary with the batch statistics it trained with": pytest.approx(0.1),
        report.TRAIN_MODE: pytest.approx(0.5),
    }


def test_the_gan_adversaries_against_the_others_skip_their_own_defender():
    spec = {
        "id": "gan_adversaries_vs_others",
        "description": "every GAN adversary against the other defenders",
        "kind": "attack",
        "n": 10_000,
        "reported": 97.0,
    }
    eval_mode = {"a": {"a": 10.0, "b": 99.0}, "b": {"a": 99.0, "b": 10.0}}
    trained_with = {"a": {"a": 10.0, "b": 97.0}, "b": {"a": 97.2, "b": 10.0}}
    evaluated = {
        ("cross", "all"): [{"eval": eval_mode, "batch statistics": trained_with}]
    }
    record = report.scored(spec, evaluated, [0], 10_000, reading_rows=[{}])
    assert record["ours_mean"] == pytest.approx(99.0)
    assert record["cause"] == "reading"
    assert record["evidence"]["values"] == [pytest.approx(97.1)]


PRETRAINED_TANH = {
    "id": "pretrained_tanh_vs_vanilla",
    "description": "vanilla under the pre-trained tanh adversary",
    "kind": "attack",
    "n": 10_000,
    "model": "undefended",
    "attack": "pre-trained tanh adversary",
    "lambda": 0.1,
    "reported": 20.41,
}
FGSM_VANILLA = {
    "id": "fgsm_vs_vanilla",
    "description": "vanilla under FGSM",
    "kind": "attack",
    "n": 10_000,
    "model": "undefended",
    "attack": "FGSM",
    "lambda": 0.1,
    "reported": 85.42,
}


def eval_and_train_mode(fgsm_eval, fgsm_train, tanh_eval, tanh_train):
    """The vanilla model's evaluations of one seed, in eval and in train mode."""
    return {
        ("fgsm", "undefended"): [{"fgsm": {0.0: 98.0, 0.1: fgsm_eval}}],
        ("adversary", "pre-trained tanh adversary"): [
            {"eval": tanh_eval, "batch statistics": tanh_eval}
        ],
        ("train mode", "undefended"): [
            {
                "fgsm": {0.0: 98.0, 0.1: fgsm_train},
                "pre-trained tanh adversary": tanh_train,
            }
        ],
    }


def test_every_claim_is_scored_again_on_the_train_mode_evaluation():
    evaluated = eval_and_train_mode(21.0, 87.0, 20.0, 92.0)
    ours = report.under_train_mode(PRETRAINED_TANH, evaluated, [0], 10_000)
    assert ours["ours_mean"] == pytest.approx(92.0)
    assert ours["verdict"] == "not reproduced"
    cross = {**PRETRAINED_TANH, "id": "gan_adversaries_vs_others"}
    assert report.under_train_mode(cross, evaluated, [0], 10_000) is None


def test_the_train_mode_sentence_counts_what_the_reading_closes_and_loses():
    evaluated = eval_and_train_mode(21.0, 87.0, 20.0, 92.0)
    specs = [PRETRAINED_TANH, FGSM_VANILLA]
    claims = [report.scored(s, evaluated, [0], 10_000, [{}]) for s in specs]
    assert [c["verdict"] for c in claims] == ["reproduced", "not reproduced"]
    others = [report.under_train_mode(s, evaluated, [0], 10_000) for s in specs]
    text = report.train_mode_text(claims, others)
    assert "1 of the 2 claims" in text and "against 1 in eval mode" in text
    assert "closes 1 (vanilla under FGSM)" in text
    assert "loses 1 (vanilla under the pre-trained tanh adversary, not" in text
    assert "favour neither mode" in text  # one closed, one lost
    table = report.train_mode_table(claims, others)
    assert list(table["verdict, train mode"]) == ["not reproduced", "reproduced"]


def test_every_model_is_evaluated_in_train_mode_the_vanilla_against_its_adversaries():
    from papers.gan_adversarial_training.experiment import evaluation_jobs

    train_cfg, eval_cfg = PROFILES["smoke"]
    trainings = stacks(train_cfg, [0])
    evaluations = evaluation_jobs(trainings, eval_cfg)
    modes = {name: j for (kind, name), j in evaluations.items() if kind == "train mode"}
    assert set(modes) == {"undefended", "random noise", "adversarial training"} | set(
        report.GANS
    )
    assert set(modes["undefended"].spec["adversaries"]) == {
        f"pre-trained {q} adversary" for q in ("tanh", "scaled", "min-max")
    }
    assert all(not j.spec["adversaries"] for n, j in modes.items() if n != "undefended")
