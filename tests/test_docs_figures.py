"""Every image the documentation and README.md show exists in the repository.

Markdown image links ``![alt](path)`` in docs/**/*.md and README.md are resolved relative
to the file that holds them; web addresses are left out. The figures come from
``make readme-figures`` (the default device), ``make model-figures`` (the model and
numerics figures, docs/figures/model_figures.py) and ``make numerics-figures`` (solved
devices, docs/figures/mesh_convergence.py).
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ![alt](path) or ![alt](path "title"); alt text without a closing bracket
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def markdown_files() -> list[Path]:
    """docs/**/*.md and README.md."""
    files = sorted((ROOT / "docs").rglob("*.md"))
    readme = ROOT / "README.md"
    return [readme, *files] if readme.is_file() else files


def image_links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every local image link in a markdown file."""
    links = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for match in IMAGE.finditer(line):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
                continue  # http:, https:, data: ...
            links.append((number, target.split("#")[0].split("?")[0]))
    return links


def missing_images() -> list[str]:
    """'file:line: target' for each image link whose file is not in the repository."""
    missing = []
    for path in markdown_files():
        for number, target in image_links(path):
            resolved = (path.parent / target).resolve()
            if not resolved.is_file():
                missing.append(f"{path.relative_to(ROOT)}:{number}: {target}")
    return missing


def test_image_link_pattern() -> None:
    text = '![a](x.png) and ![b c](../d/e.png "title") and [not](f.png) ![w](https://h/i.png)'
    found = [m.group(1) for m in IMAGE.finditer(text)]
    assert found == ["x.png", "../d/e.png", "https://h/i.png"]


def test_docs_show_images() -> None:
    """The documentation shows figures at all (guards the link pattern against rotting)."""
    assert sum(len(image_links(path)) for path in markdown_files()) >= 5


def test_every_referenced_image_exists() -> None:
    missing = missing_images()
    assert not missing, "images referenced but not in the repository:\n" + "\n".join(missing)
