"""Small HTML pages and PDFs made on the spot (no files from the internet): a news page with
navigation, script and footer around its article, and PDFs with real text content streams."""

from __future__ import annotations

import io

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

NEWS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Floods hit the valley | Example News</title>
<meta name="author" content="Jane Roe">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
<link rel="canonical" href="https://news.example.com/2024/floods">
<style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Floods hit the valley</h1>
<p>Heavy rain caused the river to burst its banks on Monday, forcing 2,000 people from
their homes in the valley.</p>
<p>Officials said the water would recede by Friday. &ldquo;We are doing everything we can,&rdquo;
the mayor said at a briefing in the town hall.</p>
<script>var tracker = "<p>not article text</p>";</script>
<p>Schools in the area will stay closed for the rest of the week, the council said.</p>
</article>
<footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>
"""


def make_pdf(
    pages: list[list[str]], *, title: str | None = None, author: str | None = None
) -> bytes:
    """A PDF whose page i shows ``pages[i]``, one text line each (Helvetica, WinAnsi)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for lines in pages:
        page = writer.add_blank_page(width=612, height=792)
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("cp1252"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    info = {"/Title": title, "/Author": author}
    if any(info.values()):
        writer.add_metadata({k: v for k, v in info.items() if v})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
