"""The reading room: one scored film (`cases`), scored and explained with its heatmap and
report (`scoring`), shown one case at a time (`case_view`) in the zoomable viewer (`viewer`),
with the reader"s typed report fields (`report_form`) and the results table as the screen prints
it (`results_table`)."""

__all__ = ["cases", "scoring", "case_view", "viewer", "report_form", "results_table"]
