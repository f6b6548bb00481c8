"""What the model sees: any image in, MNIST-style 28x28 floats out.

Like MNIST: light ink on dark; crop to the ink's bounding box; scale the longer side to
20 px keeping the aspect ratio, with anti-aliasing; paste into 28x28 so that the centre of
mass lands where MNIST's digits have theirs, (14, 14); round to MNIST's 256 levels (q/255),
as its digits are stored. Dark-on-light images are inverted first, and the paper's own level
taken off. An empty drawing is valid and gives all zeros.
"""

from __future__ import annotations

import binascii
import io
import math
import re
import struct
import warnings
import zlib
from base64 import b64decode
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError
from PIL.JpegImagePlugin import MARKER as JPEG_MARKERS  # (name, description, handler or None)

from app.ml.errors import CorruptImage, EmptyBody, ImageTooLarge, InvalidImage, InvalidPixels
from app.ml.names import counted, cut, json_kind
from app.ml.resample import lanczos

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
ACCEPTED_TEXT = "PNG, JPEG, WebP or GIF"
SIDE = 28
BOX = 20
INK_THRESHOLD = 0.1  # ink below this (JPEG noise, faint smudges) does not set the bounding box
PAPER_ON_PLANE = 0.75  # of each side, for the paper to be lit unevenly (_lit_paper)
PLANE_SIDE = 3  # px: in a thinner picture every pixel is on a side, and its paper stays flat
# Where MNIST's digits have their centre of mass, in pixel indices from 0: within half a
# pixel of (14, 14) for all but 2 of the 70,000 (those 2 by 0.52 and 0.51; means 13.99 and
# 14.01), not on the field's middle, 13.5, where a digit centred here sat a pixel from
# MNIST's place on most inputs (found by a review: of the 10,000 test digits prepared
# again, 7,546 moved by more than half a pixel)
CENTRE = 14.0
MAX_SIDE = 512  # larger images are box-reduced to this before any float work
# A progressive JPEG is decoded scan by scan, each over the whole image: a few hundred kB of
# repeated scans held a decoder for tens of seconds. Encoders write 6 to 12.
MAX_JPEG_SCANS = 100
# Pillow reads a JPEG's segments before its first scan one by one in Python as it opens it: an
# API review's 2 MB of 500,000 empty APP0 segments held a decoder for a second (a 12-megapixel
# photo of that size: 0.07 s). Cameras and editors write about 10; an EXIF thumbnail's own sit
# inside its segment.
MAX_JPEG_SEGMENTS = 1000
EXIF_ORIENTATION = 0x0112
# Pillow warns of an EXIF block it cannot read whole (cut short, a tag's data past its end,
# an offset too large) as it opens a JPEG and reads the rest; the upload is served all the
# same, and each warning was a bare line with Pillow's source in the server's log (an API
# review). Their filter, every UserWarning of Pillow's EXIF (TIFF) reader, is set once here,
# not around the read: warnings.catch_warnings is not safe where threads decode.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")

# Pillow's own bomb check warns (or raises) against one process-wide limit; this module checks
# every image against the server's limit from its header instead, before decoding.
Image.MAX_IMAGE_PIXELS = None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff(data: bytes) -> str | None:
    """The accepted format these bytes claim to be by their signature, if any."""
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


# images this server does not read, named by their signatures where one is refused (found
# by an API review: a BMP sent with curl --data-binary was told its form type was wrong)
OTHER_FORMATS = ((b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"%PDF-", "a PDF"))
ICON_KINDS = {b"\x00\x00\x01\x00": "an ICO icon", b"\x00\x00\x02\x00": "a CUR cursor"}
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
# Netpbm's header: P1-P6, then white space and comments, then the width's first digit; P7
# (PAM) names its fields on lines of their own
NETPBM = re.compile(rb"P([1-6])\s(?:\s|#[^\n]*\n)*\d|P(7)\n")  # linear: # is no \s
NETPBM_NAMES = {b"1": "a PBM", b"4": "a PBM", b"2": "a PGM", b"5": "a PGM", b"3": "a PPM",
                b"6": "a PPM", b"7": "a PAM"}


# how an .npy and an .npz (a zip, or a zip of no members) begin: the batch route's files,
# which the one-image routes name as such (app/api/inputs.py)
ARRAY_STARTS = (b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06")


def other_format(data: bytes) -> str | None:
    """What these bytes are, in words, where they begin as an image format (or a PDF) that
    this server does not read; None for anything else."""
    for signature, name in OTHER_FORMATS:
        if data.startswith(signature):
            return name
    if data.startswith(b"BM") and data[6:10] == b"\x00\x00\x00\x00":  # its reserved bytes
        return "a BMP image"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return "a HEIC or AVIF image"
    # an icon or a cursor (an API review: a favicon was named as no format): reserved 0, its
    # kind, a count of images, and that many 16-byte entries, the first's reserved byte 0,
    # its size not 0 and its offset past the entries and within the file (so that a raw
    # 28x28 image whose first levels read 0 0 1 0 is not named one: a review)
    if data[:4] in ICON_KINDS and (count := int.from_bytes(data[4:6], "little")):
        entries = 6 + 16 * count
        size = int.from_bytes(data[14:18], "little")
        offset = int.from_bytes(data[18:22], "little")
        if len(data) >= entries and data[9] == 0 and size and entries <= offset < len(data):
            return ICON_KINDS[data[:4]]
    # a scanner's or a converter's (a practitioner's review: a PPM sent with curl
    # --data-binary was told that its form type was the mistake)
    netpbm = NETPBM.match(data[:4096])
    if netpbm:
        return f"{NETPBM_NAMES[netpbm.group(1) or netpbm.group(2)]} (Netpbm) image"
    # after a byte-order mark or white space, or an XML declaration, an SVG doctype or a
    # comment before it (not an HTML page that holds one: a review), within the first 4 kB:
    # Illustrator writes over a kilobyte of doctype before <svg
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith((b"<?xml", b"<!doctype svg", b"<!--"))
                                    and b"<svg" in head and b"<html" not in head):
        return "an SVG drawing"
    return None


BLANK = b"\xef\xbb\xbf \t\r\n"  # a byte-order mark's bytes and white space


def json_text(body: bytes) -> bool:
    """Whether a body begins as JSON does (after a byte-order mark and white space): an
    object or an array, which the API's parse_json_pixels then reads or refuses."""
    return body.lstrip(BLANK)[:1] in (b"{", b"[")


def gunzip_head(data: bytes, size: int) -> bytes:
    """The first `size` bytes gzip holds in `data`, from its first 4 kB inflated; b"" where
    `data` is no gzip, or one that cannot be inflated (to say what a gzipped body holds)."""
    if data[:2] != b"\x1f\x8b":
        return b""
    try:
        return zlib.decompressobj(wbits=31).decompress(data[:4096], size)
    except zlib.error:
        return b""


_DATA_URL = re.compile(rb"data:[\w.+-]*(?:/[\w.+-]*)?;base64,", re.IGNORECASE)
_URL_SAFE = bytes.maketrans(b"-_", b"+/")


def base64_head(data: bytes) -> tuple[bytes, bool] | None:
    """The first 12 bytes that `data` decodes to where it is base64 text (the URL-safe
    alphabet's - and _ read as + and /), and whether it is written as a data: URL; None
    where its first 16 characters are no base64. What a file sent as text is, by its
    signature (the one-image route's pictures, the batch route's arrays)."""
    text = data.lstrip(BLANK)
    url = _DATA_URL.match(text)
    if url:
        text = text[url.end():]
    try:
        return b64decode(text[:16].translate(_URL_SAFE), validate=True), url is not None
    except (binascii.Error, ValueError):
        return None


def torch_pickle(name: str) -> bool:
    """Whether a zip member is the pickle of a torch.save file (`archive/data.pkl`, or
    `data.pkl` in older files), which a PyTorch user sends first."""
    return name == "data.pkl" or name.endswith("/data.pkl")


PNG_IHDR = struct.Struct(">8sI4sII")  # signature, chunk length (13), b"IHDR", width, height
PNG_CHUNK = struct.Struct(">I4s")  # length, type; then the data and a 4-byte CRC


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each whole chunk of a PNG after its signature, up to IEND; it
    stops before a chunk that runs past the end of `data`."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = PNG_CHUNK.unpack_from(data, pos)
        end = pos + 12 + length
        if end > len(data):
            return
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end


# What a PNG may hold to be decoded on the event loop: its pixels and nothing else, in a
# few chunks, 8 bits a sample at most, not interlaced (the page's drawings are IHDR, IDAT,
# IEND: 8-bit grey). A second review measured 9 ms for 5,000 empty IDAT chunks (Pillow
# walks them in Python) and 10 ms for a 16-bit RGBA 512x512 on the event loop.
PNG_PLAIN = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"})
PNG_PLAIN_CHUNKS = 16
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type: grey, RGB, palette, ...
PNG_FORM = struct.Struct(">BBBBB")  # bit depth, colour type, compression, filter, interlace


def plain_png_samples(data: bytes) -> int | None:
    """Width x height x channels of a PNG that holds its pixels alone (one IHDR first, then
    PLTE, tRNS, IDAT, IEND; at most PNG_PLAIN_CHUNKS chunks; at most 8 bits a sample; not
    interlaced; no side over MAX_SIDE), read from its chunks without Pillow; None for
    anything else. A palette with transparency counts two channels, as it is read as grey
    and alpha (a third review: a 1x262144 one took 10 ms). This decides
    what may be decoded inline, so it opens nothing: Pillow reads metadata as it opens a
    file, inflating a PNG's compressed chunks and parsing EXIF, which reviews made cost
    77 to 160 ms in 64 kB (chunks before the header, a second header, 5,000 EXIF tags in a
    JPEG). Anything else is decoded off the event loop, where decode() checks all of it."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < PNG_IHDR.size + PNG_FORM.size:
        return None
    _, length, kind, width, height = PNG_IHDR.unpack_from(data)
    depth, colour, _, _, interlace = PNG_FORM.unpack_from(data, PNG_IHDR.size)
    if (length != 13 or kind != b"IHDR" or depth > 8 or interlace or colour not in PNG_CHANNELS
            or max(width, height) > MAX_SIDE):
        return None
    channels = PNG_CHANNELS[colour]
    for count, (kind, _, _) in enumerate(_png_chunks(data), 1):
        if count > PNG_PLAIN_CHUNKS or kind not in PNG_PLAIN or (kind == b"IHDR" and count > 1):
            return None
        if kind == b"tRNS" and colour == 3:
            channels = 2
        if kind == b"IEND":
            return int(width) * int(height) * channels
    return None  # cut short: decoded off the loop, where it is called truncated


# A PNG's chunks that its pixels need, with its EXIF (orientation) and an APNG's frames. The
# rest is metadata the networks never see, and Pillow inflates each compressed one as it
# reads the file: text (64 MB in all before it stops) and colour profiles, repeated without
# any total (found by a review: 60 zTXt chunks in a 64 kB PNG cost 150 ms and 62 MB, 200
# iCCP chunks in 59 kB 100 ms). They are dropped before Pillow sees the file. (A PNG that
# keeps its EXIF in a text chunk, as ImageMagick writes it, loses its orientation.)
PNG_KEPT = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"eXIf",
                      b"acTL", b"fcTL", b"fdAT"})


def essential_png(data: bytes) -> bytes:
    """The PNG `data` with only the PNG_KEPT chunks, in their order, and its first IHDR
    alone; `data` itself when it has no other (the page's drawings). What cannot be walked
    (a chunk running past the end) is left as it is, for Pillow to call truncated."""
    dropped, rest = False, len(PNG_SIGNATURE)  # where the chunks walked end
    kept: list[tuple[int, int]] = []  # (start, end) of each chunk kept
    for kind, start, end in _png_chunks(data):
        # a second header too: Pillow would decode by the last (found by a review: 1x1,
        # then 4096x4096, decoded inline in 160 ms before plain_png_samples refused it)
        if kind in PNG_KEPT and not (kind == b"IHDR" and kept):
            kept.append((start, end))
        else:
            dropped = True
        rest = end
    if not dropped:
        return data
    return data[:len(PNG_SIGNATURE)] + b"".join(data[a:b] for a, b in kept) + data[rest:]


# Adam7's passes: (first column, first row, column step, row step)
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2))
INFLATE_STEP = 1 << 20  # bytes of rows inflated at a time by png_rows_short, and dropped


def png_rows_short(data: bytes) -> bool:
    """Whether a PNG's image data (its IDAT chunks) ends, as a whole deflate stream, before
    its last row. Pillow fills the rows that are missing with black and says nothing: an
    API review's 7 with its last 32 of 112 rows left out read as a 2, where a file cut
    inside a chunk is called truncated. The rows are inflated and counted, not kept; False
    for anything else (a stream cut short or broken, a form Pillow refuses: its own
    errors say so)."""
    if len(data) < PNG_IHDR.size + PNG_FORM.size:
        return False
    _, _, _, width, height = PNG_IHDR.unpack_from(data)
    depth, colour, _, _, interlace = PNG_FORM.unpack_from(data, PNG_IHDR.size)
    if colour not in PNG_CHANNELS or interlace not in (0, 1):
        return False
    bits = depth * PNG_CHANNELS[colour]
    size = 0  # each row of each pass: its filter byte, then its samples
    for x0, y0, dx, dy in ADAM7 if interlace else ((0, 0, 1, 1),):
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            size += rows * (1 + (cols * bits + 7) // 8)
    inflate = zlib.decompressobj()
    got = 0
    view = memoryview(data)
    try:
        for kind, start, end in _png_chunks(data):
            if kind != b"IDAT":
                continue
            tail: bytes | memoryview = view[start + 8:end - 4]
            while tail and got < size and not inflate.eof:
                got += len(inflate.decompress(tail, min(size - got, INFLATE_STEP)))
                tail = inflate.unconsumed_tail
            if got >= size or inflate.eof:
                break
    except zlib.error:
        return False
    return inflate.eof and got < size


GREY_FORM = (8, 0, 0, 0, 0)  # 8 bits, grey, deflate, the one filter method, not interlaced
NO_FILTER = 0  # a row's first byte: the row is stored as it is


def grey_png(data: bytes) -> np.ndarray | None:
    """The samples (H, W) uint8 of a PNG that is an 8-bit grey image and nothing else, all
    its rows stored unfiltered: the page's drawings, which png.js writes so. None for any
    other PNG, or one with a fault (a bad CRC, too little or too much data), which Pillow
    then decodes or refuses as before. Pillow took 0.05 to 0.1 ms for a 112x112 drawing,
    opening the file in Python; this is one inflate and a view (docs/speed.md)."""
    return _unfiltered(grey_png_rows(data))


def _unfiltered(rows: np.ndarray | None) -> np.ndarray | None:
    """The samples of `rows` (grey_png_rows') where every row is stored unfiltered, else
    None."""
    if rows is None or np.count_nonzero(rows[:, 0] != NO_FILTER):
        return None
    samples: np.ndarray = rows[:, 1:]
    return samples


def grey_png_rows(data: bytes) -> np.ndarray | None:
    """The rows (H, W + 1) uint8 of a PNG that is an 8-bit grey image and nothing else, each
    its filter byte and its samples, all there (so png_rows_short need not count them
    again); None for any other PNG, or one with a fault."""
    if len(data) < PNG_IHDR.size + PNG_FORM.size:
        return None
    signature, length, kind, width, height = PNG_IHDR.unpack_from(data)
    if (signature != PNG_SIGNATURE or length != 13 or kind != b"IHDR"
            or PNG_FORM.unpack_from(data, PNG_IHDR.size) != GREY_FORM
            or not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE)):
        return None
    size = height * (width + 1)  # each row: its filter byte, then its samples
    inflate = zlib.decompressobj()
    raw = bytearray()
    ended = False
    for count, (kind, start, end) in enumerate(_png_chunks(data)):
        body = data[start + 8:end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[end - 4:end], "big"):
            return None
        if kind == b"IDAT" and count:
            try:  # a byte more than the rows hold at most: a bomb is not inflated
                raw += inflate.decompress(body, size + 1 - len(raw))  # in place: many
                # small IDAT chunks would copy the rows so far each time
            except zlib.error:
                return None
            if len(raw) > size:
                return None
        elif kind == b"IEND" and count:
            ended = end == len(data)
        elif count:  # a chunk of any other kind, or a second header
            return None
    if not ended or not inflate.eof or inflate.unused_data or len(raw) != size:
        return None
    rows: np.ndarray = np.frombuffer(raw, dtype=np.uint8).reshape(height, width + 1)
    return rows


def jpeg_segments(data: bytes, limit: int = MAX_JPEG_SEGMENTS) -> int:
    """How many steps Pillow's reader takes through a JPEG's bytes before its first scan (a
    marker segment, a fill byte, an escaped FF 00 or a stray byte each), counted no further
    than `limit` + 1, walked as JpegImagePlugin walks them (a review: a walk of markers alone
    stopped at stray bytes between segments, or took FF 00 for a length, which Pillow reads
    a step at a time). What cannot be walked ends the count, for Pillow to judge."""
    pos, count = 2, 0
    while count <= limit and pos + 1 < len(data):
        count += 1
        if data[pos] != 0xFF:  # a stray byte
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan
            break
        if marker == 0xFF:  # a fill byte before a marker
            pos += 1
        elif marker == 0x00:  # an escaped FF out of place
            pos += 2
        elif (kind := JPEG_MARKERS.get(0xFF00 | marker)) is None:
            break  # no marker Pillow knows: it stops there
        elif kind[2] is None:  # a marker without a length (RSTn, SOI, EOI, ...)
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return count


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode image bytes into light-on-dark grey levels (H, W) float32 in 0..1.

    The pixel count is checked from the header, before any pixel is decoded.
    """
    if not data:
        raise EmptyBody(f"empty body: send a {ACCEPTED_TEXT} image")
    kind = sniff(data)
    corrupt = f"{kind or 'image'} data is truncated or corrupt"
    if kind == "PNG":
        data = essential_png(data)
        rows = grey_png_rows(data)
        samples = _unfiltered(rows)
        if samples is not None and samples.size <= max_pixels:
            # as _ink reads a frame of mode L
            return invert_if_light(samples.astype(np.float32) / 255.0)
    else:
        rows = None
    if kind == "JPEG" and jpeg_segments(data) > MAX_JPEG_SEGMENTS:
        raise ImageTooLarge(f"JPEG has over {MAX_JPEG_SEGMENTS:,} segments before its image data; "
                            "at most that many are read (cameras write about 10)")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError as exc:
        if kind is not None:
            raise CorruptImage(corrupt) from exc
        raise InvalidImage(f"not an image this server reads: send a {ACCEPTED_TEXT}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise CorruptImage(corrupt) from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptImage(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,} "
            "(FEATUREMAPS_MAX_IMAGE_PIXELS): the networks see 28x28 pixels, so an image scaled "
            "down loses nothing"  # what to do, as the upload limit's 413 says (an API review)
        )
    if kind == "JPEG":  # by its bytes: Pillow calls one with an MPF segment "MPO"
        # a scan starts with the SOS marker, FF DA, which entropy-coded data never holds
        # (an FF there is followed by 00 or a restart marker); one in a metadata segment
        # would count too, harmlessly at this limit
        scans = data.count(b"\xff\xda")
        if scans > MAX_JPEG_SCANS:
            raise ImageTooLarge(f"JPEG has {scans:,} scans; at most {MAX_JPEG_SCANS} are decoded "
                                "(encoders write 6 to 12)")
    try:
        frame = next(iter(ImageSequence.Iterator(image)))  # first frame of a GIF/WebP
        frame.load()
        if frame.mode in ("P", "PA") and frame.palette is None:
            # a PNG of colour type 3 without its PLTE chunk, which the format requires:
            # Pillow's conversions assert a palette (an AssertionError, a 500; a review)
            raise CorruptImage(f"{kind or 'image'} is corrupt: its pixels index a palette it "
                               "does not hold")
        grey = _ink(_upright(frame))
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError,
            Image.DecompressionBombError) as exc:
        raise CorruptImage(corrupt) from exc
    # once Pillow has read it, so that what it refuses at once costs no inflate (a review:
    # 155 ms for a 4096x4096 PNG of bad filters); rows read whole above (a grey PNG whose
    # rows are filtered) are not counted again
    if kind == "PNG" and rows is None and png_rows_short(data):
        raise CorruptImage(f"{corrupt}: its pixels stop before the last of its {height:,} rows")
    return grey


# how a frame stored with EXIF orientation 2..8 is turned to be shown as its camera meant
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


def _upright(frame: Image.Image) -> Image.Image:
    """A phone's photo is stored sideways with a tag that says how to show it. Only the
    pixels are turned: ImageOps.exif_transpose also writes the EXIF block back out, and a
    block with one other tag of the wrong type made that raise (TypeError, a 500, or
    struct.error, which called a good picture corrupt). Metadata that cannot be read is
    ignored, as a viewer would: the pixels are what the networks see."""
    if "exif" not in frame.info:
        return frame
    try:
        orientation = frame.getexif().get(EXIF_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError,
            TypeError, AttributeError):
        return frame
    how = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return frame if how is None else frame.transpose(how)


def _shrink(frame: Image.Image) -> Image.Image:
    """Frames larger than MAX_SIDE are box-reduced in Pillow's C code first, so the float work
    that follows stays small (the model sees a 20 px box; 512 px keeps plenty of detail)."""
    if max(frame.size) <= MAX_SIDE:
        return frame
    if frame.mode.startswith("I;16"):
        frame = frame.convert("I")
    elif frame.mode == "P":
        frame = frame.convert("RGBA" if "transparency" in frame.info else "RGB")
    elif frame.mode == "1":
        frame = frame.convert("L")
    return frame.reduce(math.ceil(max(frame.size) / MAX_SIDE))


def _ink(frame: Image.Image) -> np.ndarray:
    """Ink intensity 0..1 of a decoded frame, light ink on dark."""
    frame = _shrink(frame)
    if frame.mode.startswith("I"):  # 16-bit greyscale: Pillow's convert("L") would clip
        grey = np.asarray(frame, dtype=np.float32) / 65535.0
        return invert_if_light(np.clip(grey, 0.0, 1.0))
    if frame.mode == "F":
        grey = np.asarray(frame, dtype=np.float32)
        peak = float(grey.max()) if grey.size else 0.0
        return invert_if_light(np.clip(grey / (255.0 if peak > 1.0 else 1.0), 0.0, 1.0))
    has_alpha = frame.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        frame.mode == "P" and "transparency" in frame.info
    )
    if has_alpha:
        la = frame.convert("LA")
        alpha = np.asarray(la.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 1.0:
            return _ink_with_alpha(np.asarray(la.getchannel("L"), dtype=np.float32) / 255.0,
                                   alpha)
        frame = frame.convert("RGB")
    if frame.mode != "L":  # the page's drawings are already greyscale: no copy for them
        frame = frame.convert("L")
    grey = np.asarray(frame, dtype=np.float32) / 255.0
    return invert_if_light(grey)


def _ink_with_alpha(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Ink of an image with transparency. Strokes on a transparent sheet are all one colour
    where they are opaque: the ink is the opacity, whatever that colour. A picture that holds
    its own paper and ink (light and dark where it is opaque) with some transparent pixels
    (a margin, a corner, an alpha of 254 everywhere) is laid on its paper's colour and read
    as any picture: opacity alone would make all of it ink. The sheet's own opacity, its
    most transparent pixel's, is taken off (an API review: one colour at half opacity
    everywhere was a square of ink, where all of it opaque was blank), the rest stretched
    back to 0..1, so that a sheet tinted through reads as its strokes. Not by its border, as
    a picture's paper is: a stroke cropped to its own edges has a border mostly opaque, and
    was read as a hole in an opaque sheet (a review of that first mend)."""
    opaque = grey[alpha >= 0.5]
    if opaque.size:
        lo, hi = np.percentile(opaque, [0.5, 99.5])
        if hi - lo > 0.5:
            paper = np.float32(np.median(opaque))
            return invert_if_light(grey * alpha + paper * (np.float32(1.0) - alpha))
    # the sheet's level, under 1: this picture has a transparent pixel
    return _paper_off(alpha, alpha.dtype.type(alpha.min()), invert=False)


def invert_if_light(grey: np.ndarray, *, sheets: bool = True) -> np.ndarray:
    """Ink on MNIST's scale, 0 for the paper: dark ink on a light background (paper, a white
    canvas) is inverted to MNIST's polarity, and the background's own level (its border's
    median) is taken off, the rest stretched back to 0..1. A photo's grey paper (200 of 255)
    was otherwise ink everywhere: nothing was cropped, and max and avg read a black 7 on it
    as an 8 (found by an API review). A background lighter than mid-grey is light paper;
    where that leaves no ink, the other way round is tried: black ink on paper darker than
    mid-grey (a dimly lit photo, paper at 125), or chalk on a board lighter than it, was
    clipped away, a blank answered with a confident digit (a later API review). Choosing by
    the side the picture reaches further read one glint on grey paper as the ink (a review
    of that). `sheets`: a sheet lying inside the border is looked for (_inside_sheet)."""
    border = np.sort(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]))
    n = len(border)
    # np.median's value, 5x faster: the mean of the middle two in the array's own precision
    # (in float64, 127/255 and 128/255 would average just above 0.5 and invert the image)
    median = border.dtype.type((border[(n - 1) // 2] + border[n // 2]) / border.dtype.type(2))
    light = bool(median > 0.5)
    bar = INK_THRESHOLD * max(median, 1 - median)  # how far ink differs from the paper
    # a border of one level (the page's black, MNIST's own digits) is paper of that level
    paper = (median if border[0] == border[-1] or min(grey.shape) < PLANE_SIDE
             else _lit_paper(grey, median, bar))
    # a border not all at 0 (the page's black paper, MNIST's) may hold a sheet of its own
    if sheets and border[-1] > 0:
        inside = _inside_sheet(grey, paper, median, bar)
        if inside is not None:
            return inside
    ink = _paper_off(grey, paper, invert=light)
    if min(grey.shape) >= SHADE_SIDE and border[0] != border[-1]:
        shaded = _shaded(grey, ink, light, bar)
        if shaded is not None:
            return shaded
    # the other way round is held to this way's bar: ink differs from the paper by more than
    # INK_THRESHOLD of the paper's distance from the far end (this way's stretch, 1 to 2
    # times). Judged after its own stretch, which divides by the paper's distance from the
    # near end, on paper at 254 a line at 255 was full ink, and a photo of an empty page at
    # 240, its sensor's noise of a few levels, a confident digit (an API review); judged by
    # 26 levels, pencil 22 levels under paper at 127 was lost where at 128 it was read
    # (a review of that)
    if 0 < median < 1 and not (ink > INK_THRESHOLD).any():
        stands_out = grey - paper if light else paper - grey
        if (stands_out > bar).any():
            return _paper_off(grey, paper, invert=not light)
    return ink


SHEET_SPAN = 1 / 3  # of each side of the picture, that a sheet spans at least
SHEET_FILL = 0.75  # of its bounding box, that a sheet's own level covers
SHEET_INSET = 0.01  # of each side of a sheet, left out with its edge
SHEET_TURN = 0.1  # of each side of its box, how far in a sheet's first whole line may lie
SHEET_WHOLE = 0.99  # of a line, that a sheet covers where the line is whole


def _whole_lines(box: np.ndarray) -> tuple[int, int, int, int] | None:
    """How far in from the top, bottom, left and right of `box` (what differs from the
    border, in its bounding box) lies the first line that crosses the sheet whole, within
    SHEET_TURN of the side: a line it covers for SHEET_WHOLE of the most any line across
    covers, which is EDGE_BAND of its length or more. A sheet square to the picture covers
    its box's every line; one turned by a few degrees (a page photographed a little askew:
    a review found one turned by a degree not found) is cut at both ends of every line by
    the corners of the box, and whole only below its corners' reach. None where a side has
    no such line."""
    found = []
    for lines in (box, box.T):
        across = np.count_nonzero(lines, axis=1)
        most = int(across.max())
        if most < EDGE_BAND * lines.shape[1]:
            return None
        near = math.ceil(len(lines) * SHEET_TURN)
        for ends in (across[:near], across[::-1][:near]):
            whole = np.flatnonzero(ends >= SHEET_WHOLE * most)
            if whole.size == 0:
                return None
            found.append(int(whole[0]))
    return found[0], found[1], found[2], found[3]


def _inside_sheet(grey: np.ndarray, paper: np.ndarray | np.floating[Any],
                  median: np.floating[Any], bar: np.floating[Any]) -> np.ndarray | None:
    """The ink of what lies on a sheet that the picture's border is not: a page photographed
    on a table, a white canvas in a dark app's window (or a black one in a light app's).
    The border's level was taken for the paper: on a darker table the sheet became one block
    of ink and the digit holes in it, which every network misread (a review of uploads: 11
    of 100 digits right), and on a lighter one than mid-grey only the digit's darkest core
    was ink. Where what differs from the border's `paper` by more than `bar` (the sheet, and
    the digit on it) fills SHEET_FILL of its bounding box, which spans SHEET_SPAN of each
    side and stays clear of every edge, the box from its first whole lines (_whole_lines),
    less SHEET_INSET of each side, is prepared as a picture of its own, blank for an empty
    sheet; None where there is no such block, or where what lies on it is nearly all of
    the border's own level (EDGE_BAND of it within a quarter of `bar` of `median`; a
    digit's strokes spread over many levels): a bold digit drawn as blocks (a thick 8 of
    two rectangles, a square 0), the paper showing through its holes (a review found such
    digits read as their holes)."""
    mask = np.abs(grey - paper) > bar
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    h, w = mask.shape
    # the border all round is what the sheet lies on: a digit cropped close reaches it, and
    # a thick one fills most of its box
    if top == 0 or left == 0 or bottom == h or right == w:
        return None
    if bottom - top < SHEET_SPAN * h or right - left < SHEET_SPAN * w:
        return None
    if np.count_nonzero(mask[top:bottom, left:right]) < SHEET_FILL * (bottom - top) * (
            right - left):
        return None
    # and straight edges: near each side of the box, a line that is the sheet's whole, where
    # a bold digit's box (a thick 8 fills 0.75 to 0.88 of it) meets the digit's curves in a
    # few points; a page a little turned reaches its first whole line further in
    whole = _whole_lines(mask[top:bottom, left:right])
    if whole is None:
        return None
    dy, dx = math.ceil((bottom - top) * SHEET_INSET), math.ceil((right - left) * SHEET_INSET)
    sheet = grey[top + whole[0] + dy:bottom - whole[1] - dy,
                 left + whole[2] + dx:right - whole[3] - dx]
    if min(sheet.shape) < PLANE_SIDE:
        return None
    on_it = invert_if_light(sheet, sheets=False)  # all 0 for an empty sheet
    strong = sheet[on_it > 0.5]
    if strong.size and np.count_nonzero(np.abs(strong - median) <= bar / 4) >= (
            EDGE_BAND * strong.size):
        return None
    return on_it


def _lit_paper(grey: np.ndarray, median: np.floating[Any], bar: np.floating[Any]
               ) -> np.ndarray | np.floating[Any]:
    """The paper's level under each pixel: a plane where light falls off across the page,
    else the border's `median`. A photo lit more from one side (paper 60 levels darker on
    the left than the right) had its darker side read as ink, and a digit in the middle of
    such a page shrank to a few pixels (scripts/photo_check.py). The plane goes through the
    median and tilts by the difference of the medians of opposite sides. It is used where it
    tilts by more than `bar` in all, and where PAPER_ON_PLANE of each side lies within `bar`
    of it, as an even fall of light puts them: a digit cropped close (half of a side ink), or
    a dark band along one edge (a shadow), leaves the paper flat."""
    sides = (grey[0], grey[-1], grey[:, 0], grey[:, -1])
    t, b, left, r = (np.median(side) for side in sides)
    across, down = r - left, b - t
    if abs(across) + abs(down) <= bar:
        return median
    h, w = grey.shape
    x = np.linspace(-0.5, 0.5, w, dtype=grey.dtype)
    y = np.linspace(-0.5, 0.5, h, dtype=grey.dtype)
    lying = (median + across * x - down / 2, median + across * x + down / 2,
             median - across / 2 + down * y, median + across / 2 + down * y)
    if any((np.abs(side - on) <= bar).mean() < PAPER_ON_PLANE
           for side, on in zip(sides, lying, strict=True)):
        return median
    plane: np.ndarray = np.clip(median + across * x + down * y[:, None], 0, 1).astype(grey.dtype)
    return plane


SHADE_SIDE = 64  # px: in a smaller picture the paper's level is not fitted cell by cell
SHADE_BORDER = 0.1  # of the border, that ink may cover before the paper is fitted
SHADE_GRID = 48  # cells across the longer side, at most, that the paper is fitted on
SHADE_REACH = 0.06  # of the longer side: how far each cell's fit reaches (a Gaussian's sigma)
SHADE_INK = 0.7  # ink this strong (a pen's on its paper: 0.75 to 0.9) is a stroke's, not a shadow's
SHADE_START = 0.25  # of the cells, that the paper's own level must leave without ink
SHADE_PAPER = 0.5  # of the cells, that must be paper once fitted
SHADE_PASSES = 8  # fits, each taking in the cells near the one before (64 cells read the
# same digits as 48, in 2 to 3 times as long)


def _border_ink(mask: np.ndarray) -> float:
    """The share of a picture's border that `mask` holds."""
    edges = (mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1])
    return sum(np.count_nonzero(e) for e in edges) / sum(e.size for e in edges)


def _shaded(grey: np.ndarray, ink: np.ndarray, light: bool, bar: np.floating[Any]
            ) -> np.ndarray | None:
    """The ink of a photo whose paper lies partly in a shadow, taken off a paper level
    fitted cell by cell (_fitted_paper); None where the paper's own level does: where the
    ink left with it covers under SHADE_BORDER of the border once a band that a line of
    paper parts from the rest is left out, as mnist_style leaves it (a shadow along an
    edge, the table beyond a page), or where the fitted paper does no better. Found by a
    student's review: a phone photo's soft shadow in a corner read as a bright wedge beside
    a small 3; with photo_check's shadow from a corner, max and avg read 66/31 of 100
    right (5/15 in a page twice the digit's width), and 100/100 (100/100) with the fit."""
    def left(ink: np.ndarray) -> float:
        mask = ink > INK_THRESHOLD
        share = _border_ink(mask)
        if share < SHADE_BORDER:  # (leaving bands out only lowers it)
            return share
        return _border_ink(_without_edge_bands(ink, mask)[1])

    if left(ink) < SHADE_BORDER:
        return None
    paper = _fitted_paper(grey, ink, light, bar)
    if paper is None:
        return None
    fitted = _paper_off(grey, paper, invert=light)
    return fitted if left(fitted) < SHADE_BORDER else None


def _gaussian(n: int, sigma: float) -> np.ndarray:
    i = np.arange(n, dtype=np.float64)
    weights: np.ndarray = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return weights


def _fitted_paper(grey: np.ndarray, ink: np.ndarray, light: bool, bar: np.floating[Any]
                  ) -> np.ndarray | None:
    """The paper's level under each pixel, fitted on a grid of at most SHADE_GRID cells a
    side: at each cell, a quadratic fitted by least squares to the cells around it (weighted
    by a Gaussian of SHADE_REACH) that are taken for paper. Those are first the cells that
    the paper's own level leaves without `ink`; then, pass by pass (SHADE_PASSES), every
    cell within half the ink's `bar` of the last fit, never one whose `ink` is SHADE_INK
    or more. So the fit grows into a shadow, whose level falls gently from the paper's,
    and not into a stroke, which falls at once: starting from every cell, the fit followed
    a bold stroke as wide as its reach and hollowed it (a review: 38 of 300 digits cropped
    close on plain paper changed, a 4's stem read as a ring). A fitted surface, unlike a
    mean or a closing, is not pulled toward the middle at the picture's edges, where a
    shadow is darkest (a closing left a bright line along them); a quadratic, unlike a
    plane, follows where a shadow's edge begins and ends (a plane left a line of ink
    there). Bilinear between the cells. None where under SHADE_START of the cells are
    paper at first, or under SHADE_PAPER once fitted: a picture mostly of ink, whose paper
    no fit could find."""
    h, w = grey.shape
    f = -(-max(h, w) // SHADE_GRID)
    rows, cols = -(-h // f), -(-w // f)

    def means(a: np.ndarray) -> np.ndarray:
        blocks: np.ndarray = np.pad(a, ((0, rows * f - h), (0, cols * f - w)), mode="edge"
                                    ).reshape(rows, f, cols, f).mean(axis=(1, 3), dtype=np.float64)
        return blocks

    cells = means(grey)
    inked = means(ink)
    stroke = inked >= SHADE_INK
    sigma = SHADE_REACH * max(rows, cols)
    down, across = _gaussian(rows, sigma), _gaussian(cols, sigma)
    y, x = np.meshgrid((np.arange(rows) - rows / 2) / max(rows, cols),
                       (np.arange(cols) - cols / 2) / max(rows, cols), indexing="ij")
    terms = (np.ones_like(x), x, y, x * x, x * y, y * y)
    weight = (inked < INK_THRESHOLD).astype(np.float64)
    if np.count_nonzero(weight) < SHADE_START * weight.size:
        return None
    fit = cells
    n = len(terms)
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    products = [terms[i] * terms[j] for i, j in pairs]
    for _ in range(SHADE_PASSES):
        # the normal equations of each cell's fit, summed over its neighbours at once
        a = np.empty((*cells.shape, n, n))
        for (i, j), product in zip(pairs, products, strict=True):
            a[..., i, j] = a[..., j, i] = down @ (weight * product) @ across.T
        a += np.eye(n) * 1e-9
        b = np.stack([down @ (weight * t * cells) @ across.T for t in terms], -1)
        coef = np.linalg.solve(a, b[..., None])[..., 0]
        fit = sum(coef[..., k] * t for k, t in enumerate(terms))
        paper = (((fit - cells) if light else (cells - fit)) <= bar / 2) & ~stroke
        if np.count_nonzero(paper) < SHADE_PAPER * paper.size:
            return None
        if np.array_equal(paper, weight > 0):
            break
        weight = paper.astype(np.float64)
    level = Image.fromarray(fit.astype(np.float32), "F").resize(
        (cols * f, rows * f), Image.Resampling.BILINEAR)
    fitted: np.ndarray = np.clip(np.asarray(level)[:h, :w], 0, 1).astype(grey.dtype)
    return fitted


def _paper_off(grey: np.ndarray, paper: np.ndarray | np.floating[Any], *, invert: bool
               ) -> np.ndarray:
    """`grey` on paper of level `paper` (one level, or one under each pixel), inverted where
    `invert`, with the paper's level taken off and the rest stretched back to 0..1."""
    one = grey.dtype.type(1)
    if invert:
        grey, paper = one - grey, one - paper
    if not isinstance(paper, np.ndarray):
        if paper <= 0:  # black paper, as the page draws on: nothing to take off
            return np.ascontiguousarray(grey)
        scale = one - paper  # never 0: a sheet is under 1, a picture past mid-grey inverted
    else:  # a plane may reach the far end at a corner
        scale = np.maximum(one - paper, grey.dtype.type(1 / 255))
    ink: np.ndarray = np.clip((grey - paper) / scale, 0, 1).astype(grey.dtype, copy=False)
    return ink


MNIST_PEAK = 254 / 255  # the faintest darkest ink of MNIST's test digits
MAX_STRETCH = 3.0  # how much fainter ink is brightened, at most


def mnist_style(grey: np.ndarray) -> np.ndarray:
    """Crop, scale to a 20 px box and centre by mass in 28x28. (H, W) -> (28, 28) float32."""
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    mask = grey > INK_THRESHOLD
    if not mask.any():
        return out
    h, w = mask.shape
    large = min(h, w) >= SPECK_BLOCK * SIDE  # ruled lines and specks are looked for
    if large:  # ruled or squared paper: its lines reach two edges
        grey, mask = _without_rules(grey, mask)
        if not mask.any():
            return out
    if large and (  # count_nonzero: 3x faster than any()
            np.count_nonzero(grey[0]) or np.count_nonzero(grey[-1])
            or np.count_nonzero(grey[:, 0]) or np.count_nonzero(grey[:, -1])):
        grey, mask = _without_specks(grey, mask)
        if not mask.any():
            return out
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    edge = rows[0] == 0 or cols[0] == 0 or rows[-1] == h - 1 or cols[-1] == w - 1  # ink on one
    if edge:
        grey, mask = _without_edge_bands(grey, mask)
    kept = _without_strays(grey, mask) if max(h, w) > STRAY_SIDE else None
    if kept is not None:
        grey, mask = kept
    if edge or kept is not None:
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
    crop = grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h = max(1, min(BOX, round(h * scale)))
    new_w = max(1, min(BOX, round(w * scale)))
    small = np.clip(lanczos(np.clip(crop, 0.0, 1.0).astype(np.float32), new_w, new_h), 0.0, 1.0)
    # MNIST's darkest ink is 254 or 255 in every test digit: ink that never gets there (a
    # photo's pencil on grey paper, 118 of 255 once the paper is taken off, found by an API
    # review) is stretched to reach 255, as faint ink the networks never saw otherwise; an
    # MNIST digit prepared again keeps its pixels. At most 3 times: a smudge or noise just
    # over INK_THRESHOLD is not made into a digit of full ink
    peak = float(small.max())
    if 0.0 < peak < MNIST_PEAK:
        small /= np.float32(max(peak, 1 / MAX_STRETCH))
    mass = float(small.sum())
    if mass <= 0.0:
        return out
    ys, xs = np.indices(small.shape)
    cy = float((ys * small).sum()) / mass
    cx = float((xs * small).sum()) / mass
    # top-left so that the centre of mass sits where MNIST's do (CENTRE)
    top = _place(cy, new_h)
    left = _place(cx, new_w)
    out[top:top + new_h, left:left + new_w] = small
    return on_levels(out)


EDGE_BAND = 0.9  # a band along an edge covers this much of it
RULE_WIDTH = 0.02  # of the side across it, that a ruled line is at most (and 1 px at least)
RULES = 3  # ruled lines, evenly spaced, that make ruled paper: a digit's bars are fewer
RULES_EVEN = 0.15  # of the median gap between them, by which the gaps may differ


def _rules(lines: np.ndarray, side: int) -> list[tuple[int, int]]:
    """The runs [start, end) of True in `lines` (rows, or columns, that ink covers for
    EDGE_BAND of their length) that are ruled lines: each at most RULE_WIDTH of `side`
    thick, RULES of them or more, evenly spaced (RULES_EVEN); else none."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], lines.view(np.int8), [0]))))
    thin = max(1, int(RULE_WIDTH * side))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a <= thin]
    if len(runs) < RULES:
        return []
    gaps = np.diff([a for a, _ in runs])
    return runs if gaps.max() - gaps.min() <= RULES_EVEN * np.median(gaps) else []


def _without_rules(grey: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`grey` and its ink `mask` without the lines of ruled or squared paper. They reached
    the picture's edges, the crop took the whole picture, and the digit shrank to a few
    pixels among them (in a page twice the digit's width, 44 and 25 of 100 read right by
    max and avg on ruled paper, 47 and 32 on squared: scripts/photo_check.py). Lines that
    cross the picture (ink over EDGE_BAND of a row or column), thin (RULE_WIDTH) and evenly
    spaced, RULES of them or more, are taken for the paper's: along each, only the ink that
    lies on both sides of it stays (a stroke that crosses the line). A digit's own bars,
    fewer and not evenly spaced, stay as drawn."""
    for axis in (0, 1):
        # lines across reach both edges they run between: the page's drawings, framed in
        # its black paper, are never looked at further
        ends = (mask[:, 0], mask[:, -1]) if axis == 0 else (mask[0], mask[-1])
        if not (np.count_nonzero(ends[0]) and np.count_nonzero(ends[1])):
            continue
        lines = np.count_nonzero(mask, axis=1 - axis) >= EDGE_BAND * mask.shape[1 - axis]
        runs = _rules(lines, mask.shape[axis])
        if not runs:
            continue
        grey, mask = np.array(grey, copy=True), np.array(mask, copy=True)
        along = grey if axis == 0 else grey.T  # a view: rows of one, or columns
        ink = mask if axis == 0 else mask.T
        for a, b in runs:
            before = along[a - 1] if a > 0 else np.zeros_like(along[0])
            after = along[b] if b < len(along) else np.zeros_like(along[0])
            along[a:b] = np.minimum(before, after)
            ink[a:b] = along[a:b] > INK_THRESHOLD
    return grey, mask


def _without_edge_bands(grey: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`grey` and its ink `mask` without a band of ink along an edge that a line of paper
    parts from the rest of the ink: a shadow, or the table beyond the page's edge, in a
    photo. The crop took it in, and a digit in the middle of the page shrank to a few pixels
    (scripts/photo_check.py). A band covers EDGE_BAND of its edge's outermost line, and a
    line of paper within the half of the picture next to that edge ends it; the ink beyond
    is no speck (it spans an eighth of the picture's shorter side) and stops short of the
    opposite edge, as a digit in a photo does. Ink that reaches no such line stays (a 7
    cropped to its bar), as does ink that is all there is, or beside a mere dot (a 1 along
    the picture's edge), and a stroke apart from a digit cropped close (a 5's flag, a 7's
    bar: the rest of the digit reaches the opposite edge)."""
    for _ in range(4):  # each edge in turn, the picture turned a quarter each time
        if np.count_nonzero(mask[0]) >= EDGE_BAND * len(mask[0]):
            gaps = np.flatnonzero(~mask[:len(mask) // 2].any(axis=1))
            if gaps.size and not mask[-1].any():
                beyond = mask[gaps[0]:]
                rows = np.flatnonzero(beyond.any(axis=1))
                cols = np.flatnonzero(beyond.any(axis=0))
                if rows.size and max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= min(
                        mask.shape) / 8:
                    grey, mask = grey.copy(), mask.copy()
                    grey[:gaps[0]] = 0
                    mask[:gaps[0]] = False
        grey, mask = np.rot90(grey), np.rot90(mask)
    return np.ascontiguousarray(grey), mask


STRAY_SIDE = 128  # px: only pictures wider or taller are looked at for stray marks
STRAY_GRID = 64  # blocks across the shorter side at most, in which the ink's pieces are found
STRAY_MASS = 0.1  # of the largest piece's ink, under which a piece or a group is small
STRAY_SPAN = 1 / 3  # of the larger pieces' box's longer side, that a small mark spans at most
STRAY_FAINT = 0.02  # of the largest group's ink, under which a mark of any span is stray
STRAY_GAP = 0.2  # of the larger pieces' box's longer side, that a stray mark lies further off
STRAY_PASSES = 64  # label passes at most: ink that needs more is left as it is


def _without_strays(grey: np.ndarray, mask: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """`grey` and its ink `mask` without stray marks far from the digit (a dot, a faint
    scribble in the margin of a photo or scan), or None where there are none. The crop took
    them in and the digit shrank and moved: in a page twice the digit's width, a dot near a
    corner left 97 and 94 of 100 read right by max and avg, a scribble down the margin 93
    and 93 (scripts/photo_check.py). The ink is split into pieces that touch, on a grid of
    blocks (at most STRAY_GRID across the shorter side: a gap narrower than a block does
    not part a stroke). The box of the larger pieces (STRAY_MASS of the largest one's ink
    or more) sets how far a mark must lie to be stray: STRAY_GAP of its longer side. Pieces
    about that near each other are grouped, one after the other, so that a stroke drawn in
    dashes (a pen running dry, a faint photo: a review found a 9's stem in dashes dropped,
    and the 9 read as a 0) stays with the digit it leads from; a group with under
    STRAY_MASS of the largest group's ink, lying further than that from the larger pieces'
    box, and spanning under STRAY_SPAN of that box's longer side (or, a faint scribble,
    with under STRAY_FAINT of the largest group's ink whatever its span), is taken for
    paper. A speck inside the digit's box stays, as do two digits side by side, a thin 1
    beside a bold digit and a smaller second digit (a review found a fine pen's 1 beside a
    3, and a half-size second digit, dropped by the rule of ink alone).
    Only pictures over STRAY_SIDE px on a side, once shrunk to MAX_SIDE, are looked at (a
    strip of 600x200 too: a review found such strips left out); the page's drawings (112 px)
    are not, and pay nothing. Ink whose pieces take more than STRAY_PASSES to label (a spiral
    drawn to slow this down) is left as it is."""
    h, w = mask.shape
    f = -(-min(h, w) // STRAY_GRID)  # px a block: the shorter side in STRAY_GRID at most
    ink = _block_sums(grey * mask, f)
    inked = ink > 0
    labels = _pieces(inked)
    if labels is None:
        return None
    masses = np.bincount(labels[inked], weights=ink[inked])
    if np.count_nonzero(masses) < 2:
        return None
    ys, xs = np.nonzero(inked & np.isin(labels, np.flatnonzero(masses >= STRAY_MASS
                                                                * masses.max())))
    top, left, bottom, right = ys.min(), xs.min(), ys.max(), xs.max()  # the larger pieces'
    side = max(bottom - top, right - left)
    far = STRAY_GAP * side
    groups = _pieces(_grown(inked, int(far / 2))) if far >= 2 else labels
    if groups is None:
        return None
    weights = np.bincount(groups[inked], weights=ink[inked])
    # each group's box, by its label: its top, left, bottom and right, in blocks
    ys, xs = np.nonzero(inked)
    group = groups[ys, xs]
    boxes = np.zeros((4, weights.size), np.int64)
    boxes[:2] = groups.size
    for row, at, reduce in ((0, ys, np.minimum), (1, xs, np.minimum),
                            (2, ys, np.maximum), (3, xs, np.maximum)):
        reduce.at(boxes[row], group, at)
    gap = np.maximum.reduce([boxes[0] - bottom, top - boxes[2], boxes[1] - right, left - boxes[3]])
    span = np.maximum(boxes[2] - boxes[0], boxes[3] - boxes[1])
    small = (weights < STRAY_MASS * weights.max()) & (span < STRAY_SPAN * side)
    stray = np.flatnonzero((weights > 0) & (gap > far)
                           & (small | (weights < STRAY_FAINT * weights.max())))
    if not stray.size:
        return None
    keep = np.repeat(np.repeat(~np.isin(groups, stray), f, axis=0), f, axis=1)[:h, :w]
    return np.where(keep, grey, grey.dtype.type(0)), mask & keep


def _block_sums(a: np.ndarray, f: int) -> np.ndarray:
    """`a` summed over blocks `f` px a side, its last rows and columns in a block of their
    own, padded with 0."""
    h, w = a.shape
    padded = np.pad(a, ((0, -h % f), (0, -w % f)))
    sums: np.ndarray = padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).sum(
        axis=(1, 3))
    return sums


def _grown(cells: np.ndarray, reach: int) -> np.ndarray:
    """`cells` with every cell within `reach` of a True one (across rows and columns
    alike) True too."""
    out = cells.copy()
    for axis in (0, 1):
        row = out.copy()
        for k in range(1, reach + 1):
            if axis == 0:
                out[k:] |= row[:-k]
                out[:-k] |= row[k:]
            else:
                out[:, k:] |= row[:, :-k]
                out[:, :-k] |= row[:, k:]
    return out


def _pieces(inked: np.ndarray) -> np.ndarray | None:
    """Each cell of `inked` labelled by the piece it belongs to (cells that touch, across
    a corner too, are one piece): the lowest index of its cells, in the flattened grid;
    cells not inked hold the grid's size. Labels spread to each cell's neighbours, and a
    cell then takes its label's own label, which halves the steps again and again; None
    where STRAY_PASSES of these do not settle every label."""
    n = inked.size
    labels = np.where(inked, np.arange(n).reshape(inked.shape), n)
    h, w = labels.shape
    for _ in range(STRAY_PASSES):
        edged = np.pad(labels, 1, constant_values=n)
        low = labels.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.minimum(low, edged[dy:dy + h, dx:dx + w], out=low)
        # an inked cell's label is an inked cell's index, whose own label it then takes
        flat = np.append(low.ravel(), n)  # the grid's size: no piece
        low = np.where(inked, flat[low], n)
        if np.array_equal(low, labels):
            return labels
        labels = low
    return None


SPECK_BLOCK = 4  # px: ink that no block this wide holds on average is a speck (_without_specks)
QUIET_PAPER = INK_THRESHOLD / 10  # a paper's median block under this: its noise makes no specks


def _without_specks(grey: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`grey` and its ink `mask` without the specks of a noisy photo's paper. Noise of 10
    to 16 levels in a phone's JPEG left pixels over INK_THRESHOLD all over the page; the
    crop took them in, and a digit in the middle of the page shrank (max read 43 to 52 of
    100; scripts/photo_check.py), an empty page was a tiny digit, and no line of paper
    parted a shadow along an edge from a digit filling the picture. The ink is averaged over blocks
    SPECK_BLOCK px wide, which quarters such noise and keeps a 1 px line of full ink over
    the bar; what lies a block or more from every block that clears the bar above the
    paper's median block is taken for paper, and with no such block the picture is blank.
    The paper's blocks are those under the bar: a bold digit cropped close fills over half
    of them, and with the median of all, no block cleared the bar above it (a review found
    such digits made blank). A paper's median block under QUIET_PAPER (noise under about 6
    levels on white paper) leaves the picture as it is: such paper makes next to no specks,
    and a faint line 1 px wide, which a block's average would lose, stays whole. Only a
    picture at least SPECK_BLOCK times MNIST's side whose border is not all paper is looked
    at: the page's drawings (framed in black paper) and MNIST's digits never are. A faint
    pencil line 1 px wide on such paper averages under the bar in its blocks, and where it
    runs further than a block from darker ink it is taken for paper too (a review: strokes
    150 on paper 235, noise 8, lost half their pixels). Growing the inked blocks through
    their neighbours over part of the bar won back a few such digits and lost some a dark
    digit's noise, so it was left out."""
    f = SPECK_BLOCK
    h, w = grey.shape
    blocks = _block_sums(grey, f) / (f * f)  # the mean of each block
    # the paper's blocks (those under the bar: a bold digit cropped close may fill over
    # half of them), raised by the noise over the paper
    under = blocks[blocks <= INK_THRESHOLD]
    paper = np.median(under) if under.size else 0.0
    if paper < QUIET_PAPER:
        return grey, mask
    near = blocks > INK_THRESHOLD + paper
    near[1:] |= near[:-1].copy()  # and the blocks next to them, on every side
    near[:-1] |= near[1:].copy()
    near[:, 1:] |= near[:, :-1].copy()
    near[:, :-1] |= near[:, 1:].copy()
    region = np.repeat(np.repeat(near, f, axis=0), f, axis=1)[:h, :w]
    return np.where(region, grey, grey.dtype.type(0)), mask & region


def levels(x28: np.ndarray) -> np.ndarray:
    """`x28` (0..1) as the nearest of 256 levels q, uint8: the `input` an answer holds
    (app/api/wire.py encode_input), and the rounding of `on_levels`."""
    q: np.ndarray = np.rint(np.clip(x28, 0.0, 1.0) * 255.0).astype(np.uint8)
    return q


def on_levels(x28: np.ndarray) -> np.ndarray:
    """`x28` (0..1) rounded to the nearest of 256 levels q/255, each the float32 nearest the
    quotient, as JSON pixels q/255 give it: the uint8 `input` an answer holds (`levels`), and
    a page's link made of it, are then exactly what the networks saw (a teacher's review: a
    drawing opened from its link had a conv1 range 0.01 off)."""
    out: np.ndarray = (levels(x28) / 255.0).astype(np.float32)
    return out


def _place(centre: float, size: int) -> int:
    """Integer offset putting `centre` within half a pixel of CENTRE, keeping the box inside
    the 28 px field."""
    offset = math.floor(CENTRE - centre + 0.5)
    return min(max(offset, 0), SIDE - size)


def warm_up() -> None:
    """Decode one tiny image of each format, so that the first user does not pay for
    Pillow's plugin initialisation (about 20 ms)."""
    for fmt in ACCEPTED_FORMATS:
        buf = io.BytesIO()
        Image.new("L", (8, 8)).save(buf, format=fmt)
        from_image(buf.getvalue(), 64)


def from_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Image bytes -> the (28, 28) float32 input the model sees."""
    return mnist_style(decode(data, max_pixels))


def range_hint(pixels: np.ndarray) -> str:
    """What `pixels`, some out of 0..1, most likely are, and the fix (found by an API
    review: a 422 gave neither; the batch route's pointed normalised floats to uint8). Only
    called on the way to a 422: the median is not cheap on a batch."""
    low, high = float(pixels.min()), float(pixels.max())
    with np.errstate(over="ignore"):  # the mean of two middle values near the float's limit
        median = float(np.median(pixels))
    if abs(median + 1) <= 0.05 and low >= -1.05 and high <= 1.05:
        # the background at -1: Normalize((0.5,), (0.5,)), whose std and mean MNIST's usual
        # ones would not undo (an API review: told to, it was still refused)
        return " (scaled to -1..1, as Normalize((0.5,), (0.5,)) does? undo it: (x + 1) / 2)"
    if median < -0.05:  # the background itself below 0
        return " (normalised? undo it: x * std + mean, for MNIST's usual 0.3081 and 0.1307)"
    if 2 <= high <= 255:
        return " (levels 0..255? divide them by 255)"
    if low > -0.05 and high < 1.05:  # a hair outside: a resampling's overshoot
        return " (clip them to 0..1 if they only overshoot)"
    return ""


def from_pixels(pixels: object, *, preprocess: bool = False) -> np.ndarray:
    """A JSON 28x28 array of numbers in 0..1 -> (28, 28) float32.

    By default the pixels are taken as the model's input as they are; with preprocess=True
    they are treated as an image: dark ink on light inverted, then cropped and centred.
    """
    dims = _three_axes(pixels)
    if dims is not None:
        # Keras' (28, 28, 1), or several images (an API review: told only that it nested
        # too deep, and that several images go to the batch route, for one image)
        one = "one image is 28 rows of 28 numbers in 0..1"
        if dims == (SIDE, SIDE, 1):  # Keras' channel last
            fix = f"{one}: drop its channel axis (x[..., 0] in NumPy)"
        elif dims[0] == 1:  # PyTorch's channel first
            fix = f"{one}: drop its channel axis (x[0] in NumPy)"
        else:
            fix = f"{one}, and several go to POST /api/v1/featuremaps/batch, as an .npy or .npz"
        raise InvalidPixels(f"pixels has 3 axes ({' x '.join(map(str, dims))}); {fix}")
    flat = _flat(pixels)
    if flat:  # (an API review: told it had 784 rows)
        raise InvalidPixels(f"pixels must be a list of 28 rows of 28 numbers in 0..1; got "
                            f"{flat}: give them as 28 rows of 28, as NumPy's "
                            "x.reshape(28, 28).tolist() does")
    if not isinstance(pixels, list) or len(pixels) != SIDE:
        got = counted(len(pixels), "row") if isinstance(pixels, list) else json_kind(pixels)
        raise InvalidPixels(f"pixels must be a list of 28 rows of 28 numbers in 0..1; got "
                            f"{got}{_other_size(pixels)}")
    for i, row in enumerate(pixels):
        if not isinstance(row, list) or len(row) != SIDE:
            n = len(row) if isinstance(row, list) else json_kind(row)
            raise InvalidPixels(f"pixels row {i} must hold 28 numbers in 0..1; got "
                                f"{n}{_other_size(pixels)}")
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidPixels(
                    f"pixels[{i}][{j}] is {json_kind(value)}; expected a number in 0..1"
                )
            if isinstance(value, int) and abs(value) > 10**300:  # 10**400 overflows a float
                digits = len(str(abs(value)))
                raise InvalidPixels(f"pixels[{i}][{j}] is an integer of {digits:,} digits; "
                                    "expected a number in 0..1")
    arr = np.asarray(pixels, dtype=np.float64)
    if np.isnan(arr).any():
        i, j = np.argwhere(np.isnan(arr))[0]
        raise InvalidPixels(f"pixels[{i}][{j}] is not a number; expected a number in 0..1")
    if arr.min() < 0.0 or arr.max() > 1.0:
        i, j = np.argwhere((arr < 0.0) | (arr > 1.0))[0]
        # repr: the value as sent (1.0000001 under :g would read as an in-range 1); 1e400
        # reads as inf, which the sender never wrote: said as past a float's range (an API
        # review found it said nothing of the value)
        value = pixels[i][j]  # as sent: 255, not 255.0
        if not math.isfinite(value):
            raise InvalidPixels(f"pixels[{i}][{j}] is {'below' if value < 0 else 'above'} "
                                "the range of a 64-bit float (1.8e308); expected a number in 0..1")
        raise InvalidPixels(f"pixels[{i}][{j}] = {cut(repr(value))} is out of range; expected "
                            f"0..1{range_hint(arr)}")
    grey = arr.astype(np.float32)
    return as_picture(grey) if preprocess else grey


def _three_axes(pixels: object) -> tuple[int, int, int] | None:
    """The sizes of `pixels` where it is a grid of 3 axes (lists of lists of equal lengths,
    down to lists of numbers), else None: a stray list in a 28 x 28 grid is said where it is
    (an API review: one at pixels[0][0] was told to drop a channel axis)."""
    if not isinstance(pixels, list):
        return None
    width = _width(pixels)
    if width is None:
        return None
    cells = [c for r in pixels for c in r]
    depth = _width(cells)
    if depth is None or any(isinstance(v, list) for c in cells for v in c):
        return None
    return len(pixels), width, depth


def _width(rows: list[Any]) -> int | None:
    """The one length of `rows` where it is a non-empty list of lists all of that length,
    not 0; else None."""
    if not (rows and all(isinstance(r, list) for r in rows)):
        return None
    widths = {len(r) for r in rows}
    return widths.pop() if len(widths) == 1 and 0 not in widths else None


def _flat(pixels: object) -> str:
    """How 28 x 28 values sent flattened were sent, in words: one list of 784 numbers, or
    one row of them (x.reshape(1, -1)); "" for anything else."""
    values = SIDE * SIDE
    row = isinstance(pixels, list) and len(pixels) == 1
    flat = pixels[0] if row else pixels  # type: ignore[index]
    if not isinstance(flat, list) or len(flat) != values or any(isinstance(v, list) for v in flat):
        return ""
    return f"1 row of {values} values (1 x {values})" if row else (
        f"a flat list of {values} values")


def _other_size(pixels: object) -> str:
    """Where `pixels` is a grid of another size than 28 x 28 (rows of one length), what
    takes a picture of that size: JSON pixels are the networks' input, even with preprocess
    (an API review sent 56 x 56 with "preprocess": true, as the batch route takes any size
    with preprocess=true, and was told only the row count)."""
    if not isinstance(pixels, list):
        return ""
    width = _width(pixels)
    if width is None:
        return ""
    # the batch route as an .npy: sent this JSON, it answers with a 415 pointing back here
    # (a review)
    return (f" ({len(pixels)} x {width}: JSON pixels are the 28x28 input itself, with "
            "preprocess too; send a picture of another size as an image file, which is "
            "cropped and scaled, or as an .npy (np.save) to POST "
            "/api/v1/featuremaps/batch?preprocess=true)")


def as_picture(grey: np.ndarray) -> np.ndarray:
    """Grey levels (H, W) in 0..1 prepared as a picture is: the paper's polarity and level
    found (invert_if_light), then mnist_style. JSON pixels with preprocess, and a batch's
    images with preprocess=true (app/ml/batch.py prepared)."""
    return mnist_style(invert_if_light(grey))
