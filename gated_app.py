"""The app behind its door, for a server with login: Streamlit's public ASGI app (`st.App`)
serving `streamlit_app.py`, with the middleware that keeps uploads, media files and cache
clearing from clients that are not signed in (`pneumo_core/app/access/gate.py`).

`pneumo serve` (the launcher, `pneumo_core.app.serve`) runs this file whenever login is configured; by hand:
`streamlit run gated_app.py` (it reads the same `.streamlit/` files as `streamlit_app.py`)."""
from starlette.middleware import Middleware
from streamlit.starlette import App

from pneumo_core.app.access.gate import SignedInOnly

app = App("streamlit_app.py", middleware=[Middleware(SignedInOnly)])
