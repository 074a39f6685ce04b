"""``python -m pipeline …`` = the ``xxgk`` command."""

from pipeline.cli import app

if __name__ == "__main__":
    app(prog_name="xxgk")
