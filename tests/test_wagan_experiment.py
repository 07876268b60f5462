"""WAGAN's pipeline as jobs: each after what it loads, the authors' PGD in chunks whose
concatenation is the retraining set, WAGAN β+ a run of its own, every retrained target
a new network."""

import torch

from lib import jobs
from lib.profiles import resolve_profile
from papers.wagan.config import PROFILES
from papers.wagan.experiment import training_jobs
from papers.wagan.training import adversarial_set, pgd_chunks


def test_the_pipeline_runs_each_job_after_the_jobs_it_loads():
    configs = resolve_profile(PROFILES, "book")
    pipeline = training_jobs(configs, [0])
    names = [name for name, _ in pipeline]
    assert names[0] == "target"
    assert names.index("AdvGAN") < names.index("WAGAN β+ (∂W)")
    advgan, beta_plus = (pipeline[m, 0].spec for m in ("AdvGAN", "WAGAN β+"))
    # the authors train β+ as AdvGAN again: the same spec, another seed
    assert beta_plus["beta"] == advgan["beta"] and beta_plus["seed"] != advgan["seed"]
    retrained = [
        job.spec["seed"] for (n, _), job in pipeline.items() if "retrained" in n
    ]
    assert (
        len(set(retrained)) == 6 and pipeline["target", 0].spec["seed"] not in retrained
    )
    assert max(i for i, n in enumerate(names) if n.startswith("pgd")) < min(
        i for i, n in enumerate(names) if n.startswith("retrained")
    )
    chunks = [n for n in names if n.startswith("pgd train")]
    assert len(chunks) == 12  # 60,000 training images, 5,000 a chunk
    hinge = pipeline["WAGAN β+ (∂W)", 0].spec
    assert hinge["advgan"] == pipeline["AdvGAN", 0].spec


def test_the_pgd_retraining_set_is_its_chunks_end_to_end(tmp_path):
    configs = resolve_profile(PROFILES, "smoke")
    pipeline = training_jobs(configs, [0])
    data = pipeline["retrained on PGD", 0].spec["data"]
    chunks = pgd_chunks(data["pgd"], "train")
    assert [c.spec["start"] for c in chunks] == [0, 256]
    assert chunks[-1].spec["stop"] == configs[3].n_train
    jobs.run([pipeline["target", 0]], workers=1)
    whole = adversarial_set(data, "train", "cpu")
    assert whole.shape == (configs[3].n_train, 1, 28, 28)
    first = jobs.result(chunks[0])
    assert torch.equal(whole[:256], first)
