"""A scored case as the document that leaves the product: the one case report the app offers
for download and the command line stores in a PACS (`case`: film, heatmap and its check, the
operating point's expected sensitivity and specificity, the calibration, the reader's fields),
the words both use for a calibration (`words`), and what the heatmap's check says
(`region_check`) and its shortcut check (`shortcut_check`: the map's strongest cell on a burned-in
marker or off the body)."""

__all__ = ["words", "case", "region_check", "shortcut_check"]
