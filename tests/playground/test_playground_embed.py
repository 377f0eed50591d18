"""`embed(preset)` in a notebook cell, executed headless under nbclient as the notebooks are in CI."""
import nbformat
import pytest
from nbclient import NotebookClient


@pytest.mark.slow
def test_embed_displays_in_a_notebook_cell():
    # two presets (the display path is the same for all; every preset is evaluated in test_playground_core)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from hetquad.playground import embed")]
    nb.cells += [nbformat.v4.new_code_cell(f'embed("{k}")') for k in ("01", "02")]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    for cell in nb.cells[1:]:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.outputs
        data = [o["data"] for o in cell.outputs if o.output_type == "execute_result"]
        assert data, f"{cell.source}: nothing displayed"
        # Panel's live-app bundle: a Bokeh document for the page plus the comm to the kernel
        assert "application/vnd.holoviews_exec.v0+json" in data[0], list(data[0])
        assert "text/html" in data[0]


def test_embed_rejects_an_unknown_preset():
    from hetquad.playground import embed

    with pytest.raises(ValueError, match="preset must be one of 01, 02, 03, 04, got '05'"):
        embed("05")
