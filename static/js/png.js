// A synchronous PNG encoder for small greyscale images. canvas.toBlob is asynchronous and,
// measured on the drawing page, took ~20 ms per call; this takes well under a millisecond
// for the 112x112 drawing. The pixels are stored uncompressed (deflate "stored" blocks):
// 12.7 kB over a local connection costs less than compressing it would.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes, start, end) {
  let c = 0xffffffff;
  for (let i = start; i < end; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes) {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** PNG bytes of a width x height 8-bit greyscale image given row-major in `grey`. */
export function encodeGreyPng(grey, width, height) {
  // raw scanlines: filter type 0 (none) then the row
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y += 1) raw.set(grey.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const zlibLength = 2 + raw.length + blocks * 5 + 4;
  const total = 8 + (12 + 13) + (12 + zlibLength) + 12;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  let at = 8;
  const chunk = (type, length, fill) => {
    view.setUint32(at, length);
    for (let i = 0; i < 4; i += 1) out[at + 4 + i] = type.charCodeAt(i);
    fill(at + 8);
    view.setUint32(at + 8 + length, crc32(out, at + 4, at + 8 + length));
    at += 12 + length;
  };
  chunk('IHDR', 13, (p) => {
    view.setUint32(p, width);
    view.setUint32(p + 4, height);
    out.set([8, 0, 0, 0, 0], p + 8); // 8-bit, greyscale, deflate, no filter set, no interlace
  });
  chunk('IDAT', zlibLength, (p) => {
    out[p] = 0x78; // zlib: deflate, 32 K window
    out[p + 1] = 0x01; // no preset dictionary, fastest (header checksum holds: 0x7801 % 31 === 0)
    let q = p + 2;
    for (let b = 0; b < blocks; b += 1) {
      const from = b * 65535;
      const len = Math.min(65535, raw.length - from);
      out[q] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
      out[q + 1] = len & 0xff;
      out[q + 2] = len >>> 8;
      out[q + 3] = ~len & 0xff;
      out[q + 4] = (~len >>> 8) & 0xff;
      out.set(raw.subarray(from, from + len), q + 5);
      q += 5 + len;
    }
    view.setUint32(q, adler32(raw));
  });
  chunk('IEND', 0, () => {});
  return out;
}
