"""NORMAL: how the model does on the truly-normal test images at the current threshold."""
from pneumo_core import app_support as app

app.class_page("NORMAL")
