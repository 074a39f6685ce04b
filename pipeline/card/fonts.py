"""The Chinese font of printed report cards: WenQuanYi Micro Hei (文泉驿微米黑), embedded in every PDF.

It ships in the PyPI package ``paperang-p2-fonts-cjk`` (a dependency; the wheel is 2.3 MB, the font 5.2 MB): the
font file is byte-identical to Debian's ``fonts-wqy-microhei`` 0.2.0-beta.  Licence of the font: Apache-2.0 or
GPL-3+ with the font-embedding exception (Debian's copyright file; the package's README calls it OFL, which is not
the font's licence) — both allow redistributing the font and embedding it in documents.  reportlab embeds a subset
of the TrueType glyphs a PDF uses (its CID fonts such as STSong-Light are *not* embedded and are not used here).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

FONT_NAME = "WenQuanYi Micro Hei"  # the family name matplotlib and Word see
PDF_FONT = "WQYMicroHei"  # the name registered with reportlab


class FontMissing(RuntimeError):
    """The font package is not installed (``make install`` installs it)."""


@cache
def font_path() -> Path:
    try:
        path = Path(str(resources.files("paperang_p2_fonts_cjk").joinpath("fonts/wqy-microhei.ttc")))
    except ModuleNotFoundError as exc:
        raise FontMissing("缺少中文字体包 paperang-p2-fonts-cjk（运行 make install）") from exc
    if not path.is_file():
        raise FontMissing(f"中文字体文件不存在：{path}")
    return path


@cache
def register_pdf_font() -> str:
    """Register the font with reportlab (face 0 of the collection: Micro Hei); returns its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(PDF_FONT, str(font_path()), subfontIndex=0))
    return PDF_FONT


@cache
def matplotlib_font() -> str:
    """Register the font with matplotlib; returns the family name to use."""
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font_path()))
    return FONT_NAME
