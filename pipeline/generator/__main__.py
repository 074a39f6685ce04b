"""``python -m pipeline.generator --size tiny --out DIR --seed N``."""

import typer

from pipeline.generator.cli import generate

if __name__ == "__main__":
    typer.run(generate)
