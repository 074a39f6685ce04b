"""The xxgk command line: parse (JSON contract and summary), ingest exit codes, findings, history, plugins."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import typer
from conftest import REAL as REAL_DIR
from conftest import SEED, SEED_TRUTH
from typer.testing import CliRunner

from pipeline import cli
from pipeline.registry import registry

pytestmark = pytest.mark.usefixtures("close_cached_readers")

REAL = sorted(REAL_DIR.glob("*/source.txt"))
ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_parse_json_is_the_documented_contract(tmp_path: Path) -> None:
    seed = tmp_path / "seed.txt"
    shutil.copy(SEED, seed)
    res = runner.invoke(cli.app, ["parse", str(seed), "--json"])
    assert res.exit_code == 0, res.output
    assert "阜新市司法局" in res.stdout  # ensure_ascii=False
    assert res.stdout.startswith('{\n "source": {\n  "path"')  # indent=1
    data = json.loads(res.stdout)
    assert list(data) == ["source", "meta", "facts", "findings", "derived"]
    assert set(data["source"]) == {"path", "sha256", "format"}
    assert {"agency", "year", "edition", "province", "city", "county", "level", "agency_type"} <= set(data["meta"])
    assert list(data["facts"]) == registry().layout_keys("2021")  # every key of the edition, registry order
    truth = json.loads(SEED_TRUTH.read_text(encoding="utf-8"))["facts"]
    assert data["facts"] == truth
    assert all(set(f) == {"rule", "severity", "message", "keys"} for f in data["findings"])


def _documented_fields() -> tuple[set[str], str]:
    """The field names of docs/parse-json.md's table (first column, in backticks) and the ``source.format`` row."""
    doc = (ROOT / "docs" / "parse-json.md").read_text(encoding="utf-8")
    names: set[str] = set()
    format_row = ""
    for line in doc.splitlines():
        cells = line.split("|")
        if not line.startswith("| `") or len(cells) < 3:
            continue
        names |= set(re.findall(r"`([a-z_.0-9]+)`", cells[1]))
        if "`source.format`" in cells[1]:
            format_row = cells[2]
    return names, format_row


def _docx_of(text: str, path: Path) -> Path:
    from docx import Document

    document = Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(str(path))
    return path


def test_parse_json_fields_and_formats_are_the_documented_ones(tmp_path: Path) -> None:
    """Every field ``xxgk parse --json`` emits is documented in docs/parse-json.md and every documented field is
    emitted; ``source.format`` is one of the documented values for each kind of file (converter markdown: ``txt``)."""
    documented, format_row = _documented_fields()
    formats = set(re.findall(r"`([a-z]+)`", format_row.split("（")[0]))
    assert formats == {"txt", "html", "pdf", "docx", "image"}
    seed_text = SEED.read_text(encoding="utf-8")
    converter_md = ROOT / "tests" / "fixtures" / "real" / "48_shanghai_kw_2024" / "source.md"
    cases = {
        "txt": shutil.copy(SEED, tmp_path / "seed.txt"),
        "md": shutil.copy(converter_md, tmp_path / "converter.md"),
        "html": ROOT / "tests" / "fixtures" / "html" / "a_2021_xihu_scjg.html",
        "pdf": REAL_DIR / "02_huaian_szf_2024" / "source.pdf",
        "docx": _docx_of(seed_text, tmp_path / "seed.docx"),
    }
    expected_format = {"txt": "txt", "md": "txt", "html": "html", "pdf": "pdf", "docx": "docx"}
    for kind, path in cases.items():
        res = runner.invoke(cli.app, ["parse", str(path), "--json"])
        data = json.loads(res.stdout)
        assert data["source"]["format"] == expected_format[kind], kind
        emitted = {f"source.{k}" for k in data["source"]} | {f"meta.{k}" for k in data["meta"]}
        emitted |= {k for k in data if k not in ("source", "meta")}
        assert emitted <= documented, f"{kind}: emitted but not documented: {sorted(emitted - documented)}"
        missing = {n for n in documented if n.startswith(("source.", "meta."))} - emitted
        assert not missing, f"{kind}: documented but not emitted: {sorted(missing)}"
        assert list(data) == ["source", "meta", "facts", "findings", "derived"]
        for finding in data["findings"]:
            assert set(finding) == {"rule", "severity", "message", "keys"}
        for derived in data["derived"].values():
            assert set(derived) == {"value", "from", "method"}
        if data["meta"]["published"] is None:
            assert data["meta"]["published_source"] is None
        else:
            assert data["meta"]["published_source"] in ("page", "document")
        assert isinstance(data["meta"]["summary"], bool)


def test_parse_summary_in_chinese(tmp_path: Path) -> None:
    res = runner.invoke(cli.app, ["parse", str(SEED)])
    assert res.exit_code == 0, res.output
    assert "阜新市司法局" in res.stdout and "2023" in res.stdout and "单元格" in res.stdout


def test_parse_unreadable_file_names_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    res = runner.invoke(cli.app, ["parse", str(empty)])
    assert res.exit_code == 1
    assert "empty.txt" in res.output and "为空" in res.output


def test_ingest_findings_history_and_exit_codes(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(SEED, reports / "seed.txt")
    res = runner.invoke(cli.app, ["ingest", str(reports), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "已入库 loaded" in res.stdout and "1" in res.stdout

    # a report with a hard error: exit 0, but 1 under --strict; the problem file gets its own line
    wrong = reports / "wrong_t4.txt"
    shutil.copy(next(p for p in REAL if "03_" in str(p)), wrong)
    res = runner.invoke(cli.app, ["ingest", str(wrong), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "wrong_t4.txt" in res.stdout and "T4-1" in res.stdout
    wrong.write_text(wrong.read_text(encoding="utf-8") + "\n附: 修订版\n", encoding="utf-8")
    res = runner.invoke(cli.app, ["ingest", str(wrong), "--db", str(db), "--strict"])
    assert res.exit_code == 1, res.output

    # an unreadable file: exit 1 and one line naming it
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 8)
    res = runner.invoke(cli.app, ["ingest", str(junk), "--db", str(db)])
    assert res.exit_code == 1
    assert [line for line in res.stdout.splitlines() if "junk.txt" in line]

    res = runner.invoke(cli.app, ["findings", "--db", str(db)])
    assert res.exit_code == 0 and "T4-1" in res.stdout
    res = runner.invoke(cli.app, ["history", "淮安市洪泽区人民政府", "2023", "--db", str(db)])
    assert res.exit_code == 0 and res.stdout.count("sha256") == 2 and "当前版本" in res.stdout
    res = runner.invoke(cli.app, ["history", "不存在的机关", "2023", "--db", str(db)])
    assert res.exit_code == 1


def test_db_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("XXGK_DB", str(db))
    res = runner.invoke(cli.app, ["ingest", str(SEED)])
    assert res.exit_code == 0, res.output
    assert db.exists()


def test_python_dash_m_pipeline(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pipeline", "parse", str(SEED), "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["meta"]["agency"] == "阜新市司法局"


def test_plugin_modules_add_subcommands(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = types.ModuleType("xxgk_test_plugin")

    def register(app: typer.Typer) -> None:
        @app.command("hello-plugin")
        def hello() -> None:
            print("插件已注册")

    plugin.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xxgk_test_plugin", plugin)
    monkeypatch.setattr(cli, "PLUGIN_MODULES", ("xxgk_test_plugin", "pipeline.does_not_exist.cli"))
    app = typer.Typer()
    monkeypatch.setattr(cli, "app", app)

    @app.command()
    def noop() -> None:  # a second command so typer keeps subcommand names
        pass

    cli._register_plugins()
    res = runner.invoke(app, ["hello-plugin"])
    assert res.exit_code == 0 and "插件已注册" in res.stdout


def test_cli_reference_in_docs_is_generated_from_the_code() -> None:
    from pipeline.cli_docs import DOC, END, START, reference

    doc = DOC.read_text(encoding="utf-8")
    assert START in doc and END in doc
    assert doc[doc.index(START) : doc.index(END) + len(END)] == reference(), "docs/cli.md is stale: run make docs"
    for name in ("ingest", "parse", "findings", "history"):
        assert f"### `xxgk {name}" in doc
    assert "`--file-seconds NUMBER`" in doc  # every option, with its help text


def test_findings_without_a_database_exits_2_with_a_message(tmp_path: Path) -> None:
    res = runner.invoke(cli.app, ["findings", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2
    assert "不存在" in res.output


def test_compact_merges_the_segments_of_several_ingests(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    for i, src in enumerate(REAL[:3]):
        one = tmp_path / f"in{i}"
        one.mkdir()
        shutil.copy(src, one / src.name)
        assert runner.invoke(cli.app, ["ingest", str(one), "--db", str(db)]).exit_code == 0
    folder = db.parent / f"{db.name}.segments"
    before = sorted(p.name for p in folder.glob("*.duckdb"))
    assert len(before) >= 2  # each ingest published its own segment
    reports = runner.invoke(cli.app, ["findings", "--db", str(db), "-n", "1000"]).stdout
    res = runner.invoke(cli.app, ["compact", "--full", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "现有 1 个段" in res.stdout
    assert len(list(folder.glob("*.duckdb"))) == 1
    assert runner.invoke(cli.app, ["findings", "--db", str(db), "-n", "1000"]).stdout == reports
    missing = runner.invoke(cli.app, ["compact", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2 and "不存在" in missing.output
