"""Our attacks' peers in torchattacks and foolbox at the settings of ours, and the clock
that times them side by side: what the attacks page compares. Every attack is a callable
(x, y) -> x_adv on one model."""

import time

import foolbox
import numpy as np
import torch
import torchattacks

# The attacks measured by their perturbations' norms (ρ) rather than by accuracy
MIN_NORM = {"DeepFool", "C&W, binary search", "C&W, one c", "High-confidence"}


def peers(model, c, device):
    """{attack: {library: callable}}: torchattacks' and foolbox's versions of our
    attacks at the settings `c` (the attacks page's Config), where a library has one."""
    fmodel = foolbox.PyTorchModel(model, bounds=(0, 1), device=device)

    def fb(attack, **kwargs):  # [1]: the output clipped to the eps-ball
        return lambda x, y: attack(fmodel, x, y, **kwargs)[1]

    def fb_cw(binary_steps, const):
        attack = foolbox.attacks.L2CarliniWagnerAttack(
            binary_search_steps=binary_steps,
            steps=c.cw_steps,
            stepsize=c.cw_lr,
            initial_const=const,
        )
        return foolbox_cw(fmodel, attack)

    linf_pgd = foolbox.attacks.LinfPGD(abs_stepsize=c.pgd_alpha_linf, steps=c.pgd_steps)
    l2_pgd = foolbox.attacks.L2PGD(abs_stepsize=c.pgd_alpha_l2, steps=c.pgd_steps)
    deepfool = foolbox.attacks.L2DeepFoolAttack(
        steps=c.deepfool_steps, candidates=10, overshoot=c.overshoot
    )
    return {
        "FGSM": {
            "torchattacks": torchattacks.FGSM(model, eps=c.eps_linf),
            "foolbox": fb(
                foolbox.attacks.LinfFastGradientAttack(random_start=False),
                epsilons=c.eps_linf,
            ),
        },
        "PGD L∞": {
            "torchattacks": torchattacks.PGD(
                model, eps=c.eps_linf, alpha=c.pgd_alpha_linf, steps=c.pgd_steps
            ),
            "foolbox": fb(linf_pgd, epsilons=c.eps_linf),
        },
        "PGD L2": {
            "torchattacks": torchattacks.PGDL2(
                model, eps=c.eps_l2, alpha=c.pgd_alpha_l2, steps=c.pgd_steps
            ),
            "foolbox": fb(l2_pgd, epsilons=c.eps_l2),
        },
        "DeepFool": {
            "torchattacks": torchattacks.DeepFool(
                model, steps=c.deepfool_steps, overshoot=c.overshoot
            ),
            "foolbox": fb(deepfool, epsilons=None),
        },
        "C&W, binary search": {"foolbox": fb_cw(c.cw_binary_steps, c.cw_c)},
        "C&W, one c": {
            "torchattacks": torchattacks.CW(
                model, c=c.cw_fixed_c, kappa=0, steps=c.cw_steps, lr=c.cw_lr
            ),
            "foolbox": fb_cw(1, c.cw_fixed_c),
        },
    }


def foolbox_cw(fmodel, attack):
    """foolbox's C&W with its failures as ours are: x itself. foolbox returns an
    all-zero image where no constant succeeded, which the model usually misclassifies,
    so its own success flag would count those failures as successes."""

    def run(x, y):
        x_adv = attack(fmodel, x, y, epsilons=None)[0]
        failed = x_adv.flatten(1).amax(1) == 0
        return torch.where(failed.view(-1, 1, 1, 1), x, x_adv)

    return run


def run_and_time(contenders, x, y):
    """{library: [x_adv, seconds per call]} of each contender on (x, y). A fast attack
    (every contender under 1 s) is timed again, interleaved with its peers so that a
    change in the machine's load hits all alike: the median of 5, each over ~0.1 s of
    calls."""
    out = {}
    for library, fn in contenders.items():
        fn(x[:2], y[:2])  # warm-up: first-call costs are not the attack's
        start = time.perf_counter()
        x_adv = fn(x, y).detach()
        out[library] = [x_adv, time.perf_counter() - start]
    if max(seconds for _, seconds in out.values()) < 1.0:
        number = {
            library: int(0.1 / max(seconds, 1e-4)) + 1
            for library, (_, seconds) in out.items()
        }
        times = {library: [] for library in contenders}
        for _ in range(5):
            for library, fn in contenders.items():
                times[library].append(seconds_per_call(fn, x, y, number[library]))
        for library in contenders:
            out[library][1] = float(np.median(times[library]))
    return out


def seconds_per_call(fn, x, y, number=1):
    """Mean seconds of `number` calls of fn(x, y), CUDA work waited for."""
    start = time.perf_counter()
    for _ in range(number):
        x_adv = fn(x, y)
    if x_adv.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / number
