"""Reference networks, the real-*-blocks catalog entries and `hetquad spectra` (problems.networks)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hetquad.problems import catalog
from hetquad.problems.networks import MODELS, blockwise_spectra, models, reference_model, reference_spectra


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_import_problems_does_not_import_torch():
    code = "import sys, hetquad.problems, hetquad.problems.networks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", MODELS)
def test_reference_models_are_small_seeded_and_leave_global_rng(name):
    state = torch.random.get_rng_state()
    a, b, c = reference_model(name, seed=3), reference_model(name, seed=3), reference_model(name, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.n_params <= 5000 and max(p.numel() for p in a.model.parameters()) <= 1500
    for pa, pb, pc in zip(a.model.parameters(), b.model.parameters(), c.model.parameters()):
        assert torch.equal(pa, pb) and pa.dtype == torch.float64
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.model.parameters(), c.model.parameters()))
    assert all(torch.equal(x, y) for x, y in zip(a.batch, b.batch))
    n_classes = {"transformer": 16, "cnn": 10, "mlp": 10}[name]
    # random labels at init: the loss is near ln(#classes) (within a factor 1.5 either way)
    assert np.log(n_classes) / 1.5 < a.loss() < 1.5 * np.log(n_classes)


def test_factory_errors():
    with pytest.raises(ValueError, match="name must be one of"):
        reference_model("resnet")
    with pytest.raises(ValueError, match="divisible by n_heads"):
        models.transformer(d_model=5, n_heads=2)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        models.cnn(batch_size=1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        models.mlp(seed=0.5)


@pytest.mark.slow
def test_real_cnn_blocks_entry():
    p = catalog.get("real-cnn-blocks", seed=0)
    rec = reference_spectra("cnn", seed=0)
    assert p.sizes == rec.sizes and p.info["block_names"] == list(rec.names)
    assert p.kappa == pytest.approx(5000.0, rel=1e-10) and p.mu == pytest.approx(1.0, rel=1e-9)
    union = np.concatenate([s.nodes for s in rec.spectra])
    a, b = union.min(), union.max()
    for got, s in zip(p.block_eigvals, rec.spectra):  # the THEORY §6 common shift, written out
        np.testing.assert_allclose(got, 1 + 4999 * (s.nodes - a) / (b - a), rtol=1e-8)
    with pytest.raises(ValueError, match="mode must be one of"):
        catalog.get("real-cnn-blocks", mode="fold")


def test_spectra_cli_json_and_errors(capsys):
    from hetquad.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["spectra", "--model", "mlp", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.output)
    rec = reference_spectra("mlp", seed=0)
    assert [b["name"] for b in row["blocks"]] == list(rec.names)
    assert [b["size"] for b in row["blocks"]] == list(rec.sizes)
    assert row["js0_log"] == pytest.approx(rec.js0(), rel=1e-12)
    assert sum(b["grad_share"] for b in row["blocks"]) == pytest.approx(1.0, rel=1e-12)
    assert 0 <= row["gradient_gini"] < 1 and 0 <= row["js0_paper_lin"] <= 1
    kappas = [b["kappa"] for b in row["blocks"]]
    assert all((k is None) == (b["lam_min"] <= 0) for k, b in zip(kappas, row["blocks"]))
    table = runner.invoke(app, ["spectra", "--model", "mlp"])
    assert table.exit_code == 0 and "JS⁰ log" in table.output and "layers.0.weight" in table.output
    from hetquad import cli

    capsys.readouterr()
    assert cli.main(["spectra", "--model", "vgg"]) == 2
    assert "model must be one of" in capsys.readouterr().err
