"""Write the bad-input corpus: tests/data/bad/<case>.json (+ <case>.body when it has one).

Each case says how to send it (method, path, query, content type, body or multipart parts)
and what must come back: the exact status and the exact JSON detail. Run from the project
root:  python scripts/make_bad_corpus.py   (deterministic; re-running rewrites the same files,
and leaves the cases written by hand in that folder as they are)
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "bad"
FM = "/api/v1/featuremaps"
ACCEPTED = ("multipart/form-data (field 'file'), a raw PNG/JPEG/WebP/GIF body, "
            'or application/json {"pixels": 28x28 numbers in 0..1}')
NOT_IMAGE = "not an image this server reads: send a PNG, JPEG, WebP or GIF"
NOT_PNG = f"{NOT_IMAGE} (this body is sent as image/png, but its bytes begin as none of them)"
LIMIT_PIXELS = 4096 * 4096
OTHER_SIZE = ("JSON pixels are the 28x28 input itself, with preprocess too; send a picture of "
              "another size as an image file, which is cropped and scaled, or as an .npy "
              "(np.save) to POST /api/v1/featuremaps/batch?preprocess=true)")
UPLOAD_LIMIT = 2 * 1024 * 1024
OVER_LIMIT = ("request body over the upload limit of 2,097,152 bytes "
              "(FEATUREMAPS_MAX_UPLOAD_BYTES): the networks see 28x28 pixels, so a smaller "
              "image loses nothing")
SERVER_MODELS = "max, avg, strided, nopool, blurmax"


def digit(fmt: str, mode: str = "L") -> bytes:
    canvas = np.zeros((64, 64), np.uint8)
    canvas[8:56, 28:36] = 255
    buf = io.BytesIO()
    Image.fromarray(canvas).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_bomb(side: int = 30_000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels: ~110 KB that decodes to 900 MB (L)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def palette_png_without_plte() -> bytes:
    """A 4x4 PNG of colour type 3 (palette) without the PLTE chunk the format requires, with a
    tRNS chunk whose transparent entry no pixel uses: Pillow asserted a palette (a 500)."""
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 3, 0, 0, 0)
    idat = zlib.compress(b"\0\1\1\1\1" * 4)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"tRNS", b"\0")
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def rows_stop_early(png: bytes, keep: int) -> bytes:
    """`png` (IHDR, one IDAT, IEND) with its rows' stream inflated, cut to `keep` bytes and
    deflated again: a whole stream, and a whole file, that holds too few rows. Pillow filled
    the rest with black and said nothing (an API review)."""
    idat_end = 33 + 12 + int.from_bytes(png[33:37], "big")
    rows = zlib.decompress(png[41:idat_end - 4])[:keep]
    return png[:33] + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


def corrupt_middle(data: bytes, start: int) -> bytes:
    rng = np.random.default_rng(1)
    junk = rng.integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    return data[:start] + junk


def pixels(value: Any = 0.0, rows: int = 28, cols: int = 28) -> list[list[Any]]:
    return [[value] * cols for _ in range(rows)]


def with_cell(value: Any) -> dict[str, Any]:
    grid = pixels()
    grid[3][5] = value
    return {"pixels": grid}


def cases() -> dict[str, dict[str, Any]]:
    png, jpeg, gif, webp = digit("PNG"), digit("JPEG"), digit("GIF"), digit("WEBP", "RGB")
    c: dict[str, dict[str, Any]] = {}

    def raw(name: str, body: bytes, ctype: str, status: int, detail: str,
            path: str = FM, query: str = "") -> None:
        c[name] = {"path": path, "query": query, "content_type": ctype, "body": body,
                   "status": status, "detail": detail}

    def js(name: str, doc: Any, status: int, detail: str, query: str = "") -> None:
        text = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        raw(name, text, "application/json", status, detail, query=query)

    # images: truncated and corrupt
    raw("png-truncated", png[: len(png) // 2], "image/png", 422, "PNG data is truncated or corrupt")
    raw("png-bad-crc", png[:29] + b"\0\0\0\0" + png[33:], "image/png", 422,
        "PNG data is truncated or corrupt")
    raw("png-garbage-data", corrupt_middle(png, 41), "image/png", 422,
        "PNG data is truncated or corrupt")
    raw("png-rows-stop-early", rows_stop_early(png, 40 * 65), "image/png", 422,
        "PNG data is truncated or corrupt: its pixels stop before the last of its 64 rows")
    raw("png-signature-only", png[:8], "image/png", 422, "PNG data is truncated or corrupt")
    raw("jpeg-truncated", jpeg[: len(jpeg) // 3], "image/jpeg", 422,
        "JPEG data is truncated or corrupt")
    raw("jpeg-garbage-data", corrupt_middle(jpeg, 20), "image/jpeg", 422,
        "JPEG data is truncated or corrupt")
    raw("gif-truncated", gif[: len(gif) // 2], "image/gif", 422, "GIF data is truncated or corrupt")
    raw("gif-header-only", gif[:13], "image/gif", 422, "GIF data is truncated or corrupt")
    raw("webp-truncated", webp[: len(webp) // 2], "image/webp", 422,
        "WebP data is truncated or corrupt")
    raw("webp-garbage-data", corrupt_middle(webp, 30), "image/webp", 422,
        "WebP data is truncated or corrupt")
    raw("png-palette-without-plte", palette_png_without_plte(), "image/png", 422,
        "PNG is corrupt: its pixels index a palette it does not hold")
    raw("png-bomb-30000x30000", png_bomb(), "image/png", 413,
        f"image is 30000x30000 = 900,000,000 pixels; the limit is {LIMIT_PIXELS:,} "
        "(FEATUREMAPS_MAX_IMAGE_PIXELS): the networks see 28x28 pixels, so an image scaled "
        "down loses nothing")
    # not images
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
           b'<rect width="28" height="28"/></svg>')
    raw("svg", svg, "image/png", 415, f"{NOT_IMAGE}; this body is an SVG drawing: convert it to "
        "PNG first")
    # an image of a format this server does not read, sent as curl --data-binary sends it (a
    # form's type) or with no type: named, not refused for its type (an API review)
    raw("form-svg", svg, "application/x-www-form-urlencoded", 415,
        f"{NOT_IMAGE}; this body is an SVG drawing: convert it to PNG first")
    raw("form-bmp", digit("BMP"), "application/x-www-form-urlencoded", 415,
        f"{NOT_IMAGE}; this body is a BMP image: convert it to PNG first")
    # a scanner's Netpbm file, white paper without a NUL byte (a practitioner's review: curl
    # --data-binary @d.ppm was told its type was the mistake)
    raw("form-ppm", b"P6\n# a scan\n28 28\n255\n" + b"\xff" * (28 * 28 * 3),
        "application/x-www-form-urlencoded", 415,
        f"{NOT_IMAGE}; this body is a PPM (Netpbm) image: convert it to PNG first")
    raw("tiff-no-type", digit("TIFF"), "", 415,
        f"{NOT_IMAGE}; this body is a TIFF image: convert it to PNG first")
    # an API review: told only "not an image", where the batch route names gzip
    raw("png-gzipped", gzip.compress(digit("PNG"), mtime=0), "image/png", 415,
        f"{NOT_IMAGE}; this body is a PNG image compressed with gzip: send the image's own "
        "bytes (gunzip it first)")
    raw("svg-declared-no-type", b'\xef\xbb\xbf<?xml version="1.0"?>\n<!DOCTYPE svg>\n' + svg, "",
        415, f"{NOT_IMAGE}; this body is an SVG drawing: convert it to PNG first")
    # Illustrator's export: a doctype of entities, 1.6 kB, before <svg (not named while a
    # kilobyte of the body was looked at)
    entities = b"".join(b'<!ENTITY ns_%d "http://ns.adobe.com/Extensibility%d/1.0/">\n' % (i, i)
                        for i in range(24))
    raw("svg-illustrator", b'<?xml version="1.0" encoding="utf-8"?>\n<!-- Generator: Adobe '
        b'Illustrator 27.0.0, SVG Export Plug-In -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG '
        b'1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [\n' + entities + b"]>\n"
        + svg, "application/octet-stream", 415,
        f"{NOT_IMAGE}; this body is an SVG drawing: convert it to PNG first")
    FORM_TEXT = ("content type 'application/x-www-form-urlencoded' (a form's, which curl -d and "
                 "--data-binary and Python's urllib give a body unless told) is not accepted, "
                 f"and this body begins as none of the images this server reads; send {ACCEPTED}")
    # and a form's own text, however it is written, is told to send the file (a review of
    # that mend: curl -d "file=@digit.png", meant as -F, was called no image)
    raw("form-text-file-at", b"file=@digit.png", "application/x-www-form-urlencoded", 415,
        FORM_TEXT)
    raw("form-text-unencoded", "name=Zoë&url=http://x.org/a.png".encode(),
        "application/x-www-form-urlencoded", 415,
        FORM_TEXT)
    raw("form-text-latin-1", "name=Zoë&digit=7".encode("latin-1"),
        "application/x-www-form-urlencoded", 415,
        FORM_TEXT)
    # UTF-16 text holds NULs, but no raw image's length: a form's text still (a review of a
    # mend that took any body with a NUL for a file)
    raw("form-text-utf-16", "name=seven&digit=7".encode("utf-16"),
        "application/x-www-form-urlencoded", 415,
        FORM_TEXT)
    # a web page that holds an SVG is no SVG drawing
    raw("html-with-svg-no-type", b"<!DOCTYPE html><html><body><svg></svg></body></html>", "", 415,
        NOT_IMAGE)
    # any image type is read by its bytes, which are named where they can be (an API review:
    # told that the type was the mistake, where the same file sent untyped was named)
    raw("svg-content-type", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml", 415,
        f"{NOT_IMAGE}; this body is an SVG drawing: convert it to PNG first")
    raw("bmp-content-type", digit("BMP"), "image/bmp", 415,
        f"{NOT_IMAGE}; this body is a BMP image: convert it to PNG first")
    raw("ico-content-type", digit("ICO"), "image/x-icon", 415,
        f"{NOT_IMAGE}; this body is an ICO icon: convert it to PNG first")
    raw("heic-content-type-text", b"hello", "image/heic", 415,
        f"{NOT_IMAGE} (this body is sent as image/heic, but its bytes begin as none of them)")
    # a file sent as base64 text, as `base64 digit.png` or a canvas's toDataURL() gives it (an
    # API review: told only that it was no image, or that the form's type was the mistake)
    raw("base64-png", base64.b64encode(png), "application/octet-stream", 415,
        f"{NOT_IMAGE}; this body is a PNG written as base64 text: send the file's own bytes, "
        "decoded")
    raw("base64-url-safe-jpeg", base64.urlsafe_b64encode(jpeg), "application/octet-stream", 415,
        f"{NOT_IMAGE}; this body is a JPEG written as base64 text: send the file's own bytes, "
        "decoded")
    raw("form-data-url-jpeg", b"data:image/jpeg;base64," + base64.b64encode(jpeg),
        "application/x-www-form-urlencoded", 415,
        f"{NOT_IMAGE}; this body is a JPEG written as base64 text (a data: URL): send the "
        "file's own bytes, decoded")
    raw("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "image/png", 415,
        f"{NOT_IMAGE}; this body is a PDF: convert it to PNG first")
    raw("pdf-content-type", b"%PDF-1.4\n%%EOF\n", "application/pdf", 415,
        f"content type 'application/pdf' is not accepted; send {ACCEPTED}")
    raw("text-as-png", b"hello, this is not a picture", "image/png", 415, NOT_PNG)
    raw("bytes-unlabelled", b"hello, this is not a picture", "application/octet-stream", 415,
        NOT_IMAGE)
    npy = io.BytesIO()
    np.save(npy, np.zeros((2, 28, 28), np.uint8))
    raw("npy-to-one-image", npy.getvalue(), "application/octet-stream", 415,
        f"{NOT_IMAGE}, or JSON pixels; this body is an .npy or a zip (such as an .npz), and "
        "arrays of images go to POST /api/v1/featuremaps/batch")
    # an API review: with JSON's type, these were told to "send it as UTF-8"
    as_json = "the body, sent as application/json, is not JSON pixels, and "
    js("npy-sent-as-json", npy.getvalue(), 415,
       f"{as_json}{NOT_IMAGE}, or JSON pixels; this body is an .npy or a zip (such as an .npz), "
       "and arrays of images go to POST /api/v1/featuremaps/batch")
    js("png-gzipped-sent-as-json", gzip.compress(digit("PNG"), mtime=0), 415,
       f"{as_json}{NOT_IMAGE}; this body is a PNG image compressed with gzip: send the image's "
       "own bytes (gunzip it first)")
    # and with curl's form type, this was told the type was the mistake (the same review)
    raw("png-gzipped-as-form", gzip.compress(digit("PNG"), mtime=0),
        "application/x-www-form-urlencoded", 415,
        f"{NOT_IMAGE}; this body is a PNG image compressed with gzip: send the image's own "
        "bytes (gunzip it first)")
    raw("text-plain", b"hello", "text/plain", 415,
        f"content type 'text/plain' is not accepted; send {ACCEPTED}")
    raw("empty-body", b"", "image/png", 400, f"empty body: send {ACCEPTED}")
    raw("empty-body-no-type", b"", "", 400, f"empty body: send {ACCEPTED}")
    raw("wrong-content-type", png, "application/xml", 415,
        f"content type 'application/xml' is not accepted; send {ACCEPTED}")
    # multipart
    c["multipart-no-file"] = {"path": FM, "query": "", "multipart": [["note", None, "hello"]],
                              "status": 400, "detail": "multipart body has no file: send the "
                              "image in a field named 'file'"}
    c["multipart-two-files"] = {"path": FM, "query": "", "multipart": [
        ["file", "a.png", "digit"], ["file", "b.png", "digit"]], "status": 400,
        "detail": "multipart body has more than one file: send exactly one, as 'file'"}
    c["multipart-three-files"] = {"path": FM, "query": "", "multipart": [
        ["file", "a.png", "digit"], ["file", "b.png", "digit"], ["file", "c.png", "digit"]],
        "status": 400,
        "detail": "multipart body has more than one file: send exactly one, as 'file'"}
    c["multipart-wrong-field"] = {"path": FM, "query": "", "multipart": [
        ["image", "a.png", "digit"]], "status": 400,
        "detail": "multipart file field is 'image'; name it 'file'"}
    c["multipart-text-file"] = {"path": FM, "query": "", "multipart": [
        ["file", "a.txt", "text"]], "status": 415, "detail": NOT_IMAGE}
    # a JSON body's field, sent beside the file or in the query, is said to be one (a
    # practitioner's review: -F preprocess=true was told to use the query, which refused it)
    body_field = ('it is a field of a JSON body, {"pixels": 28x28 numbers in 0..1}, which may '
                  'add "preprocess": true; an image sent as a file is always prepared as '
                  "MNIST's digits are")
    c["multipart-preprocess-field"] = {"path": FM, "query": "", "multipart": [
        ["file", "a.png", "digit"], ["preprocess", None, "true"]], "status": 400,
        "detail": f"multipart text field 'preprocess' is not read: {body_field}"}
    raw("query-preprocess", png, "image/png", 400, "unknown query parameter 'preprocess'; "
        f"accepted: models, encoding, format ({body_field})", query="preprocess=true")
    # a batch takes it in the query (an API review: photos shrunk to 28x28 could not be
    # prepared), as a boolean
    words = "expected true or false (or t or f, 1 or 0, yes or no, y or n, on or off, in any case)"
    raw("batch-query-preprocess", b"", "application/octet-stream", 422, "query parameter "
        f"'preprocess': {words}; got 'maybe'", path=FM + "/batch", query="preprocess=maybe")
    raw("batch-query-preprocess-alone", b"", "application/octet-stream", 422, "query parameter "
        f"'preprocess': {words}; got '' (write preprocess=true)", path=FM + "/batch",
        query="preprocess")
    # requests' params={"layers": ["pool1", "pool2"]} (a Python client's review)
    raw("batch-layers-twice", b"", "application/octet-stream", 400, "query parameter 'layers' "
        "is given more than once; give it once (layers=conv1,pool2 names several layers)",
        path=FM + "/batch", query="layers=pool1&layers=pool2")
    c["batch-multipart-preprocess-field"] = {"path": FM + "/batch", "query": "", "multipart": [
        ["file", "a.npy", "digit"], ["preprocess", None, "true"]], "status": 400,
        "detail": "multipart text field 'preprocess' is not read: give options in the query "
                  "(?name=value) and send the .npy or .npz as the one file part 'file'"}
    # raw multipart bodies that Starlette's parser refuses with words of its own
    unread = ("send the image as one file part named 'file', the body starting with the "
              "boundary its Content-Type names (as curl -F file=@path sends it)")
    raw("multipart-no-boundary", png, "multipart/form-data", 400,
        f"multipart body could not be read (Missing boundary in multipart): {unread}")
    part = b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
    # a boundary= with no value, which the closing check called '----' (an API review)
    raw("multipart-empty-boundary", b"--XX\r\n" + part + b"Content-Type: image/png\r\n\r\n"
        + png + b"\r\n--XX--\r\n", "multipart/form-data; boundary=", 400,
        "multipart body's Content-Type names an empty boundary: name the one its parts use, "
        "1 to 70 characters (as curl -F file=@path does)")
    # no line of the boundary alone, which the parser called "Invalid multipart data"
    no_line = ("multipart body has no line '--XX' (the boundary its Content-Type names, alone on "
               "a line ended by CRLF) to open a part: its parts use another boundary, or it has "
               "none")
    raw("multipart-no-boundary-line", b"a preamble\r\n--XX " + part
        + b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--XX--\r\n",
        "multipart/form-data; boundary=XX", 400, no_line)
    raw("multipart-lf-lines", (b"--XX\r\n" + part + b"\r\n" + png + b"\r\n--XX--\r\n"
                               ).replace(b"\r\n", b"\n"),
        "multipart/form-data; boundary=XX", 400, "multipart body's boundary line '--XX' ends in "
        "an LF alone, not CRLF: end each boundary and header line with CRLF (as curl -F "
        "file=@path sends them)")
    raw("multipart-empty", b"", "multipart/form-data; boundary=XX", 400,
        "empty multipart body: send the image in a field named 'file' (as curl -F file=@path "
        "sends it)")
    raw("multipart-header-no-colon", b"--XX\r\n" + part + b"Content-Type image/png\r\n\r\n"
        + png + b"\r\n--XX--\r\n", "multipart/form-data; boundary=XX", 400,
        "multipart body could not be read (Invalid multipart data): send the image as one file "
        "part named 'file', each boundary and header line on its own, ended by CRLF (as curl -F "
        "file=@path sends it)")
    c["multipart-nine-fields"] = {"path": FM, "query": "", "multipart": [
        *[[f"note{i}", None, "x"] for i in range(9)], ["file", "a.png", "digit"]],
        "status": 400, "detail": "multipart body has more than 8 fields: text fields are not "
        "read; give options in the query (?name=value) and send the image as the one file "
        "part 'file'"}
    # JSON
    js("json-not-object-list", [1, 2, 3], 422,
       'JSON body must be an object {"pixels": ...}, not an array')
    js("json-not-object-string", "pixels", 422,
       'JSON body must be an object {"pixels": ...}, not a string')
    js("json-syntax-error", b'{"pixels": [[0, 1}', 400,
       "body is not valid JSON (Expecting ',' delimiter: line 1 column 18 (char 17))")
    js("json-deeply-nested", b"[" * 100_000 + b"]" * 100_000, 422,
       'JSON nested deeper than 4 levels; send {"pixels": 28x28 numbers in 0..1}, one image '
       "(several go to POST /api/v1/featuremaps/batch, as an .npy or .npz)")
    # an open string of escaped quotes: the nesting check's scan of it once took time
    # growing with the square of its length (this one, 2 minutes), holding the event loop
    js("json-open-string-of-escaped-quotes", b'{"pixels": "' + b'\\"' * 100_000, 400,
       "body is not valid JSON (Unterminated string starting at: line 1 column 12 (char 11))")
    js("json-empty", b"", 400, 'empty JSON body: send {"pixels": 28x28 numbers in 0..1}')
    js("json-no-pixels", {"image": []}, 422, "unknown JSON field 'image'; accepted: pixels, "
       "preprocess")
    js("json-missing-pixels", {}, 422, 'JSON body has no "pixels": send 28x28 numbers in 0..1')
    # found by a review: the last of two keys was used without a word
    zeros = json.dumps([[0] * 28] * 28).encode()
    js("json-key-twice", b'{"pixels": ' + zeros + b', "preprocess": true, "preprocess": false}',
       400, "JSON key 'preprocess' is given more than once; give it once")
    # found by a review: JSON pixels sent without its content type were told "not an image"
    raw("json-unlabelled", b'{"pixels": ' + zeros + b"}", "application/octet-stream", 415,
        f"{NOT_IMAGE}; this body looks like JSON pixels: send it with Content-Type: "
        "application/json")
    # a practitioner's slips (an API review): an option in the body, the batch route's
    # layers= on the one-image route, requests' data= (a form) for json=, a tensor saved
    # with torch.save, and an image's raw bytes
    js("json-option-in-body", b'{"pixels": ' + zeros + b', "encoding": "float32"}', 422,
       "unknown JSON field 'encoding'; accepted: pixels, preprocess; options go in the query, "
       "not the body (?encoding=...)")
    raw("layers-on-one-image", b'{"pixels": ' + zeros + b"}", "application/json", 400,
        "unknown query parameter 'layers'; accepted: models, encoding, format (this route "
        "answers every layer; layers= chooses them on POST /api/v1/featuremaps/batch)",
        query="layers=pool2")
    raw("form-pixels", b"pixels=0.0&pixels=0.5", "application/x-www-form-urlencoded", 415,
        "content type 'application/x-www-form-urlencoded' is a form's text (pixels=...), not "
        "JSON: send the pixels as JSON, with Python's requests json={'pixels': ...}, or with "
        "curl -H 'Content-Type: application/json' -d '{\"pixels\": ...}'")
    raw("torch-save-one-image", torch_save(), "application/octet-stream", 415,
        f"{NOT_IMAGE}, or JSON pixels; this body is a torch.save file: send images as an .npy "
        "to POST /api/v1/featuremaps/batch (np.save(f, images.numpy()))")
    raw("raw-bytes-28x28", bytes(784), "application/octet-stream", 415,
        f"{NOT_IMAGE}, or JSON pixels; this body is 784 bytes, as 28x28 uint8 pixels with no "
        "header are: send them as JSON pixels, or as an .npy (np.save) to POST "
        "/api/v1/featuremaps/batch")
    # as curl --data-binary sends them, with a form's type
    raw("form-raw-bytes-28x28", bytes(784 * 4), "application/x-www-form-urlencoded", 415,
        f"{NOT_IMAGE}, or JSON pixels; this body is 3,136 bytes, as 28x28 float32 pixels "
        "with no header are: send them as JSON pixels, or as an .npy (np.save) to POST "
        "/api/v1/featuremaps/batch")
    # an option of another route's in the body is not sent to this route's query
    js("json-other-routes-option-in-body", b'{"pixels": ' + zeros + b', "channel": 3}', 422,
       "unknown JSON field 'channel'; accepted: pixels, preprocess")
    js("pixels-nan", b'{"pixels": [' + b",".join([b"[" + b",".join([b"0"] * 27 + [b"NaN"])
       + b"]"] * 28) + b"]}", 400,
       "body is not valid JSON: NaN is not a JSON value (pixels are numbers in 0..1)")
    js("pixels-infinity", with_cell(float("inf")), 400,
       "body is not valid JSON: Infinity is not a JSON value (pixels are numbers in 0..1)")
    js("pixels-minus-infinity", with_cell(float("-inf")), 400,
       "body is not valid JSON: -Infinity is not a JSON value (pixels are numbers in 0..1)")
    # a number too large for a float: JSON, but read as inf, which was never sent
    js("pixels-overflow", json.dumps(with_cell(0.5)).encode().replace(b"0.5", b"1e400"), 422,
       "pixels[3][5] is above the range of a 64-bit float (1.8e308); expected a number in 0..1")
    js("png-sent-as-json", png, 415,
       "the body is a PNG image, sent as application/json: send it with its own Content-Type "
       "(e.g. image/png), or JSON pixels as {\"pixels\": 28x28 numbers in 0..1}")
    js("pixels-string", with_cell("0.5"), 422,
       "pixels[3][5] is a string; expected a number in 0..1")
    js("pixels-null", with_cell(None), 422, "pixels[3][5] is null; expected a number in 0..1")
    js("pixels-29x28", {"pixels": pixels(rows=29)}, 422,
       "pixels must be a list of 28 rows of 28 numbers in 0..1; got 29 rows "
       f"(29 x 28: {OTHER_SIZE}")
    js("pixels-28x29", {"pixels": pixels(cols=29)}, 422,
       f"pixels row 0 must hold 28 numbers in 0..1; got 29 (28 x 29: {OTHER_SIZE}")
    js("pixels-0x0", {"pixels": []}, 422,
       "pixels must be a list of 28 rows of 28 numbers in 0..1; got 0 rows")
    js("pixels-28x0", {"pixels": [[] for _ in range(28)]}, 422,
       "pixels row 0 must hold 28 numbers in 0..1; got 0")
    js("pixels-flat-784", {"pixels": [0.0] * 784}, 422,
       "pixels must be a list of 28 rows of 28 numbers in 0..1; got a flat list of 784 "
       "values: give them as 28 rows of 28, as NumPy's x.reshape(28, 28).tolist() does")
    js("pixels-negative", with_cell(-0.25), 422,
       "pixels[3][5] = -0.25 is out of range; expected 0..1")
    js("pixels-huge", with_cell(1e308), 422, "pixels[3][5] = 1e+308 is out of range; expected 0..1")
    js("pixels-255-scale", with_cell(255), 422,
       "pixels[3][5] = 255 is out of range; expected 0..1 (levels 0..255? divide them by 255)")
    js("pixels-integer-overflow", with_cell(10**400), 422,
       "pixels[3][5] is an integer of 401 digits; expected a number in 0..1")
    js("json-integer-over-4300-digits", b'{"pixels": [[' + b"1" * 5000 + b"]]}", 400,
       "body is not valid JSON for this server: it holds an integer of thousands of digits")
    js("json-over-256-kib", b'{"pixels": [' + b" " * 300_000 + b"]}", 413,
       "JSON body is 300,014 bytes; 28x28 pixels need far less, the limit is 262,144")
    js("preprocess-not-bool", {"pixels": pixels(), "preprocess": "yes"}, 422,
       '"preprocess" must be true or false')
    # query and path
    good = json.dumps({"pixels": pixels()}).encode()
    js("unknown-model", good, 422,
       f"unknown model 'maxx' in models=; this server has {SERVER_MODELS}", query="models=maxx")
    js("models-empty", good, 422,
       "query parameter 'models': expected comma-separated names in lower case, without "
       "spaces, such as max,avg; got ''", query="models=")
    js("models-plus", good, 422,
       "query parameter 'models': expected comma-separated names in lower case, without "
       "spaces, such as max,avg; got 'max avg' (a + or %20 in an address reads as a space)",
       query="models=max+avg")
    js("models-twice", good, 422, "models= names the network 'max' twice", query="models=max,max")
    js("unknown-encoding", good, 422,
       "query parameter 'encoding': Input should be 'uint8', 'float16' or 'float32'; got "
       "'int4'", query="encoding=int4")
    js("unknown-format", good, 422,
       "query parameter 'format': Input should be 'json' or 'binary'; got 'xml'",
       query="format=xml")
    js("unknown-query-parameter", good, 400,
       "unknown query parameter 'colour'; accepted: models, encoding, format", query="colour=red")
    js("repeated-query-parameter", good, 400,
       "query parameter 'models' is given more than once; give it once (models=max,avg names "
       "several networks)", query="models=max&models=avg")
    # a bad value is reported before the repetition, as on every route (FastAPI validates first)
    raw("png-repeated-query-parameter-last-bad", png, "image/png", 422,
        "query parameter 'encoding': Input should be 'uint8', 'float16' or 'float32'; got "
        "'bogus'", query="encoding=uint8&encoding=bogus")
    raw("png-repeated-query-parameter", png, "image/png", 400,
        "query parameter 'scale' is given more than once; give it once",
        path=FM + "/max/pool1.png", query="scale=2&scale=4")
    raw("png-unknown-model", png, "image/png", 404,
        f"unknown model 'median'; this server has {SERVER_MODELS}", path=FM + "/median/pool1.png")
    raw("png-unknown-layer", png, "image/png", 404,
        "model 'max' has no layer 'pool3'; its layers are conv1, pool1, conv2, pool2, conv3",
        path=FM + "/max/pool3.png")
    raw("png-layer-of-other-variant", png, "image/png", 404,
        "model 'strided' has no layer 'pool1'; its layers are conv1, conv2, conv3",
        path=FM + "/strided/pool1.png")
    raw("png-channel-out-of-range", png, "image/png", 422,
        "channel 32 out of range: pool1 has channels 0..31", path=FM + "/max/pool1.png",
        query="channel=32")
    raw("png-scale-zero", png, "image/png", 422,
        "query parameter 'scale': Input should be greater than or equal to 1",
        path=FM + "/max/pool1.png", query="scale=0")
    raw("png-scale-not-a-number", png, "image/png", 422,
        "query parameter 'scale': should be a whole number written in digits, e.g. 3; got "
        "'big'", path=FM + "/max/pool1.png", query="scale=big")
    # batch: sizes checked from the .npy header before anything is allocated
    huge = (b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
            + b"{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 28, 28), }"
              .ljust(117) + b"\n")
    # (a header whose data is not there is said as such before its count is judged: the
    # count's 413 is for images that are, tests/api/test_batch.py)
    raw("batch-npy-header-claims-1e12-images", huge, "application/octet-stream", 422,
        ".npy header declares 784,000,000,000,000 bytes of data; the file holds 0: send the "
        "whole file, as np.save wrote it", path=FM + "/batch")
    short = (b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
             + b"{'descr': '|u1', 'fortran_order': False, 'shape': (10, 28, 28), }"
               .ljust(117) + b"\n" + b"\0" * 100)
    raw("batch-npy-shorter-than-its-header", short, "application/octet-stream", 422,
        ".npy header declares 7,840 bytes of data; the file holds 100: send the whole file, as "
        "np.save wrote it", path=FM + "/batch")
    # an .npy packed another way, and MNIST's own file (an API review: told only how to
    # write an .npy)
    npy = io.BytesIO()
    np.save(npy, np.zeros((2, 28, 28), np.uint8))
    raw("batch-npy-gzipped", gzip.compress(npy.getvalue(), mtime=0), "application/octet-stream",
        415, "body is an .npy or .npz compressed with gzip: gunzip it first (an .npz may be "
        "compressed inside, as np.savez_compressed writes it, and is read)", path=FM + "/batch")
    raw("batch-npy-base64", base64.b64encode(npy.getvalue()), "application/octet-stream", 415,
        "body is an .npy or .npz written as base64 text: decode it first (base64 -d)",
        path=FM + "/batch")
    idx = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 28, 28) + bytes(2 * 784)
    raw("batch-idx-gzipped", gzip.compress(idx, mtime=0), "application/octet-stream", 415,
        "body is an IDX file compressed with gzip, MNIST's own format, as in "
        "t10k-images-idx3-ubyte.gz: read its images into an array, "
        "np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(-1, 28, 28), and "
        "np.save that", path=FM + "/batch")
    # MNIST's labels file, and images' raw bytes, sent where images go (an API review)
    labels = b"\x00\x00\x08\x01" + struct.pack(">I", 4) + bytes(4)
    raw("batch-idx-labels", labels, "application/octet-stream", 415,
        "body is an IDX file, MNIST's own format for labels, as in t10k-labels-idx1-ubyte: the "
        "batch takes images; send those of t10k-images-idx3-ubyte: read its images into an "
        "array, np.frombuffer(open(path, 'rb').read(), np.uint8, offset=16).reshape(-1, 28, "
        "28), and np.save that",
        path=FM + "/batch")
    raw("batch-idx-labels-gzipped", gzip.compress(labels, mtime=0), "application/octet-stream",
        415, "body is an IDX file compressed with gzip, MNIST's own format for labels, as in "
        "t10k-labels-idx1-ubyte.gz: the batch takes images; send those of "
        "t10k-images-idx3-ubyte.gz: read its images into an array, "
        "np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(-1, 28, 28), and "
        "np.save that", path=FM + "/batch")
    raw("batch-raw-bytes", bytes(range(256)) * 12 + bytes(64), "application/octet-stream", 415,
        "body is 3,136 bytes with no header, as the raw bytes (x.tobytes()) of 28x28 images "
        "are: 4 as uint8 or 1 as float32; write them with np.save(f, images), which records "
        "their shape and type",
        path=FM + "/batch")
    # a bzip2 member, which zipfile would inflate whole whatever size it declares: 100 MB of
    # zeros in a few hundred bytes
    bomb = io.BytesIO()
    member_info = zipfile.ZipInfo("images.npy", date_time=(2026, 1, 1, 0, 0, 0))  # fixed
    member_info.compress_type = zipfile.ZIP_BZIP2
    with zipfile.ZipFile(bomb, "w") as zf, \
            zf.open(member_info, "w", force_zip64=True) as member:
        for _ in range(100):
            member.write(bytes(1_000_000))
    raw("batch-npz-bzip2-member", bomb.getvalue(), "application/octet-stream", 422,
        ".npz member 'images' is compressed with zip method 12; only stored or deflated "
        "members are read (np.savez, np.savez_compressed)", path=FM + "/batch")
    # two members of one name, which zipfile reads the last of
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as zf:
        for n in (3, 1):
            arr = io.BytesIO()
            np.save(arr, np.zeros((n, 28, 28), np.uint8))
            with warnings.catch_warnings():  # zipfile warns of the duplicate name
                warnings.simplefilter("ignore", UserWarning)
                zf.writestr(zipfile.ZipInfo("images.npy", date_time=(2026, 1, 1, 0, 0, 0)),
                            arr.getvalue())
    raw("batch-npz-member-twice", twice.getvalue(), "application/octet-stream", 422,
        ".npz holds a member named 'images' twice; np.savez writes each array once",
        path=FM + "/batch")
    # size limits
    c["oversize-declared"] = {"path": FM, "query": "", "content_type": "image/png",
                              "body_size": UPLOAD_LIMIT + 1, "status": 413, "detail": OVER_LIMIT}
    c["oversize-chunked"] = {"path": FM, "query": "", "content_type": "image/png",
                             "body_size": UPLOAD_LIMIT + 65_536, "chunked": True, "status": 413,
                             "detail": OVER_LIMIT}
    return c


def torch_save() -> bytes:
    """What torch.save(torch.zeros(1, 28, 28), f) writes, a zip whose first member is its
    pickle."""
    import torch

    buf = io.BytesIO()
    torch.save(torch.zeros(1, 28, 28), buf)
    return buf.getvalue()


def main() -> None:
    # the cases written by hand beside these (form-npy, batch-png and others) are kept
    OUT.mkdir(parents=True, exist_ok=True)
    for name, case in cases().items():
        case = dict(case)
        body = case.pop("body", None)
        if body is not None:
            (OUT / f"{name}.body").write_bytes(body)
            case["body_file"] = f"{name}.body"
        (OUT / f"{name}.json").write_text(json.dumps(case, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(cases())} cases to {OUT.relative_to(Path.cwd())}")  # noqa: T201


if __name__ == "__main__":
    main()
