"""The documentation, code comments and tests speak of the project as it is, not of how
its work went: no numbered rounds or sessions of work, no dates of work, no commit
hashes, no "today" or "this session", and no test cases named by an index into a list
of random stacks. A decision's history belongs, condensed and in present tense, in
docs/decisions/; what changed between versions in CHANGELOG.md.

A plain grep over docs/, peled/, tests/, README.md and CHANGELOG.md; each hit is reported
as file:line with the text, so it can be rewritten where it stands.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED_DIRS = ("docs", "peled", "tests")
SCANNED_FILES = ("README.md", "CHANGELOG.md")
SUFFIXES = {".md", ".py", ".yml", ".yaml", ".txt", ".rst", ".toml", ".cfg", ".ini"}

_ORDINAL = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth)"
PATTERNS: dict[str, re.Pattern[str]] = {
    # "round 4", "sessions 3-10", "session-5", "Round #2"
    "numbered round or session of work": re.compile(
        r"\b(?:round|session|sitting)s?\s*[-#]?\s*\d+", re.IGNORECASE
    ),
    # "the fourth round", "second session"
    "ordinal round or session of work": re.compile(
        rf"\b{_ORDINAL}\s+(?:round|session|sitting)\b", re.IGNORECASE
    ),
    # a random stack named by its index: "stack 33", "stacks 17, 24", "stack44_..."
    "stack named by index": re.compile(r"\bstacks?[ _-]?#?\d+", re.IGNORECASE),
    "random case named by index": re.compile(r"\brandom-\d+\b", re.IGNORECASE),
    # an ISO date: the date work was done or measured
    "date of work": re.compile(r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b"),
    "today": re.compile(r"\btoday(?:'s)?\b", re.IGNORECASE),
    "this / same session": re.compile(
        r"\b(?:this|that|same|last|next|previous|earlier|later)\s+(?:session|sitting)\b",
        re.IGNORECASE,
    ),
}
# a commit hash: 7-40 hex digits (with at least one digit and one letter) within a few
# words of "commit", "clone", "tree", "HEAD" or "main at"
_HEX = r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"
_NEAR = r"(?:commit|clone|tree|HEAD|main at|branch)"
COMMIT = re.compile(rf"{_NEAR}.{{0,60}}{_HEX}|{_HEX}.{{0,60}}{_NEAR}", re.IGNORECASE)
# Keep a Changelog version headings carry their release date: "## [0.2.0] - 2027-01-15"
CHANGELOG_HEADING = re.compile(r"^##\s*\[[^\]]+\]\s*-\s*\d{4}-\d\d-\d\d\s*$")


def scanned_files() -> list[Path]:
    """Every text file under the scanned folders, and README.md and CHANGELOG.md; only this
    file is left out, since it spells out the patterns it looks for."""
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for d in SCANNED_DIRS:
        for path in sorted((ROOT / d).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return [p for p in files if p.resolve() != Path(__file__).resolve()]


def history_hits(path: Path) -> list[str]:
    hits = []
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if path.name == "CHANGELOG.md" and CHANGELOG_HEADING.match(line):
            continue
        found = [name for name, pattern in PATTERNS.items() if pattern.search(line)]
        if COMMIT.search(line):
            found.append("commit hash")
        if found:
            hits.append(f"{rel}:{number}: [{', '.join(found)}] {line.strip()}")
    return hits


def test_patterns_catch_a_diary_and_spare_the_project():
    diary = [
        "measured in " + "session 3",
        "Robustness, " + "fifth round",
        "random " + "stack 33 sticks",
        "a fresh clone at " + "d0c28f0",
        "see " + "commit 3394e27",
        "measured " + "2026-11-24",
        "slower " + "today",
        "not timed " + "this session",
        "(" + "same sitting)",
        'database_stack("' + 'random-30"',
    ]
    project = [
        "Pasveer et al., Phys. Rev. Lett. 94, 206601 (2005)",
        "round-off of the current",
        "the backward fill revisits failed points",
        "DOI 10.1039/d3mh00062a",
        "a pytest session fixture",
        "a 3-layer stack, 64 nodes per layer",
    ]
    for line in diary:
        assert any(p.search(line) for p in PATTERNS.values()) or COMMIT.search(line), line
    for line in project:
        assert not any(p.search(line) for p in PATTERNS.values()), line
        assert not COMMIT.search(line), line
    assert CHANGELOG_HEADING.match("## [0.1.0] - 2026-12-06")


def test_docs_code_and_tests_carry_no_history_of_their_work():
    files = scanned_files()
    assert any(p.suffix == ".md" for p in files) and any(p.suffix == ".py" for p in files)
    hits = [hit for path in files for hit in history_hits(path)]
    assert not hits, "history of the work found:\n" + "\n".join(hits)
