"""The catalog: every entry builds, matches its recipe, and errors say what is allowed; the CLI."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hetquad import sims
from hetquad.problems import catalog
from hetquad.problems.heterogeneity import gradient_heterogeneity
from hetquad.problems.linear_head import LinearHead
from hetquad.problems.quadratic import BlockQuadratic

REQUIRED = ["zhang2024-case1", "zhang2024-case2", "zhang2024-case12-interp", "zhang2024-case3", "zhang2024-case4",
            "adam-mini-fig4", "adam-mini-fig5", "deepobs-quadratic", "nqm", "tomihari-blocks", "tau-kappa", "coupled",
            "linear-head"]
REAL = ["real-transformer-blocks", "real-cnn-blocks"]  # torch-measured; tested in test_networks_models.py


def direct_tau(h):
    """THEORY §5b: τ = Σ|H_ii| / Σ_ij |H_ij| (independent of problems.tau)."""
    return np.abs(np.diag(h)).sum() / np.abs(h).sum()


def test_names():
    assert catalog.names() == REQUIRED + REAL


@pytest.mark.parametrize("name", REQUIRED)
def test_entry_builds_labels_and_documents(name):
    p = catalog.get(name, seed=1)
    assert p.name == name
    assert p.info["catalog"] == name and p.info["seed"] == 1
    assert set(p.info["params"]) == set(catalog.parameters(name))
    doc = catalog._REGISTRY[name].__doc__
    assert "Source" in doc and "[C]" in doc
    for param in catalog.parameters(name):
        assert param in doc  # every overridable parameter is documented
    w = np.random.default_rng(0).standard_normal((2, p.d)) * 0.1
    assert np.all(np.isfinite(p.loss(w))) and p.grad(w).shape == (2, p.d)


@pytest.mark.parametrize("name", [n for n in REQUIRED if n not in ("nqm",)])
def test_seeded(name):
    a, b, c = catalog.get(name, seed=3), catalog.get(name, seed=3), catalog.get(name, seed=4)
    ha = a.features if isinstance(a, LinearHead) else a.hessian()
    hb = b.features if isinstance(b, LinearHead) else b.hessian()
    hc = c.features if isinstance(c, LinearHead) else c.hessian()
    np.testing.assert_array_equal(ha, hb)
    assert not np.allclose(ha, hc)


@pytest.mark.parametrize("case", [1, 2, 3, 4])
@pytest.mark.parametrize("kappa", [5000.0, 1234.5])
def test_zhang_cases_kappa_exact(case, kappa):
    for seed in range(3):
        p = catalog.get(f"zhang2024-case{case}", seed=seed, kappa=kappa)
        assert abs(p.kappa / kappa - 1) <= 1e-10
        assert p.mu == pytest.approx(1.0, rel=1e-10)


def test_zhang_case12_structure():
    for seed in range(5):
        het, hom = catalog.get("zhang2024-case1", seed=seed), catalog.get("zhang2024-case2", seed=seed)
        assert het.sizes == hom.sizes == (25,) * 4
        med = [np.median(e) for e in het.block_eigvals]
        assert np.all(np.diff(med) > 0)  # block scales m_l grow ×14.4 per block: medians ordered
        # homogeneous: the same law in every block; the spread of block medians is far smaller
        med_h = [np.log(np.median(e)) for e in hom.block_eigvals]
        assert np.ptp(med_h) < np.ptp(np.log(med)) / 3
    assert catalog.get("zhang2024-case1", block_size=7).sizes == (7,) * 4


def test_zhang_case34_spectra():
    k = 5000.0
    p3, p4 = catalog.get("zhang2024-case3"), catalog.get("zhang2024-case4")
    for p, sets in [(p3, [[1, 2, 3], [99, 100, 101], [k - 2, k - 1, k]]),
                    (p4, [[1, 99, k - 2], [2, 100, k - 1], [3, 101, k]])]:
        for got, want in zip(p.block_eigvals, sets):
            np.testing.assert_allclose(got, want, rtol=1e-9)
    np.testing.assert_allclose(p3.block_kappas, [3, 101 / 99, k / (k - 2)], rtol=1e-9)


def test_adam_mini_fig4():
    p = catalog.get("adam-mini-fig4", seed=0)
    sets = catalog.FIG4_SETS
    for e, vals in zip(p.block_eigvals, sets):
        assert np.all(np.min(np.abs(e[:, None] - np.array(vals)[None, :]), axis=1) < 1e-9)
    assert abs(p.kappa / 5000 - 1) <= 1e-10
    np.testing.assert_allclose(p.block_kappas, [3, 101 / 99, 5000 / 4998], rtol=1e-9)


def test_adam_mini_fig5():
    p0 = catalog.get("adam-mini-fig5", R=0.0, d=10)
    np.testing.assert_array_equal(p0.blocks[0], np.diag([500.0] + [1.0] * 9))
    assert direct_tau(p0.blocks[0]) == 1.0
    p = catalog.get("adam-mini-fig5", seed=2)
    assert p.d == 50 and abs(p.kappa / 500 - 1) <= 1e-10
    np.testing.assert_allclose(p.block_eigvals[0], [1.0] * 49 + [500.0], rtol=1e-9)
    assert direct_tau(p.blocks[0]) < 0.5


def test_deepobs_quadratic():
    e = catalog.get("deepobs-quadratic", seed=5).eigvalsh()
    assert e.size == 100
    assert np.all((e[:90] > 0) & (e[:90] < 1)) and np.all((e[90:] >= 30) & (e[90:] <= 60))


def test_nqm():
    p = catalog.get("nqm", d=20)
    np.testing.assert_allclose(np.sort(np.diag(p.blocks[0]))[::-1], 1.0 / np.arange(1, 21), rtol=1e-15)
    np.testing.assert_array_equal(p.blocks[0], np.diag(np.diag(p.blocks[0])))
    noise = sims.GaussianNoise(sigma=0.1, **p.info["noise"])
    assert noise.covariance == "hessian"


@pytest.mark.parametrize("gini, placement", [(0.0, "random"), (0.3, "sharpest"), (0.7, "random")])
def test_tomihari_blocks(gini, placement):
    p = catalog.get("tomihari-blocks", seed=2, gini=gini, placement=placement)
    r = gradient_heterogeneity(p, p.info["w0"])
    assert abs(r.gini - gini) <= 1e-9
    if placement == "sharpest" and gini > 0:
        assert np.argmax(r.x) == np.argmax([e[-1] for e in p.block_eigvals])
    assert abs(p.kappa / 10 ** 4 - 1) <= 1e-10  # [1, 10] up to [1000, 10000], extremes included
    res = sims.run(p, sims.GD(lr=1.0 / p.L), 3, w0=p.info["w0"], engine="numpy")
    assert res.loss.shape == (1, 4)


@pytest.mark.parametrize("tau, kappa, block_kappa, n_blocks", [
    (0.5, 1000.0, None, 4), (0.3, 1e4, 100.0, 3), (0.9, 50.0, None, 1), (1.0, 200.0, 20.0, 2)])
def test_tau_kappa_family(tau, kappa, block_kappa, n_blocks):
    p = catalog.get("tau-kappa", tau=tau, kappa=kappa, block_kappa=block_kappa, n_blocks=n_blocks, seed=1)
    assert abs(p.kappa / kappa - 1) <= 1e-10
    kb = kappa if block_kappa is None else block_kappa
    np.testing.assert_allclose(p.block_kappas, kb, rtol=1e-9)
    for b in p.blocks:
        assert abs(direct_tau(b) - tau) <= 1e-9
    assert p.sizes == (10,) * n_blocks


def test_tau_kappa_invalid():
    with pytest.raises(ValueError, match="block_kappa must equal kappa"):
        catalog.get("tau-kappa", n_blocks=1, block_kappa=10.0)
    with pytest.raises(ValueError, match="block_kappa must be in"):
        catalog.get("tau-kappa", kappa=100.0, block_kappa=1000.0)
    with pytest.raises(ValueError):
        catalog.get("tau-kappa", tau=1e-3)  # below the reachable range


def test_coupled_entry():
    base = catalog.get("zhang2024-case3", seed=4)
    p = catalog.get("coupled", base="zhang2024-case3", strength=0.25, seed=4)
    for a, b in zip(p.blocks, base.blocks):
        np.testing.assert_array_equal(a, b)
    assert p.delta == pytest.approx(0.25 * base.mu, rel=1e-12)
    with pytest.raises(ValueError, match="strength must be in"):
        catalog.get("coupled", strength=1.0)
    with pytest.raises(ValueError, match="block-diagonal quadratic entry"):
        catalog.get("coupled", base="linear-head")


def test_linear_head_entry():
    p = catalog.get("linear-head", n_samples=40, n_classes=4, n_features=3)
    assert isinstance(p, LinearHead) and p.sizes == (12, 4) and p.n_samples == 40


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match=r"did you mean 'zhang2024-case1'.*Known problems: .*linear-head"):
        catalog.get("zhang2024-cas1")
    with pytest.raises(ValueError, match=r"Known problems"):
        catalog.get("completely-different")


def test_unknown_override_lists_parameters():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['kapa'\].*its parameters: kappa, block_size"):
        catalog.get("zhang2024-case1", kapa=3)
    with pytest.raises(ValueError, match=r"its parameters: \(none\)"):
        catalog.get("deepobs-quadratic", d=3)


@pytest.mark.parametrize("name, kwargs, exc", [
    ("zhang2024-case3", dict(kappa=50.0), ValueError), ("zhang2024-case1", dict(kappa="big"), TypeError),
    ("adam-mini-fig5", dict(R=2.0), ValueError), ("tomihari-blocks", dict(gini=0.9), ValueError),
    ("tomihari-blocks", dict(placement="given"), ValueError), ("nqm", dict(d=1), ValueError),
])
def test_bad_values(name, kwargs, exc):
    with pytest.raises(exc):
        catalog.get(name, **kwargs)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        catalog.get("nqm", seed=-1)


# -- `hetquad problems` ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_json():
    from hetquad.cli import app
    out = CliRunner().invoke(app, ["problems", "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_cli_json(cli_json):
    rows = {r["name"]: r for r in cli_json}
    assert list(rows) == REQUIRED + REAL
    for name, r in rows.items():
        p = catalog.get(name)
        assert r["d"] == p.d and r["blocks"] == len(p.sizes)
        if isinstance(p, BlockQuadratic):
            assert r["kappa"] == pytest.approx(p.kappa, rel=1e-12)
            assert r["tau"] == pytest.approx(direct_tau(p.hessian()), rel=1e-9)
            assert r["block_kappa_min"] == pytest.approx(p.block_kappas.min())
            assert (r["js0"] is None) == (p.n_blocks < 2)
            if r["js0"] is not None:
                assert 0 <= r["js0"] <= 1
    assert rows["linear-head"]["kappa"] is None and rows["linear-head"]["js0"] is None
    assert rows["zhang2024-case3"]["js0"] > rows["zhang2024-case4"]["js0"]  # THEORY §7 ordering


def test_cli_table():
    from hetquad.cli import app
    out = CliRunner().invoke(app, ["problems"])
    assert out.exit_code == 0, out.output
    for name in REQUIRED:
        assert name in out.output
    assert "n/a" in out.output and "JS⁰" in out.output


def test_cli_user_error_is_one_line(capsys):
    from hetquad.cli import main
    assert main(["problems", "--seed", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: seed must be >= 0, got -1"]
