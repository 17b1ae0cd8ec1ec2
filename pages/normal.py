"""NORMAL: how the model does on the truly-normal test images at the current threshold."""
from pneumo_core.app.access import page_guard
from pneumo_core.app.review import widgets

page_guard.entry()
widgets.class_page("NORMAL")
