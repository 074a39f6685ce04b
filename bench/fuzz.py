"""Fuzzing the parser with mutated reports: every input in a runner process under hard limits.

    .venv/bin/python bench/fuzz.py                      # 10,000 inputs (make fuzz), figures → docs/robustness.md
    .venv/bin/python bench/fuzz.py -n 300 --no-write    # a quick look
    .venv/bin/python bench/fuzz.py --show 1234 --save /tmp/x   # write input #1234 to a file (a reproducer)

Base documents are real and hand-written reports (tests/fixtures) plus generated Word and PDF files; each input is
one of them with 1–3 mutations drawn from a fixed seed: byte flips, truncation, shuffled and duplicated lines, huge,
negative and long numbers, full-width digits, encoding swaps, one-line and very long lines, deep and huge HTML,
hostile table spans, broken PDF structure, hostile Word tables (huge ``w:gridSpan`` / ``w:gridBefore``, many rows,
deep nesting, a zip bomb), oversized and many-frame images.  Input ``i`` depends only on (seed, i).

Each input is parsed with :func:`pipeline.parse.parse_file` in a runner process; what counts as a failure: an
exception other than :class:`~pipeline.readers.ReadError` (a clear refusal), a runner that dies, more than
``SLOW_S`` seconds, more than ``BIG_MIB`` of peak resident memory (the runner's high-water mark, reset before each
input).  Runners are killed past ``HARD_S`` / ``HARD_MIB`` and replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import random
import re
import sys
import time
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.doc_section import write_section  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
DOC = ROOT / "docs" / "robustness.md"
OUT = ROOT / "bench" / "out" / "fuzz.json"
START, END = "<!-- fuzz:start -->", "<!-- fuzz:end -->"
SLOW_S = 10.0  # an input slower than this is a failure
RECYCLE_MIB = 250.0  # a runner still this large after an input is replaced (a fresh one holds ≈ 150 MiB)
BIG_MIB = 500.0  # an input whose parse peaks above this resident memory is a failure
HARD_S = 30.0  # a runner still busy after this is killed (a hang; anything past SLOW_S already counts)
HARD_MIB = 3072.0  # a runner above this is killed (memory exhaustion)
_PAGE = os.sysconf("SC_PAGE_SIZE")
CAP_BYTES = 50 * 1024 * 1024 + 1  # one byte over pipeline.readers.MAX_BYTES


# ---------------------------------------------------------------------------------------------------------------
# Base documents


@dataclass(frozen=True)
class Base:
    name: str
    ext: str
    data: bytes


def _small_scan() -> bytes:
    """A small image of a few printed lines (OCR runs, quickly)."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (420, 160), 255)
    draw = ImageDraw.Draw(im)
    for i, y in enumerate(range(10, 150, 28)):
        draw.text((10, y), f"{2023 + i}  {i * 17}  {i * 3}  {i * 41}", fill=0)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def base_documents() -> list[Base]:
    """The documents mutations start from (fixed: files in the repository and generator output of seed 7)."""
    out: list[Base] = []
    shared = FIXTURES / "shared"
    for path in sorted(
        [*shared.rglob("*.txt"), *(FIXTURES / "variants").glob("*.txt"), *(FIXTURES / "variants").glob("*.md")]
    ):
        out.append(Base(path.name, path.suffix, path.read_bytes()))
    for path in sorted((FIXTURES / "html").glob("*.html")):
        out.append(Base(path.name, ".html", path.read_bytes()))
    for path in sorted(shared.rglob("*.pdf")):
        out.append(Base(path.parent.name + ".pdf", ".pdf", path.read_bytes()))
    from pipeline.generator.corpus import CorpusConfig, iter_documents

    config = CorpusConfig(size="tiny", seed=7, layouts=("docx", "pdf-text"), limit=4, error_share=0.0,
                          legacy_share=0.0, non_report_share=0.0)  # fmt: skip
    for doc in iter_documents(config):
        ext = Path(doc.relpath).suffix
        out.append(Base(Path(doc.relpath).name, ext, doc.data))
    out.append(Base("scan.png", ".png", _small_scan()))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Mutations: (rng, data, ext) → (data, ext, what)

Mutation = Callable[[random.Random, bytes, str], tuple[bytes, str, str]]
TEXTUAL = (".txt", ".md", ".html")


def byte_flips(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    buf = bytearray(data)
    k = rng.choice((1, 3, 10, 50))
    for _ in range(k):
        if buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf), ext, f"flip {k} bytes"


def truncate(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    cut = rng.randrange(max(1, len(data)))
    return data[:cut], ext, f"truncate at {cut}"


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def shuffle_lines(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    lines = _lines(data)
    a = rng.randrange(len(lines))
    b = min(len(lines), a + rng.choice((5, 20, 200)))
    window = lines[a:b]
    rng.shuffle(window)
    return b"\n".join(lines[:a] + window + lines[b:]), ext, f"shuffle lines {a}-{b}"


def duplicate_lines(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    times = rng.choice((2, 50, 5000))
    return b"\n".join(lines[:i] + [lines[i]] * times + lines[i:]), ext, f"line {i} x{times}"


def _text(data: bytes) -> str | None:
    for enc in ("utf-8", "utf-16", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def huge_numbers(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    text = _text(data)
    if text is None:
        return byte_flips(rng, data, ext)
    choices = ["9" * rng.choice((15, 20, 60, 400)), "-" + "1" * rng.choice((3, 19)), "1e308", "-0", "0" * 50,
               "１２３４５６７８９０" * 3, str(2**64), "3.14159265358979", "－7", "+" + "8" * 30]  # fmt: skip
    n = rng.choice((1, 5, 50))
    spots = [m.span() for m in re.finditer(r"\d+", text)]
    for start, end in sorted(rng.sample(spots, min(n, len(spots))), reverse=True):
        text = text[:start] + rng.choice(choices) + text[end:]
    return text.encode("utf-8"), ext, f"{n} numbers replaced"


def fullwidth_digits(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    text = _text(data)
    if text is None:
        return truncate(rng, data, ext)
    return text.translate(str.maketrans("0123456789", "０１２３４５６７８９")).encode("utf-8"), ext, "full-width digits"


def encoding_swap(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    text = _text(data)
    if text is None:
        return truncate(rng, data, ext)
    enc = rng.choice(
        ("gb18030", "big5", "utf-16-le", "utf-16-be", "utf-16", "utf-32", "utf-8-sig", "latin-1", "cp1252")
    )
    out = text.encode(enc, errors="replace") if enc not in ("latin-1", "cp1252") else text.encode("utf-8").decode(
        "latin-1").encode(enc, errors="replace")  # fmt: skip
    if ext == ".html" and rng.random() < 0.5:
        out = b'<meta charset="' + rng.choice([b"gbk", b"big5", b"utf-8", b"iso-8859-1", b"x-nonsense"]) + b'">' + out
    return out, ext, f"encoded {enc}"


def one_line(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    if rng.random() < 0.5:
        return data.replace(b"\n", b"").replace(b"\t", b""), ext, "joined into one line"
    pad = rng.choice((b"\xe4\xb8\x80", b"1", b"1 ", b"\xe6\x80\xbb\xe8\xae\xa1 12 "))
    n = rng.choice((50_000, 200_000, 3_000_000)) // len(pad)
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"\n".join(lines[:i] + [pad * n] + lines[i:]), ext, f"line of {n} x {pad!r}"


def deep_html(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    depth = rng.choice((600, 5000, 100_000, 300_000))
    tag = rng.choice((b"div", b"span", b"font", b"table><tr><td", b"b"))
    close = b"</" + tag.split(b">")[0] + b">" if rng.random() < 0.7 else b""
    inner = data if len(data) < 200_000 else data[:200_000]
    return (
        b"<html><body>" + (b"<" + tag + b">") * depth + inner + close * depth + b"</body></html>",
        ".html",
        f"nested {depth} <{tag.decode()}>",
    )


def huge_html(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    kind = rng.choice(("rows", "spans", "tables", "cells"))
    if kind == "rows":
        body = b"<tr><td>\xe6\x80\xbb\xe8\xae\xa1</td><td>1</td><td>2</td></tr>" * rng.choice((10_000, 200_000))
        page = b"<table>" + body + b"</table>"
    elif kind == "spans":
        span = rng.choice((b"999999999", b"100000", b"0", b"-5", b"1" * 400, b"65534"))
        cell = b'<td rowspan="' + span + b'" colspan="' + span + b'">x</td>'
        page = b"<table>" + (b"<tr>" + cell + b"<td>1</td></tr>") * rng.choice((3, 3000)) + b"</table>"
    elif kind == "tables":
        page = b"<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table>" * rng.choice((3000, 50_000))
    else:
        page = b"<table><tr>" + b"<td>7</td>" * rng.choice((300, 100_000)) + b"</tr><tr><td>1</td></tr></table>"
    head = data[: len(data) // 2]
    return head + page + data[len(data) // 2 :], ".html", f"huge html: {kind}"


def broken_pdf(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    kind = rng.choice(("xref", "count", "kids", "mediabox", "objects", "stream", "header"))
    if kind == "xref":
        return re.sub(rb"startxref\s+\d+", b"startxref\n999999999", data), ".pdf", "bad startxref"
    if kind == "count":
        return (
            re.sub(rb"/Count\s+\d+", b"/Count " + rng.choice([b"0", b"-1", b"99999999", b"1e9"]), data),
            ".pdf",
            "bad /Count",
        )
    if kind == "kids":
        return re.sub(rb"/Kids\s*\[[^\]]*\]", b"/Kids [1 0 R 1 0 R 2 0 R]", data, count=1), ".pdf", "circular /Kids"
    if kind == "mediabox":
        box = rng.choice([b"[0 0 14400 14400]", b"[0 0 99999999 99999999]", b"[0 0 0 0]", b"[0 0 -5 1e30]"])
        return re.sub(rb"/MediaBox\s*\[[^\]]*\]", b"/MediaBox " + box, data), ".pdf", f"MediaBox {box.decode()}"
    if kind == "objects":
        objs = [m.start() for m in re.finditer(rb"\d+ 0 obj", data)]
        if len(objs) > 2:
            a = rng.choice(objs)
            return data[:a] + data[a + rng.randrange(10, 2000) :], ".pdf", "object removed"
    if kind == "stream":
        return (
            data.replace(b"stream\r\n", b"stream\r\n\xff\xfe\x00", 3).replace(b"stream\n", b"stream\n\x00\x9c", 3),
            ".pdf",
            "damaged streams",
        )
    return b"%PDF-1." + bytes([rng.randrange(256)]) + data[8:], ".pdf", "odd header"


def _docx_parts(data: bytes) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {n: z.read(n) for n in z.namelist()}
    except Exception:  # noqa: BLE001 - a damaged archive (zlib errors included) is simply not mutated as one
        return None


def _zip(parts: dict[str, bytes], extra: list[tuple[str, bytes]] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
        for name, content in extra or []:
            z.writestr(name, content)
    return buf.getvalue()


def hostile_docx(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    parts = _docx_parts(data)
    if parts is None or "word/document.xml" not in parts:
        return byte_flips(rng, data, ext)
    xml = parts["word/document.xml"]
    kind = rng.choice(("gridSpan", "gridBefore", "vMerge", "rows", "nesting", "bomb", "xml", "dates"))
    big = rng.choice((b"999999999", b"1000000", b"300", b"-1", b"1" * 30))
    if kind == "gridSpan":
        xml = xml.replace(b"<w:tcPr>", b'<w:tcPr><w:gridSpan w:val="' + big + b'"/>', rng.choice((1, 5, 1000)))
    elif kind == "gridBefore":
        xml = xml.replace(
            b"<w:tr>", b'<w:tr><w:trPr><w:gridBefore w:val="' + big + b'"/></w:trPr>', rng.choice((1, 5, 1000))
        )
        xml = re.sub(rb"(<w:tr\b[^>]*>)", rb'\1<w:trPr><w:gridBefore w:val="' + big + rb'"/></w:trPr>', xml, count=3)
    elif kind == "vMerge":
        xml = xml.replace(
            b"<w:tcPr>", b'<w:tcPr><w:vMerge w:val="' + rng.choice([b"continue", b"restart", b"x"]) + b'"/>'
        )
    elif kind == "rows":
        rows = re.findall(rb"<w:tr\b.*?</w:tr>", xml, flags=re.S)
        if rows:
            extra = rows[0] * rng.choice((2000, 20_000))
            xml = xml.replace(rows[0], rows[0] + extra, 1)
    elif kind == "nesting":
        depth = rng.choice((100, 1000, 50_000))
        xml = xml.replace(b"<w:body>", b"<w:body>" + b"<w:sdt><w:sdtContent>" * depth + b"<w:p><w:r><w:t>x</w:t></w:r></w:p>"
                          + b"</w:sdtContent></w:sdt>" * depth, 1)  # fmt: skip
    elif kind == "dates" and "docProps/core.xml" in parts:  # core.xml dates at the ends of the calendar
        stamp = rng.choice(
            (b"9999-12-31T23:59:59Z", b"0001-01-01T00:00:00+14:00", b"9999-12-31T23:59:59-12:00", b"x" * 1000)
        )
        parts["docProps/core.xml"] = re.sub(
            rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, parts["docProps/core.xml"]
        )
        return _zip(parts), ext, f"docx dates {stamp.decode()[:12]}"
    elif kind == "bomb":
        return _zip(parts, [("word/media/zeros.bin", b"\0" * rng.choice((210, 400)) * 1024 * 1024)]), ext, "zip bomb"
    else:
        xml = xml[: rng.randrange(len(xml))]
    parts["word/document.xml"] = xml
    return _zip(parts), ext, f"docx {kind} {big.decode()[:12]}"


def oversized_image(rng: random.Random, data: bytes, ext: str) -> tuple[bytes, str, str]:
    import struct
    import zlib

    kind = rng.choice(("header", "frames", "big"))
    if kind == "header":  # a PNG whose header claims a giant picture
        w, h = rng.choice(((100_000, 100_000), (2**31 - 1, 1), (70_000, 600), (1, 2**31 - 1)))
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        idat = zlib.compress(b"\0" * 4096)
        png += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
        return png + b"\0\0\0\0IEND\xaeB`\x82", ".png", f"PNG header {w}x{h}"
    from PIL import Image

    if kind == "frames":
        frames = [Image.new("L", (8, 8), 255) for _ in range(rng.choice((61, 500)))]
        buf = io.BytesIO()
        frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
        return buf.getvalue(), ".tif", f"{len(frames)}-frame TIFF"
    side = rng.choice((7000, 9000))
    buf = io.BytesIO()
    Image.new("L", (side, side), 255).save(buf, format="PNG")
    return buf.getvalue(), ".png", f"blank {side}x{side} PNG"


GENERAL: tuple[Mutation, ...] = (byte_flips, truncate)
BY_EXT: dict[str, tuple[Mutation, ...]] = {
    ".txt": (shuffle_lines, duplicate_lines, huge_numbers, fullwidth_digits, encoding_swap, one_line),
    ".md": (shuffle_lines, duplicate_lines, huge_numbers, fullwidth_digits, encoding_swap, one_line),
    ".html": (shuffle_lines, duplicate_lines, huge_numbers, fullwidth_digits, encoding_swap, deep_html, huge_html),
    ".pdf": (broken_pdf, broken_pdf),
    ".docx": (hostile_docx, hostile_docx),
    ".png": (oversized_image,),
    ".tif": (),
}


def mutated_input(i: int, seed: int = 0, bases: list[Base] | None = None) -> tuple[str, bytes, str]:
    """Input ``i`` of the run with ``seed``: (file name, bytes, description)."""
    bases = bases or base_documents()
    rng = random.Random(f"{seed}:{i}")
    base = rng.choice(bases)
    data, ext, what = base.data, base.ext, [base.name]
    for _ in range(rng.choice((1, 1, 2, 3))):
        pool = GENERAL + BY_EXT.get(ext, ())
        mutate = rng.choice(pool)
        try:
            data, ext, step = mutate(rng, data, ext)
        except Exception as exc:  # noqa: BLE001 - a mutation that cannot apply to damaged input: flip bytes instead
            data, ext, step = byte_flips(rng, data, ext)
            step += f" ({mutate.__name__} failed: {type(exc).__name__})"
        what.append(step)
    if len(data) > CAP_BYTES:  # beyond the size limit every file is refused the same way: do not ship a gigabyte
        data, what = data[:CAP_BYTES], [*what, f"cut to {CAP_BYTES:,} bytes"]
    return f"fuzz_{i}{ext}", data, " | ".join(what)


# ---------------------------------------------------------------------------------------------------------------
# Running


@dataclass
class Result:
    index: int
    name: str
    what: str
    size: int
    status: str  # ok, refused, crash, died, timeout, oom
    seconds: float
    peak_mib: float
    detail: str = ""


def _short(filename: str) -> str:
    """A source file's path inside pipeline/ (``matcher/t3_rows.py``)."""
    return filename.rsplit("/pipeline/", 1)[-1]


def _peak_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM, the resident high-water mark
    except OSError:
        pass


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _runner(conn: Connection, stack_file: str) -> None:
    import faulthandler
    import signal

    from pipeline.parse import parse_file
    from pipeline.readers import ReadError

    dump = open(stack_file, "w")  # noqa: SIM115 - open for the runner's life: where SIGUSR1 writes its stack
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=False)

    while True:
        try:
            index, name, data = conn.recv()
        except EOFError:
            return
        _peak_reset()
        started = time.perf_counter()
        status, detail = "ok", ""
        try:
            parse_file(name, data)
        except ReadError as exc:
            status, detail = "refused", str(exc)[:200]
        except BaseException as exc:  # noqa: BLE001 - everything else is what we are looking for
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/pipeline/" in f.filename]
            where = f"{_short(frames[-1].filename)}:{frames[-1].lineno} {frames[-1].name}" if frames else "?"
            status, detail = "crash", f"{type(exc).__name__} at {where}: {str(exc)[:160]}"
        conn.send((index, status, detail, time.perf_counter() - started, _peak_mib()))


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _stack_of(proc: multiprocessing.process.BaseProcess, stack_file: Path) -> str:
    """Where a runner is stuck: the innermost frames of its stack (dumped by faulthandler on SIGUSR1)."""
    import signal

    try:
        os.kill(proc.pid or 0, signal.SIGUSR1)
    except OSError:
        return ""
    time.sleep(0.3)
    frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', stack_file.read_text(errors="replace"))
    ours = [f"{_short(f)}:{line} {fn}" for f, line, fn in frames if "/pipeline/" in f]
    return " < ".join(ours[:3])


def run(
    inputs: Iterator[tuple[int, str, bytes, str]], runners: int = 2, progress: bool = False, hard_s: float = HARD_S
) -> list[Result]:
    """Parse every input in ``runners`` processes under the hard limits; one :class:`Result` per input."""
    import tempfile

    from pipeline.ingest.workers import bare_main

    ctx = multiprocessing.get_context("spawn")
    stacks = Path(tempfile.mkdtemp(prefix="xxgk-fuzz-"))
    idle: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    busy: dict[Connection, tuple[multiprocessing.process.BaseProcess, tuple[int, str, int, str], float, float]] = {}
    results: list[Result] = []
    files: dict[multiprocessing.process.BaseProcess, Path] = {}

    def start() -> None:
        parent, child = ctx.Pipe()
        stack_file = stacks / f"runner-{time.monotonic_ns()}.txt"
        proc = ctx.Process(target=_runner, args=(child, str(stack_file)), daemon=True)
        # Imported (a test, a notebook), the runner needs nothing from ``__main__``, which may be a script that must
        # not run again in each runner (a Streamlit or AppTest script); run as a script, it is ``__main__``.
        with contextlib.nullcontext() if _runner.__module__ == "__main__" else bare_main():
            proc.start()
        files[proc] = stack_file
        child.close()
        idle.append((proc, parent))

    for _ in range(runners):
        start()
    pending = iter(inputs)
    exhausted = False
    last = time.monotonic()
    while busy or not exhausted:
        while idle and not exhausted:
            item = next(pending, None)
            if item is None:
                exhausted = True
                break
            index, name, data, what = item
            proc, conn = idle.pop()
            conn.send((index, name, data))
            busy[conn] = (proc, (index, name, len(data), what), time.monotonic(), 0.0)
        ready = wait(list(busy) + [p.sentinel for p, *_ in busy.values()], timeout=0.1)
        for conn in list(busy):
            proc, (index, name, size, what), started, peak = busy[conn]
            if conn in ready:
                try:
                    _, status, detail, seconds, peak_mib = conn.recv()
                except (EOFError, OSError):
                    pass
                else:
                    results.append(Result(index, name, what, size, status, seconds, peak_mib, detail))
                    del busy[conn]
                    if _rss_mib(proc.pid or 0) > RECYCLE_MIB:
                        # memory an input left behind (OCR models, allocator arenas) would count against the next
                        # inputs' peaks: each input starts from a fresh runner's footprint instead
                        proc.kill()
                        proc.join()
                        conn.close()
                        start()
                    else:
                        idle.append((proc, conn))
                    continue
            rss = _rss_mib(proc.pid or 0)
            busy[conn] = (proc, (index, name, size, what), started, max(peak, rss))
            elapsed = time.monotonic() - started
            status = None
            if not proc.is_alive():
                status, detail = "died", f"exit code {proc.exitcode}"
            elif elapsed > hard_s:
                status, detail = "timeout", f"killed after {hard_s:g} s in {_stack_of(proc, files[proc]) or '?'}"
            elif rss > HARD_MIB:
                status, detail = "oom", f"killed at {rss:.0f} MiB"
            if status is not None:
                proc.kill()
                proc.join()
                results.append(Result(index, name, what, size, status, elapsed, max(peak, rss), detail))
                del busy[conn]
                start()
        if progress and time.monotonic() - last > 30:
            last = time.monotonic()
            print(f"  {len(results)} done", file=sys.stderr, flush=True)
    for proc, conn in idle:
        conn.close()
        proc.join(timeout=5)
    return sorted(results, key=lambda r: r.index)


def failures(results: list[Result]) -> dict[str, list[Result]]:
    """Inputs that count against the parser: uncaught exceptions, over SLOW_S, over BIG_MIB."""
    return {
        "crash": [r for r in results if r.status in ("crash", "died")],
        "slow": [r for r in results if r.status == "timeout" or r.seconds > SLOW_S],
        "big": [r for r in results if r.status == "oom" or r.peak_mib > BIG_MIB],
    }


def inputs(n: int, seed: int = 0, start: int = 0) -> Iterator[tuple[int, str, bytes, str]]:
    bases = base_documents()
    for i in range(start, start + n):
        name, data, what = mutated_input(i, seed, bases)
        yield i, name, data, what


# ---------------------------------------------------------------------------------------------------------------
# Report


def report(results: list[Result], seed: int, seconds: float) -> str:
    import platform

    fail = failures(results)
    statuses = Counter(r.status for r in results)
    by_ext = Counter(Path(r.name).suffix for r in results)
    times = sorted(r.seconds for r in results)
    peaks = sorted(r.peak_mib for r in results)
    lines = [
        START,
        "## 模糊测试 / fuzzing (`make fuzz`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/fuzz.py` (seed {seed}) on {platform.node()}: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{seconds / 60:.1f} min wall time with 2 runner processes (1-minute load average at the end: "
        f"{os.getloadavg()[0]:.1f}; 2 = both cores busy, as the runners keep them).",
        "",
        "| inputs | uncaught exceptions | over 10 s | over 500 MB | refused with a message | parsed |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {len(results):,} | {len(fail['crash'])} | {len(fail['slow'])} | {len(fail['big'])} | {statuses['refused']:,} "
        f"| {statuses['ok']:,} |",
        "",
        "Inputs by format: " + ", ".join(f"{ext} {n:,}" for ext, n in sorted(by_ext.items())) + ".  "
        f"Time per input: median {times[len(times) // 2]:.2f} s, max {times[-1]:.1f} s; "
        f"peak resident memory: median {peaks[len(peaks) // 2]:.0f} MiB, max {peaks[-1]:.0f} MiB "
        "(the parsing process, libraries included).",
        "",
    ]
    for kind, title in (("crash", "Uncaught exceptions"), ("slow", "Over 10 s"), ("big", "Over 500 MB")):
        if fail[kind]:
            lines += [f"{title} (reproduce: `python bench/fuzz.py --show N --save FILE`):", ""]
            lines += [f"- #{r.index} `{r.what}`: {r.status} {r.seconds:.1f} s {r.peak_mib:.0f} MiB {r.detail}"
                      for r in fail[kind][:30]]  # fmt: skip
            lines.append("")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10_000, help="number of inputs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runners", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/")
    ap.add_argument("--show", type=int, help="describe input N (and --save it)")
    ap.add_argument("--save", type=Path, help="with --show: write the input's bytes here")
    args = ap.parse_args()
    if args.show is not None:
        name, data, what = mutated_input(args.show, args.seed)
        print(f"#{args.show} {name} ({len(data):,} bytes): {what}")
        if args.save:
            args.save.write_bytes(data)
        return
    started = time.monotonic()
    results = run(inputs(args.n, args.seed), runners=args.runners, progress=True)
    section = report(results, args.seed, time.monotonic() - started)
    print(section)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False), encoding="utf-8")
    if not args.no_write:
        write_section(section, START, END, DOC)
    fail = failures(results)
    if any(fail.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
