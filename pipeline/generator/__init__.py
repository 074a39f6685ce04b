"""Synthetic corpus generator: report documents in every layout, with ground truth (issue 3).

Public API: :class:`~pipeline.generator.corpus.CorpusConfig`, :func:`~pipeline.generator.corpus.iter_documents`,
:func:`~pipeline.generator.corpus.write_corpus`, the renderer registry in :mod:`pipeline.generator.renderers`.
"""
