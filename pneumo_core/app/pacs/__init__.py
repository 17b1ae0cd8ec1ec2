"""The PACS screen: the configured servers, a search, a study scored with the reading
room"s view, and a case"s report stored in the study (`pacs_page`)."""

__all__ = ["pacs_page"]
