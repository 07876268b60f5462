"""The adversary critic's ten models (two networks × five methods) as cache entries: a
job function for lib.jobs, and the model it returns, loaded. Kept apart from the
evaluation, so that editing an evaluation keeps the models' keys."""

from functools import partial

import torch

from lib.data import Batches, load_mnist
from lib.runtime import seed_everything
from lib.train import HalveEvery, Snapshots, fit
from papers.adversary_critic.critic import (
    RunningConfidence,
    adversary_critic_step,
    critic_net,
    pretrain_step,
)
from papers.adversary_critic.models import fc_net, lenet
from papers.adversary_critic.regularizers import (
    at_loss,
    ce_loss,
    mm_loss,
    regularized_step,
    vat_loss,
)

VALIDATION = 10_000  # the authors' TF reader holds the first 10,000 training images out


def make_net(net, init="he"):
    """The FC net or LeNet-5 (papers.adversary_critic.models), on the CPU."""
    if net not in ("fc", "lenet"):
        raise ValueError(f"net must be 'fc' or 'lenet', got {net!r}")
    return fc_net(init=init) if net == "fc" else lenet(init=init)


def baseline(net, method, cfg, device):
    """Reference, AT, VAT or MM: Adam 1e-3 ×0.95 a epoch on the method's loss."""
    losses = {
        "undefended": ce_loss,
        "at": partial(at_loss, eps=cfg["at_eps"]),
        "vat": partial(vat_loss, eps=cfg["vat_eps"], xi=cfg["vat_xi"]),
        "mm": partial(mm_loss, lam=cfg["mm_lam"]),
    }
    model = make_net(net, cfg["baseline_init"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["baseline_lr"])
    decay = torch.optim.lr_scheduler.ExponentialLR(
        optimizer, gamma=cfg["baseline_lr_decay"]
    )
    return {
        "model": model,
        "modules": (model,),
        "step": partial(regularized_step, losses[method], model, optimizer=optimizer),
        "schedule": decay,
        "state": (optimizer, decay),
    }


def adversary_critic(net, cfg, device):
    """Ours: the classifier, its critic and the running class confidence; one Adam
    for pre-training and training, as the authors' code."""
    model = make_net(net).to(device)
    critic = critic_net(
        tuple(cfg["critic_hidden"]),
        input_noise=cfg["critic_input_noise"],
        hidden_noise=cfg["critic_hidden_noise"],
    ).to(device)
    running = RunningConfidence(decay=cfg["confidence_decay"], device=device)
    betas = (cfg["beta1"], 0.999)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=betas)
    critic_optimizer = torch.optim.Adam(
        critic.parameters(), lr=cfg["critic_lr"], betas=betas
    )
    halve = HalveEvery(optimizer, critic_optimizer, epochs=cfg["halve_every"])
    step = partial(
        adversary_critic_step,
        model,
        critic,
        running=running,
        optimizer=optimizer,
        critic_optimizer=critic_optimizer,
        lam=cfg["lam_fc"] if net == "fc" else cfg["lam_lenet"],
        lam_rec=cfg["lam_rec"],
        lam_grad=cfg["lam_grad"],
        steps=cfg["attack_steps"],
        overshoot=cfg["attack_overshoot"],
    )
    pretrain = partial(
        pretrain_step,
        model,
        running=running,
        optimizer=optimizer,
        weight_decay=cfg["weight_decay_pretrain"],
    )
    return {
        "model": model,
        "critic": critic,
        "running": running,
        "modules": (model, critic),
        "pretrain": pretrain,
        "step": step,
        "schedule": halve,
        "state": (optimizer, critic_optimizer, running, halve),
    }


def train_model(*, net, method, seed, train, device, progress=False):
    """A job (lib.jobs): {"state", "history", "trend": {epoch: weights}} of one model,
    and Ours' critic and running confidence; `train` is TrainConfig as a dict. The
    same seed gives every method of a network the same initial weights and batches."""
    x_all, y_all = load_mnist("train", device=device)
    data = slice(VALIDATION, VALIDATION + train["n_train"])
    seed_everything(seed)
    run = (
        adversary_critic(net, train, device)
        if method == "ours"
        else baseline(net, method, train, device)
    )
    batches = Batches(
        x_all[data], y_all[data], batch_size=train["batch_size"], seed=seed
    )
    history, desc = {}, f"{net} {method}, seed {seed}"
    if method == "ours":
        history["pretrain"] = fit(
            run["pretrain"],
            batches,
            epochs=train["epochs_pretrain"],
            modules=(run["model"],),
            progress=progress,
            desc=f"{desc}, pre-training",
            state=(run["state"][0], run["running"]),
        )
    trend = Snapshots(run["model"], train["trend_epochs"])

    def after_epoch(history_):
        if method == "ours":
            run["schedule"]()  # HalveEvery
        else:
            run["schedule"].step()  # ExponentialLR
        trend()

    history["train"] = fit(
        run["step"],
        batches,
        epochs=train["epochs"],
        modules=run["modules"],
        after_epoch=after_epoch,
        progress=progress,
        desc=desc,
        state=(*run["state"], trend),
    )
    result = {"state": run["model"].state_dict(), "history": history}
    result["trend"] = trend.states
    if method == "ours":
        result["critic"] = run["critic"].state_dict()
        result["running"] = run["running"].state_dict()
    return result


def load(net, state, device="cpu"):
    """A trained network from its weights, in eval mode."""
    model = make_net(net).to(device)
    model.load_state_dict(state)
    return model.eval()
