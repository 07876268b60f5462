"""WAGAN's pipeline as jobs for lib.jobs, each a cache entry that loads what it builds
on through the cache: the target; the generators trained against it; the authors' PGD
sets, a chunk of images a job; and the targets retrained, from scratch, on each
attack's adversarial training images. Kept apart from the evaluation, so that editing
an evaluation keeps the models' keys."""

import torch

from lib import jobs
from lib.data import Batches, load_mnist
from lib.runtime import seed_everything
from lib.train import fit
from papers.wagan.sinkhorn import sinkhorn
from papers.wagan.wagan import (
    FreshAdams,
    TargetNet,
    classifier_step,
    discriminator,
    generate,
    generator,
    init_weights,
    iterative_fgsm,
    wagan_step,
)

SLUG = "wagan"
SINKHORN = ("sinkhorn_epsilon", "sinkhorn_iters", "sinkhorn_tol", "sinkhorn_delta")


def sinkhorn_kwargs(gan):
    return {name.split("_")[1]: gan[name] for name in SINKHORN}


def train_classifier(
    *,
    data,
    epochs,
    batch_size,
    switch_after,
    shuffle,
    lr,
    lr_late,
    seed,
    target,
    device,
):
    """A job: a TargetNet (dropout as `target` says) trained with the authors'
    schedule, a fresh Adam at lr_late after switch_after epochs, on `data`: the clean
    training images ({"clean": n}) or an attack's adversarial ones (adversarial_set)."""
    x, y = training_set(data, device)
    seed_everything(seed)
    model = TargetNet(target["always_on_dropout"]).to(device)
    adams = FreshAdams(model, lr=lr, lr_late=lr_late, switch_after=switch_after)
    history = fit(
        classifier_step(model, adams),
        Batches(x, y, batch_size=batch_size, seed=seed, shuffle=shuffle),
        epochs=epochs,
        modules=(model,),
        after_epoch=adams,
        state=(adams,),
    )
    return {"state": model.state_dict(), "history": history}


def training_set(data, device):
    """(x, y): the first n clean training images, or an attack's adversarial images
    of them with their true labels."""
    x, y = load_mnist("train", device=device)
    if "clean" in data:
        return x[: data["clean"]], y[: data["clean"]]
    return adversarial_set(data, "train", device), y[: data["n"]]


def adversarial_set(data, split, device):
    """An attack's examples of the first n images of `split`: the authors' PGD,
    concatenated from its chunks' entries, or a generator's."""
    if "pgd" in data:
        chunks = [jobs.result(job, device) for job in pgd_chunks(data["pgd"], split)]
        return torch.cat([c.to(device) for c in chunks])
    x, _ = load_mnist(split, device=device)
    g = trained_generator(data["generator"], device)
    return generate(g, x[: data["n"]], bound=data["generator"]["gan"]["bound"])[0]


def pgd_chunks(pgd, split):
    """The jobs of the authors' PGD on the first n images of a split, chunk by chunk."""
    n = pgd["n"][split]
    return [
        jobs.Job(
            SLUG,
            pgd_chunk,
            {
                **pgd["spec"],
                "split": split,
                "start": s,
                "stop": min(s + pgd["spec"]["chunk"], n),
            },
        )
        for s in range(0, n, pgd["spec"]["chunk"])
    ]


def pgd_chunk(
    *, split, start, stop, eps, alpha, steps, batch_size, chunk, target, seed, device
):
    """A job: the authors' PGD (iterative FGSM: `steps` steps of clamp(α·sign ∇, ±ε),
    unprojected) against the target with its dropout on, on images start:stop."""
    x, y = load_mnist(split, device=device)
    x, y = x[start:stop], y[start:stop]
    model = trained_target(target, device)
    seed_everything(seed + start)
    return torch.cat(
        [
            iterative_fgsm(
                model,
                x[i : i + batch_size],
                y[i : i + batch_size],
                eps=eps,
                alpha=alpha,
                steps=steps,
            )
            for i in range(0, len(x), batch_size)
        ]
    )


def trained_target(spec, device):
    """A trained TargetNet from its job's spec (in eval mode; its dropout as the
    spec says)."""
    model = TargetNet(spec["target"]["always_on_dropout"]).to(device)
    model.load_state_dict(
        jobs.result(jobs.Job(SLUG, train_classifier, spec), device)["state"]
    )
    return model.eval()


def train_generator(*, beta, wasserstein, gan, target, seed, device, advgan=None):
    """A job: AdvGAN's generator and discriminator in the game against the trained
    target (`target`: its job's spec), β weighting the perturbation's norm; the
    extension's hinge ("hinge") binds at c = hinge_c_fraction × the median d_W of
    AdvGAN's examples (`advgan`: its job's spec). d_W logged after each epoch."""
    x, y = load_mnist("train", device=device)
    x, y = x[: gan["n_train"]], y[: gan["n_train"]]
    x_log, kwargs = x[: gan["n_w_log"]], sinkhorn_kwargs(gan)
    hinge_c = 0.0
    if advgan is not None:
        x_adv, _ = generate(
            trained_generator(advgan, device), x_log, bound=gan["bound"]
        )
        median = sinkhorn(x_log, x_adv, **kwargs).median().item()
        hinge_c = round(gan["hinge_c_fraction"] * median, 3)
    model = trained_target(target, device)
    seed_everything(seed)
    g = generator().apply(init_weights).to(device)
    d = discriminator().apply(init_weights).to(device)
    adams = FreshAdams(
        g, d, lr=gan["lr"], lr_late=gan["lr_late"], switch_after=gan["switch_after"]
    )
    step = wagan_step(
        g,
        d,
        model,
        adams,
        alpha=gan["alpha"],
        beta=beta,
        bound=gan["bound"],
        wasserstein=wasserstein,
        hinge_c=hinge_c,
        sinkhorn_kwargs=kwargs,
    )

    def after_epoch(history):
        adams()
        x_adv, _ = generate(g, x_log, bound=gan["bound"])
        return {"d_w": sinkhorn(x_log, x_adv, **kwargs).mean().item()}

    history = fit(
        step,
        Batches(x, y, batch_size=gan["batch_size"], seed=seed),
        epochs=gan["epochs_gan"],
        modules=(g, d),
        after_epoch=after_epoch,
        state=(adams,),
    )
    return {"generator": g.state_dict(), "history": history, "hinge_c": hinge_c}


def trained_generator(spec, device):
    """A trained generator from its job's spec, in train mode as the authors' (its
    batch norm on each batch's statistics)."""
    g = generator().to(device)
    g.load_state_dict(
        jobs.result(jobs.Job(SLUG, train_generator, spec), device)["generator"]
    )
    return g
