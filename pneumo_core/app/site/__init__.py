"""Calibrate for your site: the labelled uploads (`site_uploads`), the fit and what the
page shows of it (`site_page`), and its figures (`site_figures`)."""

__all__ = ["site_uploads", "site_page", "site_figures"]
