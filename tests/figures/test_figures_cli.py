"""`hetquad figures --jobs N`: figures made in a pool of fresh processes equal those made in-process."""
import xarray as xr
from typer.testing import CliRunner

from hetquad import cli

CHEAP = ["tomihari-gradient-share", "real-gradient-share"]  # about a second each at default fidelity


def test_pool_and_in_process_give_the_same_data(tmp_path):
    runner = CliRunner()
    outs = {}
    for jobs in (2, 1):
        out = tmp_path / f"jobs{jobs}"
        res = runner.invoke(cli.app, ["figures", *CHEAP, "--out", str(out), "--jobs", str(jobs)])
        assert res.exit_code == 0, res.output
        assert ("with 2 processes" in res.output) == (jobs == 2)
        for name in CHEAP:
            assert (out / f"{name}.png").stat().st_size > 10_000
        outs[jobs] = out
    for name in CHEAP:
        with xr.open_dataset(outs[2] / f"{name}.nc") as a, xr.open_dataset(outs[1] / f"{name}.nc") as b:
            xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
