"""A tiny document model (headings, paragraphs, lists, tables, images) rendered as Markdown
or as a standalone HTML page, so that ``report.md`` and ``report.html`` say the same."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
code{font-size:12px}"""


@dataclass
class Doc:
    """Blocks in order: ``(kind, payload)``."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("ul", items))

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", (headers, rows)))

    def image(self, link: str, alt: str) -> None:
        self.blocks.append(("img", (link, alt)))

    def markdown(self) -> str:
        out: list[str] = []
        for kind, payload in self.blocks:
            if kind == "h":
                out.append(f"{'#' * payload[0]} {payload[1]}")
            elif kind == "p":
                out.append(payload)
            elif kind == "ul":
                out.append("\n".join(f"- {item}" for item in payload))
            elif kind == "table":
                headers, rows = payload
                lines = [_md_row(headers), "|" + "---|" * len(headers)]
                lines += [_md_row(row) for row in rows]
                out.append("\n".join(lines))
            elif kind == "img":
                link, alt = payload
                out.append(f"[![{alt}]({link})]({link})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        ]
        for kind, payload in self.blocks:
            if kind == "h":
                level, text = payload
                out.append(f"<h{level}>{html.escape(text)}</h{level}>")
            elif kind == "p":
                out.append(f"<p>{_inline(payload)}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in payload) + "</ul>")
            elif kind == "table":
                headers, rows = payload
                head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
                body = "".join(
                    "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                    for row in rows
                )
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif kind == "img":
                link, alt = (html.escape(p, quote=True) for p in payload)
                out.append(f'<a href="{link}"><img src="{link}" alt="{alt}"></a>')
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _inline(text: str) -> str:
    """Escape text; Markdown backticks become <code>."""
    parts = str(text).split("`")
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )
