"""PNEUMONIA: how the model does on the truly-pneumonia test images at the current threshold."""
from pneumo_core import app_support as app

app.class_page("PNEUMONIA")
