"""A compressed DICOM's codestream checked against its own header before any pixel is decoded.

Decoders (openjpeg, libjpeg) allocate what the codestream says (the JPEG 2000 SIZ marker,
the JPEG SOF marker), whatever Rows/Columns claim: a 746-byte file whose header says 512x512
can make openjpeg allocate for 16000x16000. So the codestream's declared size must equal
Rows x Columns (and its component count SamplesPerPixel) or the file is refused, and a
transfer syntax we do not know is refused as "unsupported compression", naming no UID.
"""
from __future__ import annotations

from pydicom.uid import UID

from .limits import IngestError, check_pixel_count

__all__ = ["UNCOMPRESSED", "JPEG_FAMILY", "JPEG2000_FAMILY", "RLE", "check_codestream", "declared_size"]

UNCOMPRESSED = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                          "1.2.840.10008.1.2.1.99"})  # implicit/explicit little, explicit big, deflated
RLE = "1.2.840.10008.1.2.5"  # the decoder allocates Rows x Columns from the header
JPEG_FAMILY = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                         "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"})
JPEG2000_FAMILY = frozenset({"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
                             "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"})
_ITEM = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian
_HEAD_BYTES = 1 << 16  # markers before the image data; a header further in is not a radiograph's
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}  # 0xF7: JPEG-LS


def _first_fragment(pixel_data: bytes) -> bytes:
    """The start of the first fragment after the basic offset table, b"" when not found."""
    if pixel_data[:4] != _ITEM:
        return b""
    pos = 8 + int.from_bytes(pixel_data[4:8], "little")  # skip the offset table
    if pixel_data[pos:pos + 4] != _ITEM:
        return b""
    return pixel_data[pos + 8:pos + 8 + min(int.from_bytes(pixel_data[pos + 4:pos + 8], "little"), _HEAD_BYTES)]


def _j2k_size(head: bytes) -> tuple[int, int, int] | None:
    at = head.find(b"\xff\x4f\xff\x51")  # SOC then SIZ (also inside a JP2 wrapper's codestream box)
    if at < 0 or len(head) < at + 42:
        return None
    siz = head[at + 4:]  # Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, tile sizes and offsets, Csiz
    x, y, x0, y0 = (int.from_bytes(siz[i:i + 4], "big") for i in (4, 8, 12, 16))
    return x - x0, y - y0, int.from_bytes(siz[36:38], "big")


def _jpeg_size(head: bytes) -> tuple[int, int, int] | None:
    if head[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 1 if marker == 0xFF else 2
            continue
        if marker in _SOF:
            if len(head) < i + 10:
                return None
            return int.from_bytes(head[i + 7:i + 9], "big"), int.from_bytes(head[i + 5:i + 7], "big"), head[i + 9]
        i += 2 + int.from_bytes(head[i + 2:i + 4], "big")
    return None


def declared_size(transfer_syntax: str, pixel_data: bytes) -> tuple[int, int, int] | None:
    """(width, height, components) the first frame's codestream declares, None when unreadable."""
    head = _first_fragment(pixel_data)
    return _j2k_size(head) if transfer_syntax in JPEG2000_FAMILY else _jpeg_size(head)


def check_codestream(transfer_syntax: UID | str | None, rows: int, columns: int, samples: int,
                     pixel_data: bytes | None) -> None:
    """Refuse a compressed image whose codestream does not declare Rows x Columns x samples."""
    ts = str(transfer_syntax or "1.2.840.10008.1.2.1")
    if ts in UNCOMPRESSED or ts == RLE:
        return
    if ts not in JPEG_FAMILY and ts not in JPEG2000_FAMILY:
        raise IngestError("unsupported compression: the DICOM's pixel data is compressed in a format we cannot read")
    size = declared_size(ts, pixel_data or b"")
    if size is None:
        raise IngestError("compressed pixel data has no readable image header (damaged or not an image)")
    width, height, components = size
    check_pixel_count(width, height)
    if (width, height, components) != (columns, rows, samples):
        raise IngestError(f"compressed image does not match its DICOM header: the pixel data declares {width}x{height} "
                          f"px, {components} component(s); the header {columns}x{rows} px, {samples}")
