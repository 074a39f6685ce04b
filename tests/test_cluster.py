"""``xxgk ingest --engine dask``: the same store as the embedded path, built on a real local Dask cluster.

Every table is compared row for row with an embedded ingest of the same files (only load times and parse seconds
may differ); a driver that dies part-way leaves the store untouched and a re-run finishes from the shards already
written; a shard written twice is loaded once; the per-file budget holds on a worker; OCR batches go to the workers
that offer the ``ocr`` resource (started with ``dask worker --resources ocr=1``, as on a GPU machine).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import REAL, SEED

pytest.importorskip("distributed", reason="the dask extra is not installed (uv sync --extra dask)")

from pipeline.generator.corpus import CorpusConfig, write_corpus  # noqa: E402
from pipeline.ingest import Budget, ParseJob, ingest, parse_stream  # noqa: E402
from pipeline.ingest.cluster import BatchTask, Planner, cluster_ingest, likely_ocr, run_batch  # noqa: E402
from pipeline.ingest.engines import ClusterError, DaskEngine, Engine  # noqa: E402
from pipeline.ingest.run import plan_jobs  # noqa: E402
from pipeline.store import UNCHANGED, UNREADABLE, Database  # noqa: E402
from pipeline.store.segments import open_reader  # noqa: E402
from pipeline.store.shards import read_marker  # noqa: E402
from tests.test_workers import longest_scan  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_cached_readers")
ROOT = Path(__file__).resolve().parents[1]
DASK = ROOT / ".venv" / "bin" / "dask"

# What may differ between two ingests of the same files: when rows were written and how long a parse took.
VOLATILE = {"loaded_at", "at", "seconds", "applied_at"}


def stored(db: Path) -> dict[str, list[tuple]]:
    """Every table of the store (whatever tables the schema has), rows sorted, volatile columns left out."""
    con = open_reader(db)
    try:
        out = {}
        # the store's tables are the reader's views (over every segment and the catalog)
        for (table,) in con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = 'memory'"
                                    " AND schema_name = 'main' AND NOT internal ORDER BY 1").fetchall():  # fmt: skip
            columns = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'memory'"
                " AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            keep = ", ".join(f'"{c}"' for (c,) in columns if c not in VOLATILE)
            out[table] = con.execute(f'SELECT {keep} FROM "{table}" ORDER BY ALL').fetchall()
        assert {"reports", "facts", "findings", "sections", "ingest_log"} <= set(out)
        return out
    finally:
        con.close()


def assert_same_store(got: Path, expected: Path) -> None:
    a, b = stored(got), stored(expected)
    assert sorted(a) == sorted(b)
    for table in b:
        assert a[table] == b[table], table


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Generated reports in four formats (half with an agency's error) and the awkward cases of a real ingest:
    an identical copy, a corrected second version, an empty file and an empty image, a real report."""
    root = tmp_path_factory.mktemp("cluster") / "reports"
    config = CorpusConfig(
        size="tiny", seed=11, layouts=("pdftext-tabs", "pdftext-layout", "html", "docx", "pdf-text"), error_share=0.5
    )
    manifest = root / "manifest.csv"
    write_corpus(root, config, truth_files=False, manifest=manifest)
    with manifest.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    text = next(r for r in rows if r["path"].endswith(".txt") and r["agency"])
    (root / "zz_copies").mkdir()
    shutil.copy(root / text["path"], root / "zz_copies" / "same.txt")
    (root / "zz_copies" / "v2.txt").write_bytes((root / text["path"]).read_bytes() + "\n（更正版）\n".encode())
    (root / "zz_copies" / "empty.txt").write_bytes(b"")
    (root / "zz_copies" / "empty_scan.png").write_bytes(b"")  # an image by name: the OCR lane
    shutil.copy(SEED, root / "zz_copies" / "seed.txt")
    with manifest.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow(
            ["zz_copies/v2.txt", text["agency"], text["year"], text["region"], text["url"], "true"]
        )
    return root, manifest


@pytest.fixture(scope="module")
def dask_engine():
    engine = DaskEngine(workers=2)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def embedded(corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, manifest = corpus
    db = tmp_path_factory.mktemp("embedded") / "embedded.duckdb"
    ingest([root], db=db, manifest=manifest, workers=2)
    return db


class Counting(Engine):
    """A real engine, counting the batches it is given."""

    name = "counting"

    def __init__(self, engine: Engine) -> None:
        self.engine, self.submitted = engine, 0

    def submit(self, fn, arg, *, ocr=False):
        self.submitted += 1
        return self.engine.submit(fn, arg, ocr=ocr)

    def wait(self, handles, timeout):
        return self.engine.wait(handles, timeout)

    def result(self, handle):
        return self.engine.result(handle)

    def has_ocr_workers(self):
        return self.engine.has_ocr_workers()

    def close(self):
        pass


def test_the_cluster_store_equals_the_embedded_store(corpus, embedded, dask_engine, tmp_path: Path) -> None:
    root, manifest = corpus
    db = tmp_path / "cluster.duckdb"
    summary = cluster_ingest([root], db=db, manifest=manifest, engine=dask_engine, batch_files=4)
    assert_same_store(db, embedded)
    expected = stored(embedded)
    assert len(expected["reports"]) > 20 and len(expected["findings"]) > 0 and len(expected["derived"]) > 0
    statuses = {row[2] for row in expected["ingest_log"]}
    assert {"loaded", "loaded_with_errors", "unchanged", "unreadable"} <= statuses
    assert Database(db).execute("SELECT count(*) FROM reports WHERE NOT is_current AND replaced_by IS NOT NULL") == [
        (1,)
    ]
    assert summary.n_files == len(expected["ingest_log"])
    assert not (tmp_path / "cluster.duckdb.shards").exists()  # shards go once the store is published

    # the same files again: every one is unchanged, on both paths alike
    again = cluster_ingest([root], db=db, manifest=manifest, engine=dask_engine, batch_files=4)
    assert again.counts[UNCHANGED] + again.counts[UNREADABLE] + again.counts["not_report"] == again.n_files
    second = tmp_path / "embedded_twice.duckdb"
    Database(embedded).copy_to(second)
    ingest([root], db=second, manifest=manifest, workers=1)
    assert_same_store(db, second)


def test_a_second_cluster_run_sends_only_the_files_not_stored(corpus, dask_engine, tmp_path: Path) -> None:
    """Files already stored are recognised by their hash in the driver and logged as unchanged in their place; only
    the others (here the unreadable files and the non-reports, which the store does not hold) go to the cluster."""
    root, manifest = corpus
    db = tmp_path / "x.duckdb"
    first = Counting(dask_engine)
    cluster_ingest([root], db=db, manifest=manifest, engine=first, batch_files=4)
    log_before = Database(db).execute("SELECT source_path, status, report_id FROM ingest_log ORDER BY ALL")
    again = Counting(dask_engine)
    summary = cluster_ingest([root], db=db, manifest=manifest, engine=again, batch_files=4)
    assert summary.skipped_unparsed == summary.counts[UNCHANGED] > 20
    sent = summary.n_files - summary.skipped_unparsed
    assert sent == summary.counts[UNREADABLE] + summary.counts["not_report"] > 0
    assert 0 < again.submitted <= sent < first.submitted
    log = Database(db).execute(
        "SELECT source_path, report_id FROM ingest_log WHERE status = 'unchanged' ORDER BY ALL"
    )  # each stored file logged as the report it is
    stored_ids = {path: rid for path, status, rid in log_before if status in ("loaded", "loaded_with_errors")}
    assert {path: rid for path, rid in log if path in stored_ids} == stored_ids


class DriverDied(Exception):
    pass


def test_a_driver_that_dies_leaves_the_store_as_it_was_and_a_rerun_resumes(corpus, embedded, dask_engine, tmp_path):
    root, manifest = corpus
    db = tmp_path / "x.duckdb"
    shards = tmp_path / "shards"

    def die_after(n: int):
        seen = []

        def on_loaded(path: str) -> None:
            seen.append(path)
            if len(seen) == n:
                raise DriverDied

        return on_loaded

    with pytest.raises(DriverDied):
        cluster_ingest(
            [root],
            db=db,
            manifest=manifest,
            engine=dask_engine,
            shard_dir=shards,
            batch_files=4,
            on_loaded=die_after(10),
        )
    assert not Database(db).exists()  # nothing was published
    deadline = time.monotonic() + 30
    while len(list(shards.glob("*/shard.json"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)  # tasks already sent may go on and finish their shards
    written = len(list(shards.glob("*/shard.json")))
    assert written >= 3  # at least the three batches whose ten files were loaded before the driver died

    counting = Counting(dask_engine)
    cluster_ingest([root], db=db, manifest=manifest, engine=counting, shard_dir=shards, batch_files=4)
    n_batches = sum(1 for _ in _batches(root, manifest, 4))
    assert counting.submitted <= n_batches - written  # finished shards were not parsed again
    assert_same_store(db, embedded)


def _batches(root: Path, manifest: Path, batch_files: int):
    planner = Planner(
        plan_jobs([root], manifest), batch_files, 2, probe_pdfs=False
    )  # as on a cluster without OCR workers
    while not planner.exhausted:
        yield from planner.next_batches()


def test_a_shard_written_twice_is_kept_once(corpus, tmp_path: Path) -> None:
    root, manifest = corpus
    batch = next(_batches(root, manifest, 3))
    task = BatchTask(batch.key, batch.jobs, str(tmp_path), Budget(seconds=60))
    first = run_batch(task)  # here, in this process: the same function a worker runs
    folder = tmp_path / batch.key
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert run_batch(task) == first  # the retry finds the shard and leaves it
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert first["n_files"] == 3 and sorted(before) == sorted(
        [
            "files.parquet",
            "reports.parquet",
            "facts.parquet",
            "findings.parquet",
            "sections.parquet",
            "derived.parquet",
            "shard.json",
        ]
    )
    assert not list(tmp_path.glob(".*.tmp"))


def test_shards_from_other_code_are_refused(corpus, dask_engine, tmp_path: Path) -> None:
    root, manifest = corpus
    batch = next(_batches(root, manifest, 4))
    (tmp_path / "shards" / batch.key).mkdir(parents=True)
    marker = {"version": 1, "key": batch.key, "n_files": 4, "fingerprint": "0" * 20, "host": "elsewhere"}
    (tmp_path / "shards" / batch.key / "shard.json").write_text(json.dumps(marker), encoding="utf-8")
    db = tmp_path / "x.duckdb"
    with pytest.raises(ClusterError, match="elsewhere"):
        cluster_ingest(
            [root], db=db, manifest=manifest, engine=dask_engine, shard_dir=tmp_path / "shards", batch_files=4
        )
    assert not Database(db).exists()


def test_the_time_budget_holds_on_a_worker(dask_engine, tmp_path: Path) -> None:
    root = tmp_path / "reports"
    root.mkdir()
    shutil.copy(SEED, root / "a_seed.txt")
    longest_scan(root / "b_scan.tif")
    shutil.copy(REAL / "03_hongze_qzf_2023" / "source.txt", root / "c_hongze.txt")
    assert likely_ocr(str(root / "b_scan.tif")) and not likely_ocr(str(root / "a_seed.txt"))
    # a budget from this machine's own pace, far below the minutes the longest scan's OCR takes; wider than test_workers'
    # because here the scan's OCR (multi-threaded) runs beside the text files' batch on the same two cores
    (baseline,) = parse_stream([ParseJob(str(root / "c_hongze.txt"))])
    seconds = round(max(25.0, 40 * baseline.seconds))
    started = time.monotonic()
    budget = Budget(seconds=seconds, ocr_page_seconds=0)
    summary = cluster_ingest([root], db=tmp_path / "x.duckdb", engine=dask_engine, budget=budget)
    by_name = {Path(p.source_path).name: p for p in summary.problems}
    assert by_name["b_scan.tif"].status == UNREADABLE and f"{seconds} 秒" in by_name["b_scan.tif"].message
    assert summary.n_files == 3 and summary.unreadable == 1, summary.problems
    assert time.monotonic() - started < 30 * seconds  # the scan is stopped, not waited for


def test_likely_ocr_tells_scanned_pdfs_from_text_pdfs(tmp_path: Path) -> None:
    text_pdf = next(REAL.glob("*/source.pdf"))
    assert not likely_ocr(str(text_pdf))
    scanned = tmp_path / "scan.pdf"
    from PIL import Image

    Image.new("L", (800, 1100), 255).save(scanned, format="PDF")
    assert likely_ocr(str(scanned))


# ---------------------------------------------------------------------------------------------------------------
# A cluster started the way docs/cluster.md starts one on several machines: a scheduler, a CPU worker and an OCR
# worker (the GPU machine's role), all on localhost, reached through the command line.


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory: pytest.TempPathFactory):
    if not DASK.exists():
        pytest.skip("dask command not installed")
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    common = ["--scheduler-file", str(scheduler_file)]
    procs = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", *common],
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = [str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]
        procs.append(subprocess.Popen([*worker, "--name", "cpu"], stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([*worker, "--name", "ocr", "--resources", "ocr=1"], stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_the_command_line_ingests_on_a_running_cluster(corpus, embedded, external_cluster, tmp_path: Path) -> None:
    root, manifest = corpus
    db = tmp_path / "cli.duckdb"
    cmd = [sys.executable, "-m", "pipeline", "ingest", str(root), "--manifest", str(manifest), "--db", str(db),
           "--engine", "dask", "--cluster", external_cluster, "--shard-dir", str(tmp_path / "shards")]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "COLUMNS": "200"}
    )
    assert done.returncode == 1, done.stderr  # 1: the corpus holds unreadable files on purpose
    assert "无法读取" in done.stdout and "empty.txt" in done.stdout
    assert_same_store(db, embedded)


def test_ocr_batches_go_to_the_ocr_workers(corpus, external_cluster, tmp_path: Path) -> None:
    from distributed import Client

    root, manifest = corpus
    with Client(external_cluster) as client:
        info = client.scheduler_info(n_workers=-1)["workers"]
        pids = client.run(os.getpid)
    ocr_pids = {pids[addr] for addr, w in info.items() if w.get("resources", {}).get("ocr")}
    assert len(ocr_pids) == 1
    shards = tmp_path / "shards"
    cluster_ingest([root], db=tmp_path / "x.duckdb", manifest=manifest, engine="dask", address=external_cluster,
                   shard_dir=shards, keep_shards=True, batch_files=4)  # fmt: skip
    by_lane: dict[bool, list[dict]] = {True: [], False: []}
    for folder in shards.iterdir():
        paths = pl.read_parquet(folder / "files.parquet")["source_path"].to_list()
        by_lane[any(likely_ocr(p) for p in paths)].append(read_marker(folder))
    assert len(by_lane[True]) == 1  # the one image
    assert all(m["pid"] in ocr_pids for m in by_lane[True])
    assert by_lane[False]


def test_ray_builds_the_same_store(corpus, embedded, tmp_path: Path) -> None:
    """The second engine, when installed (uv sync --extra dask --extra ray): same store as the embedded path."""
    pytest.importorskip("ray", reason="the ray extra is not installed (uv sync --extra ray)")
    root, manifest = corpus
    db = tmp_path / "ray.duckdb"
    cluster_ingest([root], db=db, manifest=manifest, engine="ray", workers=2, batch_files=4)
    assert_same_store(db, embedded)
