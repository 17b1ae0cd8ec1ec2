"""NORMAL: how the model does on the truly-normal test images at the current threshold."""
from pneumo_core.app.review import widgets

widgets.class_page("NORMAL")
