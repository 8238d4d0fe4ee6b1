"""Real image files made by the tests: every format and defect the upload must handle."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()


#: The size of a lesion-like picture that the quality gate's image checks pass (the smallest
#: real ISIC images are 200×150; the default 64×48 is rejected as too small and out of focus).
GATE_PASSING_SIZE = (200, 150)


def lesion_like(
    width: int = 64, height: int = 48, *, seed: int = 0, centre: tuple[float, float] = (0.4, 0.6)
) -> Image.Image:
    """A skin-coloured image with a dark blob (the "lesion") at ``centre`` (fractions of height
    and width; off-centre by default) and some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = height * centre[0], width * centre[1]
    blob = np.exp(-(((yy - cy) / (height * 0.2)) ** 2 + ((xx - cx) / (width * 0.2)) ** 2))
    base = np.stack([np.full_like(blob, 205.0), np.full_like(blob, 150.0), np.full_like(blob, 120.0)], axis=-1)
    dark = np.array([70.0, 40.0, 30.0])
    pixels = base * (1 - blob[..., None]) + dark * blob[..., None] + rng.normal(0, 6, base.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def jpeg(width: int = 64, height: int = 48, *, seed: int = 0, **params) -> bytes:
    return encode(lesion_like(width, height, seed=seed), "JPEG", quality=92, **params)


def png(width: int = 64, height: int = 48, *, seed: int = 0) -> bytes:
    return encode(lesion_like(width, height, seed=seed), "PNG")


def png_with_alpha(width: int = 64, height: int = 48) -> bytes:
    image = lesion_like(width, height).convert("RGBA")
    alpha = Image.new("L", image.size, 255)
    alpha.paste(0, (0, 0, width // 4, height))  # a fully transparent strip on the left
    image.putalpha(alpha)
    return encode(image, "PNG")


def grayscale_jpeg(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height).convert("L"), "JPEG", quality=92)


def cmyk_jpeg(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height).convert("CMYK"), "JPEG", quality=92)


def png_16bit(width: int = 64, height: int = 48) -> bytes:
    gradient = np.tile(np.linspace(0, 65535, width, dtype=np.uint16), (height, 1))
    return encode(Image.fromarray(gradient), "PNG")


def heic(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height), "HEIF", quality=90)


def gif(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height).convert("P"), "GIF")


def truncated_jpeg() -> bytes:
    data = jpeg(256, 192)
    return data[: len(data) // 2]


def jpeg_with_gps_and_orientation_6(width: int = 60, height: int = 40) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90° clockwise to view" and carries GPS data."""
    image = lesion_like(width, height)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored pixels must be rotated 90° clockwise
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 12.0, 30.0)
    gps[3] = "E"
    gps[4] = (16.0, 22.0, 15.0)
    return encode(image, "JPEG", quality=92, exif=exif.tobytes())


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width * 3)
    data = zlib.compress(row * 4, 9)  # a few rows only: the rest is "missing"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def text_file() -> bytes:
    return b"This is a clinical note, not an image.\n" * 10


def mpo(width: int = 64, height: int = 48) -> bytes:
    """A JPEG with a second picture appended (multi-picture format), as many phones write."""
    first, second = lesion_like(width, height, seed=1), lesion_like(width // 2, height // 2, seed=2)
    return encode(first, "MPO", save_all=True, append_images=[second], quality=92)


# Hostile files (tests/cases/test_hostile_files.py) ------------------------------------------


def html_file() -> bytes:
    return b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"


def svg_with_script() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" onload="alert(1)">\n'
        b'  <rect width="64" height="48" fill="#c89678"/>\n'
        b"  <script>alert(document.cookie)</script>\n"
        b"</svg>\n"
    )


def minimal_pdf() -> bytes:
    """A small valid one-page PDF (with a correct cross-reference table)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 64 48] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


ZIP_PAYLOAD_NAME = "payload.txt"


def jpeg_with_zip_appended(width: int = 64, height: int = 48) -> bytes:
    """A valid JPEG followed by a zip archive (a "polyglot": both a picture and an archive)."""
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(ZIP_PAYLOAD_NAME, "smuggled content " * 50)
    return jpeg(width, height, seed=5) + archive.getvalue()


def tiny_jpeg() -> bytes:
    return encode(Image.new("RGB", (1, 1), (180, 120, 100)), "JPEG", quality=92)


def tiny_png() -> bytes:
    return encode(Image.new("RGB", (1, 1), (180, 120, 100)), "PNG")


def animated_gif(width: int = 64, height: int = 48, frames: int = 3) -> bytes:
    pictures = [lesion_like(width, height, seed=seed).convert("P") for seed in range(frames)]
    return encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)


HUGE_EXIF_MARKER = b"HUGE-EXIF-PAYLOAD"


def jpeg_with_huge_exif(width: int = 64, height: int = 48, comment_bytes: int = 60_000) -> bytes:
    """A JPEG whose EXIF (APP1) segment is nearly the 64 KB maximum: a 60 KB UserComment."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    filler = (HUGE_EXIF_MARKER * (comment_bytes // len(HUGE_EXIF_MARKER) + 1))[:comment_bytes]
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + filler  # UserComment
    return encode(lesion_like(width, height, seed=6), "JPEG", quality=92, exif=exif.tobytes())


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF) claims ``width``×``height`` pixels."""
    data = bytearray(jpeg(16, 16, seed=7))
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        at = data.find(marker)
        if at != -1:
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise AssertionError("no SOF marker")


def jpeg_padded_to(size: int) -> bytes:
    """A valid JPEG followed by zero bytes, ``size`` bytes in all (a file over a size limit)."""
    data = jpeg(seed=8)
    return data + b"\x00" * (size - len(data))


def dicom_photograph(
    *,
    patient_id: str,
    sop_class: str = "1.2.840.10008.5.1.4.1.1.77.1.4",
    study_date: str = "20260110",
    width: int = 200,
    height: int = 150,
    seed: int = 0,
) -> bytes:
    """A DICOM Part 10 photograph as another system would send it: uncompressed RGB pixels
    (Explicit VR Little Endian) of a lesion-like picture; VL Photographic unless told a class."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.asarray(lesion_like(width, height, seed=seed).convert("RGB"))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName, ds.StudyDate = patient_id, "Test^Patient", study_date
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "XC"
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_chunk_bomb(kind: str = "zTXt", *, inflated_bytes: int = 64 * 1024 * 1024) -> bytes:
    """A small valid PNG carrying a zTXt or iCCP chunk that inflates to ``inflated_bytes`` (64 MB of
    zeros compress to about 64 KB): a decompression bomb hidden outside the pixels."""
    plain = png(16, 16)
    payload = zlib.compress(b"\0" * inflated_bytes, 9)
    name = b"Comment" if kind == "zTXt" else b"ICC profile"
    chunk = _png_chunk(kind.encode(), name + b"\0\0" + payload)
    return plain[:33] + chunk + plain[33:]  # after the 8-byte signature and the IHDR chunk
