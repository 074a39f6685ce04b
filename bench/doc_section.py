"""The one writer of the result sections in docs/*.md: a benchmark's section stands between its own two markers
(HTML comments, invisible on the rendered page) and is replaced in place on the next run; the rest of the file is
left as it is."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(body: str, start: str, end: str, doc: Path = BENCHMARKS) -> None:
    """Put ``body`` between the markers ``start`` and ``end`` in ``doc``, in place of what stood between them, or
    at the end of the file (markers included) where they are not there yet.  ``body`` may carry the markers
    itself."""
    body = body.strip("\n")
    body = body.removeprefix(start).removesuffix(end).strip("\n")
    section = f"{start}\n{body}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# 基准测试 / Benchmarks\n"
    i = text.find(start)
    j = text.find(end, i) if i >= 0 else -1
    replaced = text[:i] + section + text[j + len(end) :] if j >= 0 else None
    text = replaced if replaced is not None else text.rstrip("\n") + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
