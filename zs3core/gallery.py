"""The HTML page of a predictions folder: each image beside its overlay, and the colour legend.

One self-contained page (inline style, no script, nothing fetched from the network) that links
only to files of its own folder, by relative paths, so it opens from a file browser and survives
the folder being moved or copied. Names are HTML-escaped and paths URL-quoted: an image named
`a&b #1.png` or a class named `<x>` shows as written.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import quote

STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}
table.legend{border-collapse:collapse;margin-bottom:1.5em}
table.legend td,table.legend th{padding:.2em .7em;text-align:left;border-bottom:1px solid #ddd}
.swatch{display:inline-block;width:1.4em;height:1em;border:1px solid #888;vertical-align:middle}
tr.named{font-weight:bold}
figure{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}
figure img{max-width:360px;height:auto;image-rendering:pixelated;margin-right:.3em}
figcaption{font-size:.9em}"""


@dataclass(frozen=True)
class LegendRow:
    """A class of the legend: its colour, whether seen, unseen or named, and its share of the pixels."""
    name: str
    split: str
    colour: str  # "#rrggbb"
    share: float  # of all predicted pixels in the folder


def gallery_html(title: str, legend: Sequence[LegendRow], images: Sequence[tuple[str, str]],
                 skipped: Sequence[str] = ()) -> str:
    """The page: `title`, the legend (named classes in bold), then per (caption, file name) of
    `images` the picture `image/<file>` beside `overlay/<file>`, and the files that were `skipped`."""
    esc = html.escape
    rows = "\n".join(
        f'<tr class="{esc(r.split)}"><td><span class="swatch" style="background:{esc(r.colour)}"></span></td>'
        f"<td>{esc(r.name)}</td><td>{esc(r.split)}</td><td>{100 * r.share:.1f}%</td></tr>" for r in legend)
    figures = "\n".join(
        f'<figure><img src="image/{quote(file)}" alt="{esc(caption)}">'
        f'<img src="overlay/{quote(file)}" alt="{esc(caption)}, predicted">'
        f"<figcaption>{esc(caption)}</figcaption></figure>" for caption, file in images)
    missing = ("<h2>Not predicted (unreadable)</h2><ul>" + "".join(f"<li>{esc(s)}</li>" for s in skipped)
               + "</ul>") if skipped else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{STYLE}</style></head>
<body><h1>{esc(title)}</h1>
<table class="legend"><tr><th></th><th>class</th><th>split</th><th>pixels</th></tr>
{rows}
</table>
{figures}
{missing}
</body></html>
"""
