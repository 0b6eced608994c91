"""The validation report's blocks (headings, paragraphs, lists, tables, figures) and their
two renderings: Markdown with figures linked from ``figures/``, and one self-contained
HTML file with the figures embedded as base64 PNG (:mod:`peled.validation.report`)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Block:
    kind: str  # "h1" | "h2" | "h3" | "p" | "list" | "table" | "figure"
    text: str = ""
    items: Sequence[str] = ()
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    path: str = ""  # figure file name under figures/


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "list":
            out.append("\n".join(f"- {it}" for it in b.items))
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out[-1] += "\n|" + "---|" * len(b.header)
            for row in b.rows:
                out[-1] += "\n| " + " | ".join(_md_cell(c) for c in row) + " |"
        elif b.kind == "figure":
            out.append(f"![{b.text}](figures/{b.path})\n\n*{b.text}*")
        out.append("")
    return "\n".join(out)


_CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}"
    "th{background:#eee}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%}figure{margin:1em 0}figcaption{font-style:italic}"
)


def render_html(blocks: Sequence[Block], figures_dir: Path, title: str) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>',
        f"<style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{esc(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "list":
            out.append("<ul>" + "".join(f"<li>{esc(it)}</li>" for it in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{esc(str(h))}</th>" for h in b.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in b.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "figure":
            data = base64.b64encode((figures_dir / b.path).read_bytes()).decode("ascii")
            out.append(
                f'<figure><img alt="{esc(b.text)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{esc(b.text)}</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------
