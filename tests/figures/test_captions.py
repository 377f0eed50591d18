"""Every figure's caption and gallery line take their numbers from the figure's data.

For each figure at tiny fidelity: (1) the CAPTION / SUMMARY templates contain no typed number
(only references such as "§6", "Fig. 4", identifiers such as w0 or β2, and the small integer
constants of formulas such as 2/(L+μ)); (2) every field is filled from ``facts(data)``, whose
values are finite; (3) ``facts`` depends only on the stored data: the netCDF round trip gives
the same caption. The headline numbers themselves are checked against an independent
recomputation in each figure's own test module.
"""
import math
import re

import numpy as np
import pytest
import xarray as xr

from hetquad import figures as F

REFERENCE = re.compile(
    r"(?:§\s?|\b(?:Figs?\.|Figures?|figures?|Thms?\.|Theorems?|Tables?|Cases?|Assumptions?|Props?\.|eqs?\.|"
    r"App\.|Appendix|items?|seeds?|Sec\.|Lemma|Principle|Corollary|Remark|Def\.|Section|Algorithm|Step)\s?)"
    r"(?:[A-Z]\.?)?[0-9][0-9A-Za-z._]*(?:\s?(?:[/–,(]|and|or|to)\s?[0-9][0-9A-Za-z._)]*)*")
NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:e[−-]?[0-9]+)?")
OPERATORS = set("/()·^{}−+-=|√×<>*[],~≈≤≥")


def typed_numbers(literal: str) -> list[str]:
    """Numbers typed in a template's literal text that are neither references, identifiers nor
    one-digit formula constants (next to an operator, or a coefficient as in 2N_c) or bases (10^…)."""
    text = REFERENCE.sub(" ", literal)
    bad = []
    for m in NUMBER.finditer(text):
        a, b, tok = m.start(), m.end(), m.group()
        left = text[a - 1] if a else " "
        if re.match(r"[A-Za-zΑ-Ωα-ω_^'*{ᵀ]", left):
            continue  # identifier or exponent: w0, β2, H_1, log10, ρ^{2t}
        lnb = text[:a].rstrip()[-1:] or " "
        rnb = text[b:].lstrip()[:1] or " "
        if len(tok) == 1 and (lnb in OPERATORS or rnb in OPERATORS):
            continue  # formula constant: 2/(L+μ), N(0, I), k/4, β1 = 0
        if text[b:b + 1] == "^":
            continue  # a base: 10^{…}
        if len(tok) == 1 and re.match(r"[A-Za-zΑ-Ωα-ω]", text[b:b + 1]):
            continue  # a coefficient: 2N_c, 2ΔL
        bad.append(f"…{text[max(0, a - 25):b + 10]}…")
    return bad


@pytest.mark.parametrize("name", F.names())
def test_caption_numbers_come_from_the_data(name, tiny, tmp_path):
    mod = F.get(name)
    data = tiny(mod)
    for template in (mod.CAPTION, mod.SUMMARY, mod.REPRODUCES):
        text, fields, literal = F.fill(template, mod.facts(data))
        assert typed_numbers(literal) == [], f"{name}: numbers typed in the template"
        assert not {"nan", "inf"} & set(text.lower().replace(",", " ").split()), f"{name}: a NaN or inf in the text"
    facts = mod.facts(data)
    for k, v in facts.items():
        if isinstance(v, (float, np.floating)):
            assert math.isfinite(v), f"{name}: fact {k} = {v}"
    # facts read only what is stored: the netCDF round trip gives the same caption
    path = tmp_path / "d.nc"
    data.to_netcdf(path, engine="h5netcdf")
    with xr.open_dataset(path, engine="h5netcdf") as back:
        assert F.caption(mod, back.load()) == F.caption(mod, data)


def test_typed_numbers_are_found():
    # the checker itself: settings and measurements typed as text are caught, references are not
    assert typed_numbers("κ = 5000 and ε = 0.2, 10–90 % band, 1e-6") != []
    assert len(typed_numbers("κ = 5000 and ε = 0.2, 10–90 % band, 1e-6")) == 5  # 10 and 90 count apart
    assert typed_numbers("THEORY §6, Cases 1–4, [T] eq. 215, Fig. 5(b), w0 = w* + N(0, I), 2/(L+μ), β1 = 0") == []


def test_gallery_is_written_between_markers(tmp_path, tiny, monkeypatch):
    # two figures' cached data in a fake out dir; the gallery names exactly those, no others
    out = tmp_path / "out"
    out.mkdir()
    picked = F.names()[:2]
    for n in picked:
        tiny(F.get(n)).to_netcdf(out / f"{n}.nc", engine="h5netcdf")
    reg = {n: F.get(n) for n in picked}
    monkeypatch.setattr(F, "registry", lambda: reg)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{F.GALLERY_START}\nold table\n{F.GALLERY_END}\nafter\n")
    F.write_gallery(readme, out)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("after\n")
    for n in picked:
        row = next(line for line in text.splitlines() if f"`{n}`" in line)
        assert F.summary(reg[n], tiny(reg[n])) in row
    with pytest.raises(ValueError, match="lacks the data"):
        F.write_gallery(readme, tmp_path)
