"""The repository is self-contained (issue 21): no tracked file points outside it, and every
"THEORY §n" citation names a section that the formula sheet ``docs/theory.md`` has.

Files are those git tracks plus new files git does not ignore (what the next commit can hold), so
a bad path is caught before it is committed. The two checkers are plain functions, tested on
synthetic text first, so a checker that cannot fail would fail its own tests.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "docs" / "theory.md"

# A section token: 2, 5b, 8.3. "§n" (a placeholder in prose about the convention) is not one.
_SECTION = r"§\s?(\d+[a-z]?(?:\.\d+)?)"
# "THEORY §2", "THEORY.md §4", "THEORY §2–§4", "THEORY §6, §7", "THEORY §6/§7", "THEORY §2 and §4".
_CITATION = re.compile(r"THEORY(?:\.md)?\s?" + _SECTION + r"((?:\s*(?:,|/|–|-|and|&)\s*§\s?\d+[a-z]?(?:\.\d+)?)*)")
_HEADING = re.compile(r"^#{2,4}\s+(\d+[a-z]?(?:\.\d+)?)\.?\s", re.MULTILINE)
# Paths that can only mean "somewhere on the author's machine", and the team's folder next to the
# checkout (``../shared/``), which a clone never has, whichever directory the path starts from.
_ABSOLUTE = re.compile(r"(?<![\w.])(?:/work/|/home/\w|/Users/\w|/mnt/\w|/root/|file://|(?:\.\./)+shared/)")
# A relative path climbing out of its directory: ../x, ../../x ("…/x" and ".../x" are prose).
_RELATIVE = re.compile(r"(?<![\w./])((?:\.\./)+)([\w.\-]+(?:/[\w.\-]+)*)")


def cited_sections(text: str) -> set[str]:
    """Every section a "THEORY §n" citation in ``text`` names (ranges give both ends)."""
    found = set()
    for m in _CITATION.finditer(text):
        found.add(m.group(1))
        found.update(re.findall(_SECTION, m.group(2)))
    return found


def sheet_sections(text: str) -> set[str]:
    """Section numbers of the sheet's headings ("## 8. …", "### 8.3 …", "### 5a. …")."""
    return set(_HEADING.findall(text))


def outside_pointers(text: str, where: Path, root: Path = ROOT) -> list[str]:
    """Absolute machine paths, and relative paths that resolve outside ``root`` from file ``where``."""
    bad = [m.group(0) for m in _ABSOLUTE.finditer(text)]
    for m in _RELATIVE.finditer(text):
        target = (where.parent / m.group(1) / m.group(2)).resolve()
        if not target.is_relative_to(root.resolve()):
            bad.append(m.group(0))
    return bad


def _files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name and (ROOT / name).is_file()]


def _text(path: Path) -> str | None:
    """The file as text (a notebook as its JSON with unicode unescaped); None for binary files."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    if path.suffix == ".ipynb":
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text


# -- the checkers can fail ------------------------------------------------------------------
def test_citation_parser_finds_every_spelling():
    text = ('see THEORY §2, THEORY.md §4 and THEORY §2–§4; (THEORY §6, §11) THEORY §6/§7 '
            'THEORY §8.3: THEORY §5b. "THEORY §n" is the convention')
    assert cited_sections(text) == {"2", "4", "6", "7", "8.3", "5b", "11"}


def test_a_planted_bad_citation_is_caught():
    sheet = "## 1. One\n\n## 2. Two\n\n### 2.1 Sub\n\n### 5a. Five a\n"
    assert sheet_sections(sheet) == {"1", "2", "2.1", "5a"}
    good = "THEORY §1, THEORY §2.1 and THEORY §5a"
    bad = good + " and THEORY §12, THEORY §2.2, THEORY §5b"
    assert cited_sections(good) - sheet_sections(sheet) == set()
    assert cited_sections(bad) - sheet_sections(sheet) == {"12", "2.2", "5b"}


def test_a_planted_outside_pointer_is_caught(tmp_path):
    root = tmp_path / "repo"
    where = root / "notebooks" / "x.md"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "theory.md").write_text("")
    fine = "[sheet](../docs/theory.md), pd.read_parquet('.../results.parquet'), a/b/c, 1/2"
    assert outside_pointers(fine, where, root) == []
    for planted in ("`../shared/THEORY.md`", "../../elsewhere.txt", "/work/main/x", "/home/me/data",
                    "file:///etc/passwd"):
        assert outside_pointers(fine + " " + planted, where, root), planted
    # From the root, one level up is already outside.
    assert outside_pointers("see ../notes.md", root / "README.md", root) == ["../notes.md"]
    assert outside_pointers("see docs/theory.md", root / "README.md", root) == []


# -- the repository ------------------------------------------------------------------------
def test_the_formula_sheet_has_every_section_the_code_cites():
    sections = sheet_sections(SHEET.read_text(encoding="utf-8"))
    # The numbering the code has used since the start: §1–§11, §5a/5b, §8.1–8.5, §9.1–9.2.
    assert {str(n) for n in range(1, 12)} | {"5a", "5b", "8.1", "8.2", "8.3", "8.4", "8.5", "9.1",
                                             "9.2"} <= sections
    missing = {}
    for path in _files():
        if path == Path(__file__).resolve():
            continue  # this file plants bad citations on purpose
        text = _text(path)
        if text is None:
            continue
        unknown = cited_sections(text) - sections
        if unknown:
            missing[str(path.relative_to(ROOT))] = sorted(unknown)
    assert not missing, f"citations of sections docs/theory.md lacks: {missing}"


def test_no_file_points_outside_the_repository():
    offenders = {}
    for path in _files():
        if path == Path(__file__).resolve():
            continue  # this file plants bad paths on purpose
        text = _text(path)
        if text is None:
            continue
        bad = outside_pointers(text, path)
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad[:5]
    assert not offenders, f"paths outside the repository: {offenders}"
