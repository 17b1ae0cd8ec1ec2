"""What comes in and what goes out: decoding any film a user or a folder hands over into one
grayscale radiograph (`ingest`: PNG, JPEG, TIFF, BMP, WebP, DICOM, with every size and safety
rule; `ingest` is the one decoder, over `pictures` (Pillow formats), `dicom` (pydicom),
`codestream` (a compressed DICOM's own size checked against its header) and `limits` (size
limits and the shared error)); bytes from a user or a PACS are decoded by it in a worker
process with memory and time limits (`sandbox`, `decode_worker`); how much one session may
upload and how much heavy work runs at once (`budget`); which files a folder scan picks up
(`scan`); and what leaves the product for people to read: CSV cells that a spreadsheet cannot
execute (`spreadsheet`), the one heatmap overlay (`overlay`) and the per-case PDF report
(`case_report`); where the product's own files are, and where what it writes goes (`home`); which host names are
this machine (`network`)."""

__all__ = ["ingest", "pictures", "dicom", "codestream", "limits", "sandbox", "decode_worker", "budget", "scan",
           "spreadsheet", "overlay", "case_report", "home", "network"]
