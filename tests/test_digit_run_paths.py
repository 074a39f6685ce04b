"""The digit-run search's shortcuts change no answer: a cached split equals a fresh search, the left half read
from the left (meet in the middle, its readings too large for any total dropped) equals the plain right-to-left
search, and the certainty search that stops past 64 splits settles exactly the cells the full count settles."""

from __future__ import annotations

from conftest import CRAWLER

from pipeline.matcher import digits, lines_of
from pipeline.matcher.digits import MAX_CANDIDATES, split_run
from pipeline.matcher.run_cells import INT
from pipeline.matcher.splits import Identity, Splits, t3_row_identities, t4_identities
from pipeline.readers import read_document

# runs seen in generated crawler text, among them loose ones with millions of splits
HARD_RUNS = ("11433214010560208", "3571165911201141313017", "6819331913920264321648331", " 100 0 100000",
             "0000000000", " 0000000000", "2828745622111424212", "1741831643245", "150000015", "000000")  # fmt: skip


def real_runs() -> list[str]:
    runs = []
    for source in sorted(CRAWLER.glob("*/source.txt")):
        runs += [ln.run for ln in lines_of(read_document(source)) if ln.glued and ln.values]
    assert runs, "the crawler fixtures have rows whose separators were lost"
    return runs


def certain(splits: Splits, n: int) -> list[bool]:
    """As glued.read_run reads the wide search: cells every split agrees on."""
    return [a is not None for a in splits.agreed()] if splits.candidates else [False] * n


def test_cached_splits_equal_a_fresh_search() -> None:
    t3, t4 = (INT,) * 7, (INT,) * 15
    for run in [*real_runs(), *HARD_RUNS]:
        for kinds, idents in ((t3, t3_row_identities()), (t3, t3_row_identities(True)), (t4, t4_identities())):
            for free in (0, 1):
                fresh = digits._split_run(run, kinds, idents, free, None)
                for _ in range(2):  # the second call is answered from the cache
                    got = split_run(run, kinds, idents, free_blanks=free)
                    assert (got.candidates, got.count, got.limit) == (fresh.candidates, fresh.count, fresh.limit)


def test_certainty_search_that_stops_early_settles_the_same_cells() -> None:
    checked = stopped = 0
    for run in [*real_runs(), *HARD_RUNS]:
        for kinds, idents in (((INT,) * 7, t3_row_identities()), ((INT,) * 15, t4_identities())):
            loose = tuple(Identity(i.parts, i.total, skip_blank_total=True) for i in idents)
            full = digits._split_run(run, kinds, loose, len(kinds), None)
            quick = split_run(run, kinds, loose, free_blanks=len(kinds), enough=MAX_CANDIDATES)
            assert certain(quick, len(kinds)) == certain(full, len(kinds)), run
            checked += 1
            stopped += quick.limit is not None and full.limit is None
    assert checked > 20 and stopped > 0  # the shortcut was taken, and agreed


def test_left_half_lookup_equals_the_plain_search() -> None:
    t3 = (INT,) * 7
    compared = 0
    runs = [*real_runs(), *HARD_RUNS, "78414321077211037", "1000999", "999 1 1000", "12 3 4 5 6 30", "1111116"]
    for run in runs:
        for idents in (t3_row_identities(), t3_row_identities(True)):
            for free in (0, 1, 2):
                plain = digits._split_run(run, t3, idents, free, None, halves=False)
                if plain.limit:
                    continue  # the plain search gave up where the shortcut did not: nothing to compare
                halved = digits._split_run(run, t3, idents, free, None)
                assert (halved.candidates, halved.count, halved.limit) == (plain.candidates, plain.count, None), run
                compared += 1
    assert compared > 50
