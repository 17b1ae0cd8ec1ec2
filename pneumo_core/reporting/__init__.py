"""A scored case as the document that leaves the product: the one case report the app offers
for download and the command line stores in a PACS (`case`: film, heatmap and its check, the
operating point's expected sensitivity and specificity, the calibration, the reader's fields),
the words both use for a calibration (`words`), and what the heatmap's check says
(`region_check`)."""

__all__ = ["words", "case", "region_check"]
