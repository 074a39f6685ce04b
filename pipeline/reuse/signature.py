"""Passages of reports as comparable sets, computed for a whole batch at once in numpy.

Normalisation makes a copy that only changed what copies change look identical: width and case are folded (NFKC),
every run of digits becomes one "0" (years, counts), the report's own agency name becomes "〇" (a copier replaces
the source's name with its own), and spaces and punctuation are dropped.

A passage's *shingles* are its character 3-grams, each as one exact 63-bit number (three 21-bit code points), so
set operations on numbers give exactly the Jaccard similarity of the 3-gram sets.  MinHash signatures use
``datasketch``'s permutations (64 of them, seed :data:`SEED`: ``MinHash(num_perm=64, seed=7).permutations``) and its
(default, ``affine32``) scheme over a 32-bit hash of each shingle, applied to every passage of a
batch in one vectorised pass (the per-passage ``MinHash`` objects cost more than the rest of the engine); a test
checks the values against ``datasketch.MinHash`` itself.  The 64 values are cut into :data:`BANDS` = 16 bands of
:data:`ROWS` = 4 rows and each band is hashed to one signed 64-bit key (band number and year mixed in: keys of
different bands or years never meet).  Two passages are candidates when they share at least
:data:`MIN_SHARED_BANDS` = 2 band keys — probability 0.999 at J = 0.8, 0.93 at 0.7, 0.64 at 0.6, 0.26 at 0.5,
0.06 at 0.4 and < 0.01 at 0.3 — and are confirmed with the exact Jaccard of their shingle sets (:data:`SIMILAR`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

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
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64)


@dataclass(slots=True)
class Passage:
    """One eligible passage of a report: its place, size and normalised text."""

    pno: int  # number among the report's eligible passages (sections in order 一 … 六)
    section: str
    number: int  # narrative.Passage.number within the section
    chars: int  # significant characters (the weight in shares)
    text: str  # normalised (see normalise)


def _nfkc(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def normalise(text: str, agency: str | None = None) -> str:
    text = _nfkc(text).lower()
    if agency:
        text = text.replace(_agency_form(agency), "〇")
    return _DROP.sub("", _DIGITS.sub("0", text))


def report_passages(sections: Mapping[str, str | None], agency: str | None) -> list[Passage]:
    """The report's passages long enough to compare, in reading order."""
    found = [(section, p) for section in narrative.SECTIONS for p in narrative.passages(section, sections.get(section))
             if p.significant >= narrative.MIN_PASSAGE_CHARS]  # fmt: skip
    texts = normalise_all([p.text for _, p in found], agency)
    return [
        Passage(i, section, p.number, p.significant, text)
        for i, ((section, p), text) in enumerate(zip(found, texts, strict=True))
    ]


_SEP = "\x00"
_DROP_KEEP_SEP = re.compile(r"[^\w\x00]+|_+", re.UNICODE)


def normalise_all(texts: list[str], agency: str | None = None) -> list[str]:
    """:func:`normalise` of each text, in one pass over their concatenation (the per-call cost of NFKC and the
    regular expressions dominates for sentences).  Equal to normalising one by one: no step crosses the NUL
    separator (NFKC does not compose across it, and the agency name, digits and dropped characters never
    contain it)."""
    if not texts:
        return []
    if any(_SEP in t for t in texts):
        return [normalise(t, agency) for t in texts]
    joined = _nfkc(_SEP.join(texts)).lower()
    if agency:
        joined = joined.replace(_agency_form(agency), "〇")
    return _DROP_KEEP_SEP.sub("", _DIGITS.sub("0", joined)).split(_SEP)


# Agency names normalised and kept, at most: a name repeats only within a batch of copied text, while a long ingest
# meets of the order of a million names (one per new agency), which an unbounded cache would keep for the whole run.
AGENCY_FORMS_CACHED = 4096


@lru_cache(maxsize=AGENCY_FORMS_CACHED)
def _agency_form(agency: str) -> str:
    return _nfkc(agency).lower()


@dataclass
class Shingles:
    """The shingle sets of n passages: ``ids[offsets[i]:offsets[i + 1]]`` is passage i's set, sorted, unique."""

    ids: np.ndarray  # uint64
    offsets: np.ndarray  # int64, n + 1

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def owner(self) -> np.ndarray:
        """The passage index of every shingle."""
        return np.repeat(np.arange(len(self.offsets) - 1), self.sizes)


def shingle_sets(texts: Sequence[str]) -> Shingles:
    """Every text's set of character 3-grams, as exact numbers (see the module docstring)."""
    n = len(texts)
    if not n:
        return Shingles(np.zeros(0, np.uint64), np.zeros(1, np.int64))
    # a text shorter than a shingle is one shingle of itself (padded with code point 0)
    padded = [t if len(t) >= SHINGLE else t + "\0" * (SHINGLE - len(t)) for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=n)
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    counts = lengths - SHINGLE + 1
    owner = np.repeat(np.arange(n), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
    ids = (codes[pos] << np.uint64(42)) | (codes[pos + 1] << np.uint64(21)) | codes[pos + 2]
    order = np.lexsort((ids, owner))
    ids, owner = ids[order], owner[order]
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = (ids[1:] != ids[:-1]) | (owner[1:] != owner[:-1])
    ids, owner = ids[keep], owner[keep]
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(np.bincount(owner, minlength=n))
    return Shingles(ids, offsets)


def shingle_hash(ids: np.ndarray) -> np.ndarray:
    """A 32-bit hash of each shingle number (splitmix64's finaliser, upper half), as uint64 values < 2^32."""
    with np.errstate(over="ignore"):
        x = ids ^ (ids >> np.uint64(30))
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x >> np.uint64(32)


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """``datasketch.MinHash(num_perm=NUM_PERM, seed=SEED).permutations`` of its default scheme, affine32: odd
    multipliers and offsets drawn from ``RandomState(SEED)`` as datasketch draws them (a test compares the two).
    Drawn here rather than imported: importing datasketch pulls in scipy, ≈ 1.7 s of every ingest's start."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, which datasketch applies to every hash value before its permutations."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def minhashes(sets: Shingles) -> np.ndarray:
    """An (n, NUM_PERM) uint32 array: each passage's MinHash signature — the values ``datasketch.MinHash`` gives
    with ``hashfunc`` = :func:`shingle_hash` (a test checks this)."""
    n = len(sets.offsets) - 1
    out = np.full((NUM_PERM, n), np.iinfo(np.uint32).max, dtype=np.uint32)
    nonempty = np.flatnonzero(sets.sizes > 0)
    if not len(nonempty):
        return out.T
    with np.errstate(over="ignore"):
        hv = _fmix32(shingle_hash(sets.ids).astype(np.uint32))
        starts = sets.offsets[:-1][nonempty]
        a, b = _permutations()
        for k in range(NUM_PERM):
            out[k, nonempty] = np.minimum.reduceat(hv * a[k] + b[k], starts)
    return out.T


def band_keys(signatures: np.ndarray, years: np.ndarray) -> np.ndarray:
    """An (n, BANDS) int64 array of LSH band keys, one row per passage; the year is part of every key."""
    n = len(signatures)
    if not n:
        return np.zeros((0, BANDS), dtype=np.int64)
    values = signatures.astype(np.uint64).reshape(n, BANDS, ROWS)
    with np.errstate(over="ignore"):
        mixed = (values * _MIX[:ROWS]).sum(axis=2, dtype=np.uint64)  # wraps mod 2^64
        mixed ^= np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        mixed ^= years.astype(np.uint64)[:, None] * np.uint64(0xA24BAED4963EE407)
        mixed ^= mixed >> np.uint64(31)
        mixed *= np.uint64(0x94D049BB133111EB)
        mixed ^= mixed >> np.uint64(29)
    return mixed.view(np.int64)


def best_matches(a: Shingles, group_a: np.ndarray, b: Shingles, group_b: np.ndarray) -> np.ndarray:
    """For every passage i of ``a``: the passage j of ``b`` in the same group (int ≥ 0) with the highest exact Jaccard
    similarity, as rows (i, j, similarity) of a float64 array (passages sharing no shingle with their group: none).
    Ties go to the highest j.

    The intersections are one sparse product: passages × (group, shingle) incidence matrices, ``A · Bᵀ``."""
    from scipy import sparse

    if not len(a.ids) or not len(b.ids):
        return np.zeros((0, 3))
    owner_a, owner_b = a.owner, b.owner
    _, dense = np.unique(np.concatenate([a.ids, b.ids]), return_inverse=True)
    dense = dense.reshape(-1).astype(np.int64)
    groups = np.concatenate([group_a[owner_a], group_b[owner_b]]).astype(np.int64)
    columns, column = np.unique((groups << 32) | dense, return_inverse=True)
    column = column.reshape(-1)
    n_a, n_b = len(a.offsets) - 1, len(b.offsets) - 1
    ones_a = np.ones(len(a.ids), dtype=np.int32)
    ones_b = np.ones(len(b.ids), dtype=np.int32)
    left = sparse.csr_matrix((ones_a, (owner_a, column[: len(a.ids)])), shape=(n_a, len(columns)))
    right = sparse.csr_matrix((ones_b, (owner_b, column[len(a.ids) :])), shape=(n_b, len(columns)))
    product = (left @ right.T).tocoo()
    i, j, inter = product.row.astype(np.int64), product.col.astype(np.int64), product.data.astype(np.float64)
    if not len(i):
        return np.zeros((0, 3))
    similarity = inter / (a.sizes[i] + b.sizes[j] - inter)
    order = np.lexsort((-j, -similarity, i))  # per i: highest similarity first, then the highest j
    i, j, similarity = i[order], j[order], similarity[order]
    first = np.ones(len(i), dtype=bool)
    first[1:] = i[1:] != i[:-1]
    return np.column_stack([i[first], j[first], similarity[first]])


def pair_jaccard(a: Shingles, ia: np.ndarray, b: Shingles, ib: np.ndarray) -> np.ndarray:
    """Exact Jaccard similarity of passage ``ia[k]`` of ``a`` and ``ib[k]`` of ``b``, for every k."""
    n = len(ia)
    if not n:
        return np.zeros(0)
    size_a, size_b = a.sizes[ia], b.sizes[ib]
    # every pair's shingles of both sides, keyed (pair, shingle): a key seen twice is a shared shingle
    pair_a = np.repeat(np.arange(n), size_a)
    pair_b = np.repeat(np.arange(n), size_b)
    take_a = ranges(a.offsets[ia], size_a)
    take_b = ranges(b.offsets[ib], size_b)
    pairs = np.concatenate([pair_a, pair_b])
    ids = np.concatenate([a.ids[take_a], b.ids[take_b]])
    order = np.lexsort((ids, pairs))
    pairs, ids = pairs[order], ids[order]
    dup = (ids[1:] == ids[:-1]) & (pairs[1:] == pairs[:-1])
    inter = np.bincount(pairs[1:][dup], minlength=n).astype(np.float64)
    union = size_a + size_b - inter
    return np.divide(inter, union, out=np.zeros(n), where=union > 0)


def ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(starts[k], starts[k] + sizes[k])`` for every k."""
    total = int(sizes.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    return np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(starts, sizes)
