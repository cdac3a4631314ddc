"""reproduce_proof's seeds: run folders and the table of means and spreads over seeds."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def proof():
    path = REPO / "scripts" / "training" / "reproduce_proof.py"
    spec = importlib.util.spec_from_file_location("vtm_reproduce_proof", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_zero_keeps_the_variant_folder(proof, tmp_path):
    assert proof.run_folder(tmp_path, "full", 0) == tmp_path / "full"
    assert proof.run_folder(tmp_path, "only_gte", 2) == tmp_path / "only_gte-seed2"


def test_seed_table_gives_mean_and_sample_spread(proof):
    rng = np.random.default_rng(3)
    runs = {name: [{"mpjpe": float(m), "pa_mpjpe": float(p), "pve": 300.0, "accel": 10.0}
                   for m, p in zip(rng.uniform(150, 250, 3), rng.uniform(90, 130, 3))]
            for name in ("full TAR", "only GTE")}
    lines = proof.seed_table(runs, 3).splitlines()
    for name, got in runs.items():
        [row] = [ln for ln in lines if ln.startswith(name)]
        mpjpe = np.array([r["mpjpe"] for r in got])
        pa = np.array([r["pa_mpjpe"] for r in got])
        assert f"{mpjpe.mean():.1f} ± {mpjpe.std(ddof=1):.1f}" in row
        assert f"{pa.mean():.1f} ± {pa.std(ddof=1):.1f}" in row
        assert "300.0 ± 0.0" in row  # no spread where every seed agrees
        assert row.endswith(" ".join(f"{m:.1f}" for m in mpjpe))
