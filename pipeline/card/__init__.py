"""An agency's report card for one year: the data (:mod:`~pipeline.card.data`), print charts
(:mod:`~pipeline.card.charts`, matplotlib), and the printable Word (:mod:`~pipeline.card.docx`) and PDF
(:mod:`~pipeline.card.pdf`, reportlab, Chinese font embedded: :mod:`~pipeline.card.fonts`) files."""
