"""Hostile files, crafted in memory, for the tests and `benchmarks/hostile_inputs.py`: each
one is an attack a security review found (a decompression bomb, a header that costs quadratic
CPU, a zip that lists too much, a file that smuggles a name into an error line)."""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

PATIENT = "SMITH^JOHN^MRN12345"  # what a crafted file smuggles; it must never come back


def _dicom(transfer_syntax: str, rows: int, cols: int, pixel_data: bytes, encapsulated: bool, **elements) -> bytes:
    with warnings.catch_warnings():  # pydicom warns, quoting the crafted values, as it writes them
        warnings.simplefilter("ignore")
        return _write_dicom(transfer_syntax, rows, cols, pixel_data, encapsulated, **elements)


def _write_dicom(transfer_syntax: str, rows: int, cols: int, pixel_data: bytes, encapsulated: bool,
                 **elements) -> bytes:
    ds = _xray_dataset(transfer_syntax, rows, cols)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    for k, v in elements.items():
        setattr(ds, k, v)
    ds.PixelData = encapsulate([pixel_data]) if encapsulated else pixel_data
    if encapsulated:
        ds["PixelData"].VR = "OB"
    buf = io.BytesIO()
    ds.save_as(buf, implicit_vr=False, little_endian=True, enforce_file_format=True)
    return buf.getvalue()


def _xray_dataset(transfer_syntax: str, rows: int, cols: int, uid: str | None = None) -> Dataset:
    """A grey digital X-ray's header, with a patient name for an error line to leak."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = uid or generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName = "DX", PATIENT
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, cols, 1, "MONOCHROME2"
    return ds


def j2k_codestream(side: int = 64) -> bytes:
    """A real JPEG 2000 codestream (SOC, SIZ, ...) of a flat grey square."""
    buf = io.BytesIO()
    Image.new("L", (side, side), 100).save(buf, "JPEG2000", no_jp2=True, irreversible=False)
    return buf.getvalue()


def j2k_bomb_dicom(claim: int = 16000, header: int = 512) -> bytes:
    """A DICOM (~780 bytes) whose header says header x header but whose codestream's SIZ
    marker claims claim x claim in 64-px tiles: openjpeg allocates the whole image before it
    finds the tiles missing (16000: ~1.9 GB, then an error)."""
    cs = bytearray(j2k_codestream())
    at = cs.find(b"\xff\x4f\xff\x51") + 4
    for offset in (4, 8):  # Xsiz, Ysiz (after Lsiz, Rsiz)
        cs[at + offset:at + offset + 4] = claim.to_bytes(4, "big")
    return _dicom(JPEG2000Lossless, header, header, bytes(cs), encapsulated=True)


def j2k_dicom(side: int = 64) -> bytes:
    """An honest JPEG 2000 DICOM (the codestream matches Rows/Columns)."""
    return _dicom(JPEG2000Lossless, side, side, j2k_codestream(side), encapsulated=True)


def transfer_syntax_echo_dicom() -> bytes:
    """A compressed-looking DICOM whose transfer syntax 'UID' carries a patient's name."""
    return _dicom(PATIENT, 128, 128, bytes(128 * 128), encapsulated=False)


def warning_echo_dicom() -> bytes:
    """A DICOM whose code-string elements carry a name: pydicom warns quoting the value, and
    the modality / view fields would be shown."""
    return _dicom(ExplicitVRLittleEndian, 128, 128, (np.arange(128 * 128) % 251).astype(np.uint8).tobytes(),
                  encapsulated=False, Modality=PATIENT, ViewPosition=PATIENT, BodyPartExamined=PATIENT)


def deflate_bomb_dicom(inflated_mb: int = 4096) -> bytes:
    """Deflated Explicit VR Little Endian whose dataset inflates to `inflated_mb` MB."""
    ds_bytes = io.BytesIO()
    # one OB element (private tag) of zeros: (0009,0010) would need a creator; use (0019,1000) OB
    head = struct.pack("<HH2sHI", 0x0019, 0x1000, b"OB", 0, inflated_mb * 2**20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    ds_bytes.write(comp.compress(head))
    chunk = bytes(2**20)
    for _ in range(inflated_mb):
        ds_bytes.write(comp.compress(chunk))
    ds_bytes.write(comp.flush())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1.99"
    buf = io.BytesIO()
    buf.write(b"\0" * 128 + b"DICM")
    pydicom.filewriter.write_file_meta_info(buf, meta, enforce_standard=True)
    buf.write(ds_bytes.getvalue())
    return buf.getvalue()


def chained_tiff(frames: int = 20_000, side: int = 256) -> bytes:
    """A TIFF of `frames` chained frame headers (IFDs) sharing one strip of pixels: ~100 bytes
    a frame, so 20,000 frames are 2 MB."""
    pixels_at = 8
    pixels = bytes([120]) * side * side
    first_ifd = pixels_at + len(pixels)
    ifd_size = 2 + 8 * 12 + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", first_ifd) + pixels)
    for i in range(frames):
        nxt = first_ifd + (i + 1) * ifd_size if i + 1 < frames else 0
        entries = [(256, 3, 1, side), (257, 3, 1, side), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
                   (273, 4, 1, pixels_at), (278, 3, 1, side), (279, 4, 1, len(pixels))]
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            out += struct.pack("<HHII", tag, typ, count, value)
        out += struct.pack("<I", nxt)
    return bytes(out)


def many_entry_zip(entries: int) -> bytes:
    """A zip of `entries` empty stored files (Zip64 end records above 65,535 entries), written
    directly: ~90 bytes an entry, so 800,000 entries are ~75 MB."""
    local, central = bytearray(), bytearray()
    for i in range(entries):
        name = b"NORMAL/%07d" % i
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0,
                               0, 0, offset) + name
    cd_offset, cd_size = len(local), len(central)
    out = local + central
    if entries > 0xFFFF:
        z64_at = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, cd_size, cd_offset, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, cd_size, cd_offset, 0)
    return bytes(out)


def png(side: int, value: int = 90) -> bytes:
    """A flat grey PNG; large sides compress to a few kB and decode to side^2 pixels."""
    buf = io.BytesIO()
    Image.new("L", (side, side), value).save(buf, "PNG")
    return buf.getvalue()


def reset_peak_memory(pid: int | str = "self") -> None:
    """Reset a process's peak resident memory (Linux: VmHWM; this one, or a child), so the
    next reading is the peak of what runs after."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # the child has exited
        pass


def peak_memory_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a process in MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return 0.0


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


# --- float films (issue #27): decoded fine, then NaN downstream took the whole batch down -------
_FLOAT_ELEMENT = {np.dtype(np.float32): ("FloatPixelData", 32), np.dtype(np.float64): ("DoubleFloatPixelData", 64)}


def array_dicom(pixels: np.ndarray, uid: str | None = None, **elements) -> bytes:
    """A grey DICOM holding `pixels` as stored: uint8/uint16/int16 in Pixel Data, float32 in
    Float Pixel Data (7FE0,0008), float64 in Double Float Pixel Data (7FE0,0009); `elements`
    override or add header fields (a wrong Rows, a rescale, a window...). A fixed `uid` makes
    the same bytes every time (property tests replay what they generate)."""
    a = np.ascontiguousarray(pixels)
    ds = _xray_dataset(ExplicitVRLittleEndian, *a.shape, uid=uid)
    if a.dtype in _FLOAT_ELEMENT:
        keyword, bits = _FLOAT_ELEMENT[a.dtype]
        ds.BitsAllocated = bits
        setattr(ds, keyword, a.astype(a.dtype.newbyteorder("<")).tobytes())
    else:
        bits = a.dtype.itemsize * 8
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
        ds.PixelRepresentation = int(a.dtype.kind == "i")
        ds.PixelData = a.astype(a.dtype.newbyteorder("<")).tobytes()
    buf = io.BytesIO()
    with warnings.catch_warnings():  # pydicom warns, quoting the crafted values, as it sets and writes them
        warnings.simplefilter("ignore")
        for k, v in elements.items():
            setattr(ds, k, v)
        ds.save_as(buf, implicit_vr=False, little_endian=True, enforce_file_format=True)
    return buf.getvalue()


def float_ramp(side: int = 64, lo: float = 0.0, hi: float = 1.0, dtype=np.float32) -> np.ndarray:
    """A side x side ramp from lo to hi, in float64 as a weighted mean of its ends, so even
    +-1e308 ends neither overflow nor lose their extremes."""
    t = np.linspace(0.0, 1.0, side * side).reshape(side, side)
    return (lo * (1.0 - t) + hi * t).astype(dtype)


def float_dicom_with_infinity(side: int = 64) -> bytes:
    """The attack of issue #27: Float Pixel Data, a ramp with +inf and -inf in its first pixels."""
    a = float_ramp(side)
    a.flat[:2] = np.inf, -np.inf
    return array_dicom(a)


def float_tiff(pixels: np.ndarray) -> bytes:
    """A 32-bit float TIFF (Pillow mode F) of `pixels`."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.float32), mode="F").save(buf, "TIFF")
    return buf.getvalue()


def extreme_float_tiff(side: int = 64) -> bytes:
    """The other attack of issue #27: a float TIFF whose values ramp from -3e38 to +3e38."""
    return float_tiff(float_ramp(side, -3e38, 3e38))
