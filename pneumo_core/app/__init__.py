"""What the Streamlit pages compute and draw, kept in `pneumo_core` so a plain pytest can
check it, in one room per screen or concern. A room imports only rooms listed before it
(`tests/test_house.py` holds this):

* `runtime`: paths, cached loaders, the warm-up, formatting;
* `access`: login, roles and audit records in the user's name;
* `settings`: the sidebar (model, calibration, operating point) and the `Settings` it hands on;
* `reading`: the reading room (one case at a time: viewer, heatmap, report);
* `review`: evaluation, per-class galleries, model card;
* `site`, `pacs`: Calibrate for your site; the PACS screen.

`serve` is the launcher (`make run`): it warms the model before the server takes requests.
Nothing is imported here, so a page pays only for the modules it uses.
"""

__all__ = ["runtime", "access", "settings", "reading", "review", "site", "pacs", "serve"]
