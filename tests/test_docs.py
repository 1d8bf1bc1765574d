"""The rules travel with the code: every "SPEC §N" / "§N.M" a code comment cites is a heading of docs/rules.md, and
README points there instead of outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "rules.md"
# The application's top-level packages; any other package that appears at the top level is read too.
PACKAGES = {"bot", "handlers", "inbox", "storage", "jobs", "closer", "core", "webio", "delivery", "providers", "sales"}
NOT_CODE = {"tests", ".venv", "node_modules"}

# "§1.1", "§10", a range "§3.3–3.6" / "§1.1-§1.3" / "§1–§5" (both ends are checked).
_CITATION = re.compile(r"§\s*(\d+(?:\.\d+)?)(?:\s*[–-]\s*§?\s*(\d+(?:\.\d+)?))?")
_HEADING = re.compile(r"^#{1,6}\s+§(\d+(?:\.\d+)?)\b", re.MULTILINE)


def _sections(text: str) -> set[str]:
    found = set()
    for match in _CITATION.finditer(text):
        found.update(n for n in match.groups() if n)
    return found


def _packages() -> list[Path]:
    found = {ROOT / name for name in PACKAGES if (ROOT / name).is_dir()}
    found |= {p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name not in NOT_CODE}
    return sorted(found)


def _headings() -> set[str]:
    return set(_HEADING.findall(RULES.read_text(encoding="utf-8")))


def test_the_headings_keep_specs_numbering():
    headings = _headings()
    assert {str(n) for n in range(1, 12)} <= headings
    assert {"1.1", "1.8", "3.7", "4.3", "5.5", "10.3", "10.8", "11.5"} <= headings


def test_every_section_cited_in_the_code_is_a_heading_of_the_rules():
    headings = _headings()
    assert len(_packages()) >= 8, "the application's packages were not found"
    missing = []
    for package in _packages():
        for path in sorted(package.rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for section in sorted(_sections(line) - headings):
                    missing.append(f"{path.relative_to(ROOT)}:{number}: §{section}")
    assert not missing, "cited, but no such heading in docs/rules.md:\n" + "\n".join(missing)


def test_readme_cites_only_sections_of_the_rules():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not sorted(_sections(readme) - _headings())


def test_readme_and_docs_point_inside_the_repository():
    for path in (ROOT / "README.md", RULES, ROOT / "docs" / "interfaces.md"):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text, path.name
        assert "SPEC.md" not in text, path.name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/rules.md" in readme and "docs/interfaces.md" in readme


def test_citations_are_read_as_meant():
    assert _sections("SPEC §1.1 b, §10.2") == {"1.1", "10.2"}
    assert _sections("(SPEC §3.3–3.6, §8)") == {"3.3", "3.6", "8"}
    assert _sections("SPEC §1–§5, §3.3-3.5.") == {"1", "5", "3.3", "3.5"}
