"""Passages of a report as comparable sets: normalised text → character 3-gram shingles → MinHash → LSH band keys.

Normalisation makes a copy that only changed what copies change look identical: width and case are folded (NFKC),
every run of digits becomes one "0" (years, counts), the report's own agency name becomes "〇" (a copier replaces
the source's name with its own), and spaces and punctuation are dropped.

MinHash signatures come from ``datasketch`` (64 permutations); the 64 values are cut into :data:`BANDS` = 16 bands
of :data:`ROWS` = 4 rows and each band is hashed to one signed 64-bit key (the band number is mixed in, so equal
values in different bands never collide).  Two passages are candidates when they share at least
:data:`MIN_SHARED_BANDS` = 2 band keys, which for Jaccard similarity J happens with probability 0.999 at J = 0.8,
0.93 at 0.7, 0.64 at 0.6, 0.26 at 0.5, 0.06 at 0.4 and < 0.01 at 0.3 — a sharper cut than one shared band, so
passages that merely share a stock clause are rarely fetched.  Candidates are confirmed with the exact Jaccard of
their shingle sets (:data:`SIMILAR`).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from pipeline import narrative

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
MIN_SHARED_BANDS = 2
SHINGLE = 3
SIMILAR = 0.6  # exact Jaccard of two passages' shingle sets from which one counts as a copy of the other
SEED = 7

_DIGITS = re.compile(r"\d+")
_DROP = re.compile(r"[\W_]+", re.UNICODE)
_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64
)


@dataclass(slots=True)
class Shingled:
    """One eligible passage of a report: its place, size and (computed when first needed) shingle set."""

    pno: int  # number among the report's eligible passages (sections in order 一 … 六)
    section: str
    number: int  # narrative.Passage.number within the section
    chars: int  # significant characters (the weight in shares)
    text: str
    agency: str | None
    _shingles: frozenset[str] | None = None

    @property
    def shingles(self) -> frozenset[str]:
        if self._shingles is None:
            self._shingles = shingles(normalise(self.text, self.agency))
        return self._shingles


def _nfkc(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def normalise(text: str, agency: str | None = None) -> str:
    text = _nfkc(text).lower()
    if agency:
        text = text.replace(_nfkc(agency).lower(), "〇")
    return _DROP.sub("", _DIGITS.sub("0", text))


def shingles(text: str) -> frozenset[str]:
    if len(text) <= SHINGLE:
        return frozenset([text]) if text else frozenset()
    return frozenset(text[i : i + SHINGLE] for i in range(len(text) - SHINGLE + 1))


def report_passages(sections: Mapping[str, str | None], agency: str | None) -> list[Shingled]:
    """The report's passages long enough to compare, in reading order."""
    out: list[Shingled] = []
    for section in narrative.SECTIONS:
        for p in narrative.passages(section, sections.get(section)):
            if p.significant >= narrative.MIN_PASSAGE_CHARS:
                out.append(Shingled(len(out), section, p.number, p.significant, p.text, agency))
    return out


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _hash(shingle: str) -> int:
    return zlib.crc32(shingle.encode("utf-8"))


def band_keys(passages: Iterable[Shingled]) -> np.ndarray:
    """An (n, BANDS) int64 array of LSH band keys, one row per passage."""
    sigs = [m.hashvalues for m in MinHash.generator((p.shingles for p in passages), num_perm=NUM_PERM,
                                                    seed=SEED, hashfunc=_hash)]  # fmt: skip
    if not sigs:
        return np.zeros((0, BANDS), dtype=np.int64)
    values = np.asarray(sigs, dtype=np.uint64).reshape(len(sigs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        mixed = (values * _MIX[:ROWS]).sum(axis=2, dtype=np.uint64)  # wraps mod 2^64
        mixed ^= np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        mixed ^= mixed >> np.uint64(31)
        mixed *= np.uint64(0x94D049BB133111EB)
        mixed ^= mixed >> np.uint64(29)
    return mixed.view(np.int64)
