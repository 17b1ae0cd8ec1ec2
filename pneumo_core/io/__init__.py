"""What comes in and what goes out: decoding any film a user or a folder hands over into one
grayscale radiograph (`ingest`: PNG, JPEG, TIFF, BMP, WebP, DICOM, with every size and safety
rule; `ingest` is the one entry point, over `pictures` (Pillow formats), `dicom` (pydicom) and
`limits` (size limits and the shared error)), which files a folder scan picks up (`scan`), and what leaves the product for people to
read: CSV cells that a spreadsheet cannot execute (`spreadsheet`), the one heatmap overlay
(`overlay`) and the per-case PDF report (`case_report`)."""

__all__ = ["ingest", "pictures", "dicom", "limits", "scan", "spreadsheet", "overlay", "case_report"]
