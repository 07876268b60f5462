"""From the evaluations' adversarial examples to the page's numbers: Table 1's rows with
their per-image spread, the budget trend, the claims scored by the book's rule
(lib.verdicts) with causes from evidence, and Table 2's k-nearest-neighbour proxy."""

import numpy as np
import pandas as pd
import torch

from lib.metrics import l2_norms, predict_proba, predictions
from lib.pages import mean_std, norm_name
from lib.uncertainty import binomial_se
from lib.verdicts import explain, score, score_ordering, unmeasured, weakest
from papers.adversary_critic.config import ATTACKS, METHODS, NETS

ORDER = list(METHODS)
RHO = [f"rho_{a}" for a in ATTACKS]
# Table 1's columns as the page labels them
COLUMNS = {"err": "error %", **{f"rho_{a}": f"ρ {name}" for a, name in ATTACKS.items()}}
# ρ as Table 1 counts it: DeepFool and our attack over every image (a failure at the
# norm it reached), C&W over its successes (its failures come back unperturbed).
FAILURES = {"deepfool": "count", "ours": "count", "cw": "exclude"}


def image_rho(model, x, x_adv, y, failures):
    """Each image's ‖x_adv − x‖₂ / ‖x‖₂ as ρ counts it (0 where the model already
    errs); failures kept at their norm ("count") or left out ("exclude"). Its mean
    is lib.metrics.rho_min_norm."""
    correct = predictions(model, x) == y
    failed = correct & (predictions(model, x_adv) == y)
    ratio = torch.where(
        correct, l2_norms(x, x_adv) / x.flatten(1).norm(dim=1), x.new_zeros(len(x))
    )
    return ratio if failures == "count" else ratio[~failed]


def confidences(model, x, x_adv, y):
    """The model's top-class confidence (%) on each example whose prediction the
    attack changed (Fig. 4's panels)."""
    changed = (predictions(model, x) == y) & (predictions(model, x_adv) != y)
    if not changed.any():
        return x.new_zeros(0)
    return 100 * predict_proba(model, x_adv[changed]).amax(1)


def measure(model, result, x_test, y_test):
    """One row of Table 1 from an evaluation result (predictions on the first n_test
    test images, adversarial examples): error %, and per attack ρ, the per-image
    spread and count behind it, failures and Fig. 4's confidences."""
    n_test = len(result["predictions"])
    wrong = (result["predictions"] != y_test[:n_test]).float()
    row = {"err": 100 * wrong.mean().item(), "n_err": n_test}
    for attack in ATTACKS:
        x_adv = result[attack]
        x, y = x_test[: len(x_adv)], y_test[: len(x_adv)]
        ratios = image_rho(model, x, x_adv, y, FAILURES[attack])
        row[f"rho_{attack}"] = ratios.mean().item()
        row[f"sd_{attack}"] = ratios.std().item() if len(ratios) > 1 else 0.0
        row[f"n_{attack}"] = len(ratios)
        correct = predictions(model, x) == y
        row[f"failures_{attack}"] = int(
            (correct & (predictions(model, x_adv) == y)).sum()
        )
        conf = confidences(model, x, x_adv, y)
        row[f"conf_{attack}"] = conf.mean().item() if len(conf) else float("nan")
        row[f"conf_sd_{attack}"] = conf.std().item() if len(conf) > 1 else 0.0
        row[f"conf_n_{attack}"] = len(conf)
    test_conf = 100 * predict_proba(model, x_test[: len(result["deepfool"])]).amax(1)
    row["conf_test"], row["conf_sd_test"] = (
        test_conf.mean().item(),
        test_conf.std().item(),
    )
    row["conf_n_test"] = len(test_conf)
    return row


# For each claim column: the frame's columns of its value, its per-point spread
# (None: a rate, binomial) and its count of points.
POINTS = {
    "err": (None, "n_err"),
    **{f"rho_{a}": (f"sd_{a}", f"n_{a}") for a in ATTACKS},
    "conf_test": ("conf_sd_test", "conf_n_test"),
    "conf_cw": ("conf_sd_cw", "conf_n_cw"),
    "conf_ours": ("conf_sd_ours", "conf_n_ours"),
}


def cell(frame, net, method, column):
    """(values one a seed, point sd, points) of one cell of a frame of rows."""
    rows = frame[(frame.net == net) & (frame.method == method)].sort_values("seed")
    sd, n = POINTS[column]
    return (
        rows[column].to_numpy(dtype=float),
        None if sd is None else float(rows[sd].mean()),
        int(rows[n].min()),
    )


def se_of(frame, net, method, column):
    values, sd, n = cell(frame, net, method, column)
    if sd is None:  # a rate in %
        return binomial_se(float(np.clip(values.mean(), 0, 100)), n)
    return sd / np.sqrt(n)


def margin(frame, pairs, seed):
    """The weakest of several "a above b" comparisons in one seed: (a − b, se) of the
    pair with the smallest margin in standard errors. pairs: ((net, a, b, column))."""
    one = frame[frame.seed == seed]
    return weakest(
        (
            cell(one, net, a, column)[0][0] - cell(one, net, b, column)[0][0],
            float(np.hypot(se_of(one, net, a, column), se_of(one, net, b, column))),
        )
        for net, a, b, column in pairs
    )


def ordering_pairs(claim_id):
    """The comparisons an ordering claim makes, each "a above b"."""
    if claim_id == "ours_largest_rho":
        return [(n, "ours", m, c) for n in NETS for c in RHO for m in ORDER[:-1]]
    if claim_id == "rho_ranking":
        return [
            (n, b, a, c)
            for n in NETS
            for c in RHO
            for a, b in zip(ORDER[:-1], ORDER[1:], strict=True)
        ]
    if claim_id == "ours_pays_clean_error":
        return [(n, "ours", m, "err") for n in NETS for m in ("at", "vat", "mm")]
    raise ValueError(f"no ordering named {claim_id!r}")


def trend_of(spec, frames):
    """The claim's value (mean over seeds) at each kept epoch: [(epoch, value)]; an
    ordering's weakest margin."""
    out = []
    for epoch, frame in sorted(frames.items()):
        if spec["kind"] == "ordering":
            seeds = sorted(frame.seed.unique())
            value = np.mean(
                [margin(frame, ordering_pairs(spec["id"]), s)[0] for s in seeds]
            )
        else:
            value = cell(frame, spec["net"], spec["method"], spec["column"])[0].mean()
        out.append((epoch, float(value)))
    return out


def scored(spec, frames, seeds, reading=None):
    """One claim by lib.verdicts, from the rows of its final epoch (the last frame),
    and for a miss its cause: `reading` (name, rows of the baselines trained another
    way on the same seeds) where it lands within tolerance; `budget` where the trend
    along the kept epochs moves toward the paper's value; else `open`, with what was
    tried."""
    final = frames[max(frames)]
    readings = []
    if reading is not None and spec.get("method", "baselines") != "ours":
        name, rows = reading
        readings.append((name, reading_values(spec, final, rows, seeds)))
    rule = claim_rule(spec, final, seeds)
    return explain(spec, rule, readings, trend=trend_of(spec, frames))


def claim_rule(spec, final, seeds):
    """rule(other=None, **cause): the claim scored on the final rows, or on `other`
    values (a reading's)."""
    if spec["kind"] == "ordering":
        margins = [margin(final, ordering_pairs(spec["id"]), s) for s in seeds]
        ours = {"margins": [m for m, _ in margins], "se": [s for _, s in margins]}

        def rule(other=None, **cause):
            m = ours if other is None else other
            return score_ordering(spec, m["margins"], m["se"], seeds=seeds, **cause)

        return rule
    values, sd, n = cell(final, spec["net"], spec["method"], spec["column"])
    if not np.isfinite(values).all() or n == 0:
        record = unmeasured(spec, f"no image to measure it on among {n}", seeds=seeds)
        return lambda other=None, **cause: record

    def rule(other=None, **cause):
        other = values if other is None else other
        return score(spec, other, n=n, point_sd=sd, seeds=seeds, **cause)

    return rule


def reading_values(spec, final, rows, seeds):
    """What score takes for the claim with the baselines' rows replaced by `rows`."""
    kept = final[final.method == "ours"]
    swapped = pd.concat([rows, kept], ignore_index=True)
    if spec["kind"] == "ordering":
        margins = [margin(swapped, ordering_pairs(spec["id"]), s) for s in seeds]
        return {"margins": [m for m, _ in margins], "se": [s for _, s in margins]}
    return cell(swapped, spec["net"], spec["method"], spec["column"])[0]


def judge(x, train_x, train_y, k, batch_size=500):
    """k-NN labels of x by pixel L2 distance to the training images (ties: nearest):
    Table 2's automatic proxy for the human labels."""
    labels = []
    for i in range(0, len(x), batch_size):
        near = (
            torch.cdist(x[i : i + batch_size].flatten(1), train_x.flatten(1))
            .topk(k, largest=False)
            .indices
        )
        votes = torch.nn.functional.one_hot(train_y[near], 10).sum(1).float()
        votes += 0.5 * torch.nn.functional.one_hot(train_y[near[:, 0]], 10)
        labels.append(votes.argmax(1))
    return torch.cat(labels)


def proxy_row(model, x, y, x_adv, labels_of):
    """Table 2's proxy for one model: of the correctly classified images whose
    prediction our attack changed, the share the judge labels with the adversarial
    target and with the original class (%)."""
    pred_clean, pred_adv = predictions(model, x), predictions(model, x_adv)
    changed = (pred_clean == y) & (pred_adv != y)
    labels = labels_of(x_adv[changed])
    return {
        "n": int(changed.sum()),
        "target": 100 * (labels == pred_adv[changed]).float().mean().item(),
        "original": 100 * (labels == y[changed]).float().mean().item(),
    }


def paper_names(frame):
    """A frame indexed by (net, method), its index under the paper's names."""
    return frame.rename(index=NETS, level=0).rename(index=METHODS, level=1)


def table2(proxy, survey):
    """Table 2: the paper's MTurk shares beside the k-NN proxy's, one row a network and
    method (`proxy`: proxy_row's columns by (net, method); `survey`: the reported
    file's "survey" list)."""
    survey = {(s["net"], s["method"]): s for s in survey}
    order = [(n, m) for n in NETS for m in METHODS]
    return pd.DataFrame(
        {
            ("MTurk (paper)", "% change"): [survey[k]["changed"] for k in order],
            ("MTurk (paper)", "% no change"): [survey[k]["not_changed"] for k in order],
            ("k-NN judge (proxy)", "% target"): proxy.loc[order, "target"].to_numpy(),
            ("k-NN judge (proxy)", "% original"): proxy.loc[
                order, "original"
            ].to_numpy(),
            ("k-NN judge (proxy)", "examples"): proxy.loc[order, "n"].to_numpy(),
        },
        index=pd.MultiIndex.from_tuples([(NETS[n], METHODS[m]) for n, m in order]),
    )


def proxy_order_holds(proxy):
    """Per network, whether the proxy's % target rises strictly along Reference, AT,
    VAT, MM, Ours (the paper's order of % change)."""
    return {
        net: bool((np.diff(proxy.loc[net, "target"].reindex(list(METHODS))) > 0).all())
        for net in NETS
    }


def frames_of(evaluated, kind, weights, x_test, y_test, device="cpu"):
    """{epoch: frame of Table 1 rows} from the evaluations of `kind` ("table1": the
    final models', at epoch None; "trend": the kept epochs'); weights(net, method,
    seed, epoch) gives the weights each was measured on."""
    from papers.adversary_critic.training import load

    frames = {}
    for (what, net, method, seed), result in evaluated.items():
        if what != kind:
            continue
        by_epoch = {None: result} if kind == "table1" else result
        for epoch, measured in by_epoch.items():
            model = load(net, weights(net, method, seed, epoch), device)
            row = measure(model, measured, x_test, y_test)
            frames.setdefault(epoch, []).append(
                {"net": net, "method": method, "seed": seed, **row}
            )
    return {epoch: pd.DataFrame(rows) for epoch, rows in frames.items()}


def keyed(frame):
    """A frame of rows indexed "net/method/seed", as the results file keys them."""
    return frame.set_index(
        frame.net + "/" + frame.method + "/" + frame.seed.astype(str)
    )


def rho_ratio(frames, paper):
    """ρ under our attack over ρ under DeepFool, a column a kept epoch (means over the
    seeds), and the paper's ("paper"; `paper`: {(net, method, column): value}); a row
    a (net, method) as the paper names them."""
    ratio = pd.DataFrame(
        {
            epoch: {
                (NETS[n], METHODS[m]): cell(f, n, m, "rho_ours")[0].mean()
                / cell(f, n, m, "rho_deepfool")[0].mean()
                for n in NETS
                for m in METHODS
            }
            for epoch, f in frames.items()
        }
    )
    ratio["paper"] = [
        paper[n, m, "rho_ours"] / paper[n, m, "rho_deepfool"]
        for n in NETS
        for m in METHODS
    ]
    return ratio


def tables_record(final, frames):
    """Table 1 (every seed) and the budget trend (the kept epochs' errors and ρ) as
    results-file data."""
    return {
        "table1": keyed(final).drop(columns=["net", "method", "seed"]).to_dict("index"),
        "trend": {
            epoch: keyed(f)[["err", *RHO]].to_dict("index")
            for epoch, f in frames.items()
        },
    }


def by_name(frame):
    """A frame indexed by (net, method) as results-file data: {"net/method": row}."""
    return {
        f"{n}/{m}": {k: float(v) for k, v in row.items()}
        for (n, m), row in frame.iterrows()
    }


def paper_values(reported):
    """The paper's Table 1: {(net, method, column): number} from the reported claims."""
    return {
        (spec["net"], spec["method"], spec["column"]): spec["reported"]
        for spec in reported.values()
        if "column" in spec
    }


def table1_frame(final, paper, net):
    """Table 1 for one network: each column's paper number beside ours (mean ± std
    over seeds, and its standard error), a row a method."""
    data = {}
    for column, label in COLUMNS.items():
        digits = 2 if column == "err" else 3
        data[label, "paper"] = [f"{paper[net, m, column]:.{digits}f}" for m in METHODS]
        data[label, "ours"] = [
            f"{mean_std(cell(final, net, m, column)[0], digits)} "
            f"(se {se_of(final, net, m, column):.{digits}f})"
            for m in METHODS
        ]
    return pd.DataFrame(data, index=list(METHODS.values()))


def proxy_frame(models, table1s, x, y, labels_of):
    """Table 2's proxy of every model (proxy_row), the mean over seeds by (net,
    method): `models` and `table1s` (the table1 evaluations' results) keyed by (net,
    method, seed)."""
    rows = {
        key: proxy_row(models[key], x, y, result["ours"], labels_of)
        for key, result in table1s.items()
    }
    return pd.DataFrame(rows).T.groupby(level=[0, 1]).mean()


def autoattack_ranking(autoattack):
    """Where Ours ranks among the five methods under AutoAttack, per threat model and
    network, as sentences (`autoattack`: the page's common record)."""
    sentences = []
    for norm, eps in autoattack["threat_models"].items():
        parts = []
        for net in NETS.values():
            accuracy = {
                name: autoattack["defenses"][f"{net} {name}"][norm]
                for name in METHODS.values()
            }
            order = sorted(accuracy, key=accuracy.get, reverse=True)
            listed = ", ".join(f"{name} {accuracy[name]:.1f} %" for name in order)
            parts.append(
                f"on the {net} net Ours ranks {order.index('Ours') + 1} of "
                f"{len(order)} ({listed})"
            )
        sentences.append(
            f"Under AutoAttack at {norm_name(norm)} ε = {eps:g}, {'; '.join(parts)}."
        )
    return " ".join(sentences)
