"""``python -m pipeline …`` = the ``xxgk`` command (also its installed entry point, :func:`main`)."""

import sys


def main() -> None:
    """Run the command line.  For ``ingest`` the parse workers' forkserver is started before the command line's
    own imports (DuckDB, polars, typer: ≈ 0.5 s), so the parser warms up in its own process meanwhile."""
    if len(sys.argv) > 1 and sys.argv[1] == "ingest":
        from pipeline.ingest.workers import start_forkserver

        start_forkserver()
    from pipeline.cli import app

    app(prog_name="xxgk")


if __name__ == "__main__":
    main()
