"""Attack throughput (samples/s) of lib.attacks against torchattacks and foolbox: same
model, same batch, same settings.

Run with `make bench` (or `PYTHONPATH=. python tools/bench_attacks.py [--model
mlp|lenet] [--n 256] [--repeats 3]`). All three run side by side in this one process,
interleaved repeat by repeat so that a change in the machine's load hits each alike; the
median of the repeats is quoted, and the ratio is ours / peer (> 1: ours is faster). The
models are the ones tests/test_attack_peers.py trains once through the cache.
"""

import argparse
import statistics
import time

import foolbox
import torch
import torchattacks

from lib import attacks
from lib.data import load_mnist
from papers.adversary_critic import attacks as critic_attacks
from tests.test_attack_peers import SPECS, trained

# torchattacks' DeepFool loops over the examples one by one (about 0.3 s each on one CPU
# core), so its row uses a smaller batch, the same for all three; a small batch only
# understates a vectorised attack's throughput.
DEEPFOOL_BATCH = 32


def rows(model, fmodel):
    """(attack, settings, ours, torchattacks or None, foolbox or None): callables x, y
    -> x_adv at equal settings."""

    def fb(attack, **kwargs):
        return lambda x, y: attack(fmodel, x, y, **kwargs)[0]

    def ta(attack):
        return lambda x, y: attack(x, y)

    return [
        (
            "FGSM",
            "Linf eps 0.1",
            lambda x, y: attacks.fgsm(model, x, y, eps=0.1),
            ta(torchattacks.FGSM(model, eps=0.1)),
            fb(
                foolbox.attacks.LinfFastGradientAttack(random_start=False), epsilons=0.1
            ),
        ),
        (
            "PGD",
            "Linf eps 0.1, alpha 0.01, 40 steps, random start",
            lambda x, y: attacks.pgd(
                model, x, y, eps=0.1, alpha=0.01, steps=40, seed=0
            ),
            ta(
                torchattacks.PGD(
                    model, eps=0.1, alpha=0.01, steps=40, random_start=True
                )
            ),
            fb(
                foolbox.attacks.LinfPGD(abs_stepsize=0.01, steps=40, random_start=True),
                epsilons=0.1,
            ),
        ),
        (
            "DeepFool",
            f"L2, 50 steps, overshoot 0.02, batch {DEEPFOOL_BATCH}",
            lambda x, y: attacks.deepfool(model, x, y, steps=50, overshoot=0.02),
            ta(torchattacks.DeepFool(model, steps=50, overshoot=0.02)),
            fb(
                foolbox.attacks.L2DeepFoolAttack(
                    steps=50, overshoot=0.02, candidates=10
                ),
                epsilons=None,
            ),
        ),
        # torchattacks' CW has no binary search (one fixed c): compare it
        # at one constant.
        (
            "C&W",
            "c 1, 100 steps, lr 0.01, no binary search",
            lambda x, y: critic_attacks.cw_l2(
                model, x, y, c=1.0, steps=100, binary_steps=1
            ),
            ta(torchattacks.CW(model, c=1.0, kappa=0, steps=100, lr=0.01)),
            fb(
                foolbox.attacks.L2CarliniWagnerAttack(
                    binary_search_steps=1, initial_const=1.0, steps=100, stepsize=0.01
                ),
                epsilons=None,
            ),
        ),
        (
            "C&W",
            "9 binary steps from c 1e-3, 100 steps, lr 0.01",
            lambda x, y: critic_attacks.cw_l2(
                model, x, y, c=1e-3, steps=100, binary_steps=9
            ),
            None,
            fb(
                foolbox.attacks.L2CarliniWagnerAttack(
                    binary_search_steps=9, initial_const=1e-3, steps=100, stepsize=0.01
                ),
                epsilons=None,
            ),
        ),
    ]


def seconds(fn, x, y, number=1):
    """Wall time of `number` calls, per call; CUDA work is waited for."""
    start = time.perf_counter()
    for _ in range(number):
        fn(x, y)
    if x.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / number


def cell(rate, k):
    """A contender's samples/s, or a dash where it has no such attack."""
    return f"{rate[k]:8.0f}" if k in rate else f"{'-':>8}"


def ratio(rate, k):
    """Ours / a peer's samples/s, or a dash where the peer has no such attack."""
    return f"{rate['ours'] / rate[k]:5.1f}x" if k in rate else f"{'-':>6}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SPECS), default="mlp")
    parser.add_argument("--n", type=int, default=256, help="batch size (test points)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="attack names to run (default: all)")
    args = parser.parse_args()
    if args.n < 1 or args.repeats < 1:
        raise ValueError(
            f"n and repeats must be positive, got n={args.n}, repeats={args.repeats}"
        )

    x_train, y_train = load_mnist("train")
    model = trained(args.model, x_train, y_train)
    x, y = load_mnist("test")
    x, y = x[: args.n], y[: args.n]
    fmodel = foolbox.PyTorchModel(model, bounds=(0, 1))

    print(
        f"model {args.model}, batch {args.n}, median of {args.repeats}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    header = (
        f"{'attack':<9} {'settings':<50} {'ours/s':>8} {'ta/s':>8} {'fb/s':>8} "
        f"{'vs ta':>6} {'vs fb':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, settings, ours, ta, fb in rows(model, fmodel):
        if args.only and name not in args.only:
            continue
        contenders = {"ours": ours, "ta": ta, "fb": fb}
        contenders = {k: v for k, v in contenders.items() if v is not None}
        for fn in contenders.values():
            fn(x[:8], y[:8])  # warm-up: first-call allocations and lazy imports
        n = min(args.n, DEEPFOOL_BATCH) if name == "DeepFool" else args.n
        # A fast attack is timed over several calls, so that one measurement lasts ~0.25
        # s and timer noise fades.
        number = max(1, int(0.25 / seconds(ours, x[:n], y[:n])))
        times = {k: [] for k in contenders}
        for _ in range(args.repeats):
            for k, fn in contenders.items():
                times[k].append(seconds(fn, x[:n], y[:n], number))
        rate = {k: n / statistics.median(v) for k, v in times.items()}
        cells = " ".join(cell(rate, k) for k in ("ours", "ta", "fb"))
        ratios = " ".join(ratio(rate, k) for k in ("ta", "fb"))
        print(f"{name:<9} {settings:<50} {cells} {ratios}", flush=True)


if __name__ == "__main__":
    main()
