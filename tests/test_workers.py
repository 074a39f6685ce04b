"""Parsing under a budget: a file over its time or memory budget is killed and reported while the others load, and a
killed ingest (``kill -9``) leaves no worker running and no temporary copy once the database is next opened."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REAL, SEED
from PIL import Image, ImageDraw

from pipeline.ingest import Budget, ParseJob, ingest, parse_stream
from pipeline.readers.limits import MAX_OCR_PAGES
from pipeline.store import LOADED, LOADED_WITH_ERRORS, UNREADABLE, Database

pytestmark = pytest.mark.usefixtures("close_cached_readers")
ROOT = Path(__file__).resolve().parents[1]


def slow_scan(path: Path, pages: int = 1, size: tuple[int, int] = (1400, 1000)) -> Path:
    """A scanned page full of printed lines: OCR takes seconds on one (a 2000 × 2200 page about 3.5 s on an idle
    core here), so a scan of many such pages takes minutes."""
    width, height = size
    frames = []
    for i in range(pages):
        im = Image.new("L", size, 255)
        draw = ImageDraw.Draw(im)
        for y in range(20, height - 20, 30 if width <= 1400 else 24):
            line = f"Line {y} 12345 67890 page {i} table cell value {y * 7} "
            draw.text((20, y), line * max(1, width // 700), fill=0)
        frames.append(im)
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    path.write_bytes(buf.getvalue())
    return path


def longest_scan(path: Path) -> Path:
    """The longest scan a reader accepts: ``MAX_OCR_PAGES`` dense pages, minutes of OCR on any machine (≈ 3.5 min on
    an idle core here), many times any time budget the tests set, however loaded the machine is."""
    return slow_scan(path, pages=MAX_OCR_PAGES, size=(2000, 2200))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    root.mkdir()
    shutil.copy(SEED, root / "a_seed.txt")
    slow_scan(root / "b_scan.tif")
    shutil.copy(REAL / "03_hongze_qzf_2023" / "source.txt", root / "c_hongze.txt")
    return root


def test_a_file_over_its_time_budget_is_killed_and_the_others_load(folder: Path, tmp_path: Path) -> None:
    # The budget is set from this machine's own pace (it is shared and often loaded): fifty times what a text
    # report takes in a fresh worker, at least 20 s (a warm worker parses a text in milliseconds; the floor is what a
    # loaded machine needs). The longest scan takes minutes of OCR, and a loaded machine slows it as much as the texts.
    (baseline,) = parse_stream([ParseJob(str(folder / "c_hongze.txt"))])
    seconds = round(max(20.0, 50 * baseline.seconds))
    longest_scan(folder / "b_scan.tif")
    db = tmp_path / "x.duckdb"
    started = time.monotonic()
    summary = ingest([folder], db=db, budget=Budget(seconds=seconds, ocr_page_seconds=0.0))
    elapsed = time.monotonic() - started
    by_name = {Path(p.source_path).name: p for p in summary.problems}
    assert by_name["b_scan.tif"].status == UNREADABLE
    assert "超时" in by_name["b_scan.tif"].message and f"{seconds} 秒" in by_name["b_scan.tif"].message
    assert (summary.counts[LOADED], summary.counts[LOADED_WITH_ERRORS]) == (1, 1), summary.problems  # the others too
    log = dict(Database(db).execute("SELECT source_path, status FROM ingest_log"))
    assert log[str(folder / "b_scan.tif")] == UNREADABLE
    assert elapsed < 30 * seconds  # the scan is stopped, not waited for


def test_a_worker_over_its_memory_cap_is_killed(folder: Path) -> None:
    jobs = [ParseJob(str(folder / "b_scan.tif")), ParseJob(str(folder / "a_seed.txt"))]
    scan, seed = parse_stream(jobs, budget=Budget(seconds=120.0, memory_mib=40.0))
    assert scan.result is None and "内存超过上限（40 MiB）" in (scan.error or "")
    assert scan.sha256 is not None  # the log row still names the file's content
    assert seed.job.path.endswith("a_seed.txt")  # answered in input order, after a fresh worker started


def test_outcomes_come_in_input_order_from_several_workers(tmp_path: Path) -> None:
    files = []
    for i in range(40):
        p = tmp_path / f"{i:02d}.txt"
        p.write_text(SEED.read_text(encoding="utf-8").replace("阜新市司法局", f"阜新市第{i}局"), encoding="utf-8")
        files.append(p)
    files.insert(7, tmp_path / "missing.txt")
    outcomes = list(parse_stream((ParseJob(str(f)) for f in files), workers=2, chunk_size=3))
    assert [o.job.path for o in outcomes] == [str(f) for f in files]
    assert outcomes[7].result is None and "不存在" in (outcomes[7].error or "")
    assert {o.result.meta.agency for o in outcomes if o.result} == {f"阜新市第{i}局" for i in range(40)}


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_ingest_leaves_no_workers_and_its_copy_goes_at_the_next_start(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    ingest([folder / "a_seed.txt"], db=db)  # the database exists; the next ingest works on a copy of it
    slow_scan(folder / "d_scan.tif")
    script = (
        "import sys; from pipeline.ingest import ingest; ingest([sys.argv[1]], db=sys.argv[2], workers=2, chunk_size=1)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(folder), str(db)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [w for server in _children(proc.pid) for w in _children(server)]
            time.sleep(0.1)
        assert len(workers) == 2, "the ingest started two parse workers under its forkserver"
        servers = _children(proc.pid)
        copies = [p for p in tmp_path.iterdir() if ".ingest-" in p.name]
        assert copies, "the ingest is writing its copy"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in workers + servers):
            time.sleep(0.1)
        assert not [p for p in workers + servers if _alive(p)], "no worker outlives the ingest"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [p for p in tmp_path.iterdir() if ".ingest-" in p.name]  # left behind by the kill …
    out = subprocess.run([sys.executable, "-m", "pipeline", "findings", "--db", str(db)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert not [p for p in tmp_path.iterdir() if ".ingest-" in p.name]  # … and gone once xxgk opened the database
    assert Database(db).execute("SELECT count(*) FROM reports") == [(1,)]  # the live data as it was


def test_workers_do_not_rerun_the_script_that_started_the_ingest(tmp_path: Path, monkeypatch) -> None:
    """Streamlit runs each page script as ``__main__`` (so does AppTest); multiprocessing re-runs the parent's main
    script in every child it starts.  An upload from a page must not run that page again in each parse worker."""
    import types

    marker = tmp_path / "page_ran_in_a_worker"
    page = tmp_path / "page.py"
    page.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).touch()\nraise SystemExit('not a worker script')\n"
    )
    main = types.ModuleType("__main__")
    main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", main)
    outcomes = list(parse_stream([ParseJob(str(SEED))], workers=1))
    assert outcomes[0].result is not None and outcomes[0].result.meta.agency == "阜新市司法局"
    assert not marker.exists()
    assert sys.modules["__main__"] is main  # the page's module is back in place
