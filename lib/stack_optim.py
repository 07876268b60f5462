"""Training a stack (lib/stack.py): each member's own batches, and optimizers whose
learning rate is one per member."""

import math

import torch

from lib.data import Batches


class StackedBatches:
    """Batches for a stack: member e's batches are those of Batches(..., seed=seeds[e]),
    in the same order, joined member-major into one batch of E blocks."""

    def __init__(self, *tensors, batch_size, seeds, shuffle=True, drop_last=False):
        self.members = [
            Batches(
                *tensors,
                batch_size=batch_size,
                seed=seed,
                shuffle=shuffle,
                drop_last=drop_last,
            )
            for seed in seeds
        ]
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle

    def __len__(self):
        return len(self.members[0])

    def state_dict(self):
        return {"members": [b.state_dict() for b in self.members]}

    def load_state_dict(self, state):
        for member, saved in zip(self.members, state["members"], strict=True):
            member.load_state_dict(saved)

    def __iter__(self):
        n = len(self.tensors[0])
        orders = torch.stack(
            [
                torch.randperm(n, generator=b.generator)
                if self.shuffle
                else torch.arange(n)
                for b in self.members
            ]
        ).to(self.tensors[0].device)
        for i in range(len(self)):
            index = orders[:, i * self.batch_size : (i + 1) * self.batch_size].flatten()
            yield tuple(t[index] for t in self.tensors)


class _MemberOptimizer(torch.optim.Optimizer):
    """An optimizer over a stack's tensors whose learning rate is an (E,) tensor:
    one rate per member, which HalveOnIncrease and HalveEvery change as they change
    a plain optimizer's."""

    def __init__(self, params, lr, defaults):
        super().__init__(params, dict(defaults, lr=0.0))
        for group in self.param_groups:
            count = {len(p) for p in group["params"]}
            if len(count) != 1:
                raise ValueError(
                    "the parameters of a stack have one leading size, "
                    f"got {sorted(count)}"
                )
            group["lr"] = (
                torch.as_tensor(
                    lr, dtype=group["params"][0].dtype, device=group["params"][0].device
                )
                .expand(count.pop())
                .clone()
            )

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        # A checkpoint is read onto the CPU: each rate goes back beside its parameters
        for group in self.param_groups:
            group["lr"] = group["lr"].to(group["params"][0].device)

    @staticmethod
    def _rate(lr, p):
        return lr.view(-1, *[1] * (p.dim() - 1))


class StackedSGD(_MemberOptimizer):
    """torch.optim.SGD's update (momentum, weight decay; no dampening, no Nesterov) with
    one rate per member. Every step works in place in buffers kept from step to step:
    fresh stack-sized temporaries are slow here."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr, dict(momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = state.setdefault("scratch", torch.empty_like(p))
                    torch.add(p.grad, p, alpha=group["weight_decay"], out=grad)
                if group["momentum"] != 0:
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = grad.clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                    grad = state["momentum_buffer"]
                p.addcmul_(grad, self._rate(group["lr"], p), value=-1)


class StackedAdam(_MemberOptimizer):
    """torch.optim.Adam's update (L2 weight decay, no AMSGrad) with one rate per member,
    in place as above."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(
            params, lr, dict(betas=betas, eps=eps, weight_decay=weight_decay)
        )

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(
                        step=0,
                        exp_avg=torch.zeros_like(p),
                        exp_avg_sq=torch.zeros_like(p),
                        scratch=torch.empty_like(p),
                    )
                grad, denom = p.grad, state["scratch"]
                if group["weight_decay"] != 0:
                    grad = torch.add(p.grad, p, alpha=group["weight_decay"], out=denom)
                state["step"] += 1
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step_size = self._rate(group["lr"], p) / (1 - beta1 ** state["step"])
                # p -= step_size * m / (sqrt(v / bias_correction2) + eps), with
                # step_size folded into the denominator.
                torch.sqrt(state["exp_avg_sq"], out=denom)
                denom.div_(math.sqrt(1 - beta2 ** state["step"])).add_(
                    group["eps"]
                ).div_(step_size)
                p.addcdiv_(state["exp_avg"], denom, value=-1)
