"""The one lr-grid parser (``sims.tune.parse_lrs``) that ``hetquad tune --lrs``, a sweep's
``[tune] lrs`` and Python callers share (issue 15 item 6)."""
from __future__ import annotations

import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import config
from hetquad.commands.tune import parse_lrs as cli_parse
from hetquad.sims.tune import MAX_LRS, parse_lrs


def test_known_grids():
    np.testing.assert_array_equal(parse_lrs("1e-3:1:4"), np.geomspace(1e-3, 1.0, 4))
    np.testing.assert_array_equal(parse_lrs("0.1,0.3,0.2"), [0.1, 0.3, 0.2])
    np.testing.assert_array_equal(parse_lrs([0.5, 1]), [0.5, 1.0])
    assert parse_lrs("1e-3:1:4").tolist() == [1e-3, 1e-2, 1e-1, 1.0]


@settings(max_examples=40, deadline=None)
@given(low=st.floats(1e-8, 1.0), ratio=st.floats(1.5, 1e6), num=st.integers(2, 50))
def test_every_spelling_of_a_log_grid_is_the_same_grid(low, ratio, num):
    """CLI string, TOML table, the sweep config and the array itself give the same floats."""
    high = low * ratio
    want = np.geomspace(low, high, num)
    np.testing.assert_array_equal(parse_lrs(f"{low!r}:{high!r}:{num}"), want)
    np.testing.assert_array_equal(parse_lrs({"low": low, "high": high, "num": num}), want)
    np.testing.assert_array_equal(cli_parse(f"{low!r}:{high!r}:{num}"), want)
    np.testing.assert_array_equal(parse_lrs(want), want)
    cfg = config.parse(tomllib.loads(f"""
[sweep]
steps = 5
seeds = 1
[problem]
name = "tau-kappa"
[optimizers.gd]
lr = "tune"
[tune]
lrs = {{low = {low!r}, high = {high!r}, num = {num}}}
seed = 9
"""))
    assert cfg.tune.lrs == tuple(want.tolist())


@pytest.mark.parametrize("value, name, message", [
    ("1e-4:1:1", "--lrs", r"^--lrs num must be >= 2, got 1$"),
    (f"1e-4:1:{MAX_LRS + 1}", "--lrs", rf"^--lrs num must be <= {MAX_LRS}, got {MAX_LRS + 1}; search a coarse grid"),
    ("1:0.1:3", "--lrs", r"^--lrs low must be < --lrs high, got 1.0 and 0.1$"),
    ("0:1:5", "--lrs", r"^--lrs low must be > 0"),
    ("1:x:3", "--lrs", r"^--lrs must be LOW:HIGH:NUM or a comma list of numbers, got '1:x:3'$"),
    ("nan,1", "--lrs", r"^--lrs must be finite, got nan$"),
    ("0.1,0.1", "--lrs", r"^--lrs has repeated values"),
    ({"low": 1.0, "high": 0.1, "num": 3}, "lrs", r"^lrs.low must be < lrs.high"),
    ({"low": 1e-3, "high": 1, "nums": 3}, "lrs", r"^unknown key 'nums' in lrs"),
    ([], "lrs", r"^lrs must be a non-empty list of lrs, got \[\]$"),
    ([0.1, -1.0], "lrs", r"^lrs\[1\] must be > 0"),
    ([[0.1]], "lrs", r"^lrs must be a non-empty list of numbers, LOW:HIGH:NUM or \{low, high, num\}"),
])
def test_bad_grids_are_one_line_errors_naming_the_argument(value, name, message):
    with pytest.raises((ValueError, TypeError), match=message):
        parse_lrs(value, name=name)
