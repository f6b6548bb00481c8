// A synchronous PNG encoder for small greyscale images. canvas.toBlob is asynchronous and,
// measured on the drawing page, took ~20 ms per call; this takes well under a millisecond
// for the 112x112 drawing. Its pixels are deflated with the format's fixed codes and one
// kind of match, a run of the byte before (distance 1): a drawing is mostly runs of black
// paper and of full ink, and its 12.7 kB of pixels go as about 1 kB, at a cost too small to
// see beside the round trip, where a slow link (a school's, a phone's) would wait for them.

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

// Deflate's fixed code for each literal/length symbol (RFC 1951, 3.2.6), bit-reversed, as
// the stream takes its bits from the least significant end: [code, length]
const FIXED = (() => {
  const codes = [];
  for (let sym = 0; sym < 288; sym += 1) {
    let code;
    let bits;
    if (sym < 144) [code, bits] = [0x30 + sym, 8];
    else if (sym < 256) [code, bits] = [0x190 + sym - 144, 9];
    else if (sym < 280) [code, bits] = [sym - 256, 7];
    else [code, bits] = [0xc0 + sym - 280, 8];
    let reversed = 0;
    for (let i = 0; i < bits; i += 1) reversed |= ((code >>> i) & 1) << (bits - 1 - i);
    codes.push([reversed, bits]);
  }
  return codes;
})();

// lengths 3..258 of a match: [symbol, extra bits, their value]
const LENGTHS = (() => {
  const out = [];
  let length = 3;
  for (let sym = 257; sym < 285; sym += 1) {
    const extra = sym < 265 ? 0 : Math.floor((sym - 261) / 4);
    for (let v = 0; v < 1 << extra; v += 1) out[length + v] = [sym, extra, v];
    length += 1 << extra;
  }
  out[258] = [285, 0, 0]; // 258 has a code of its own; 284 with 31 in its extra bits is not valid
  return out;
})();

const MAX_RUN = 258;

/** The deflate stream (one fixed-code block) of `raw`: each byte a literal, or, where it
 * repeats the byte before 3 or more times, a match of that run at distance 1. */
function deflateRuns(raw) {
  const out = new Uint8Array(raw.length + (raw.length >>> 3) + 16); // 9 bits a literal at most
  let at = 0;
  let buffer = 0; // bits not yet written, the oldest lowest
  let held = 0;
  const put = (value, bits) => {
    buffer |= value << held;
    held += bits;
    while (held >= 8) {
      out[at] = buffer & 0xff;
      at += 1;
      buffer >>>= 8;
      held -= 8;
    }
  };
  const symbol = (sym) => put(...FIXED[sym]);
  put(0b011, 3); // BFINAL 1, BTYPE 01 (fixed codes)
  let i = 0;
  while (i < raw.length) {
    const byte = raw[i];
    symbol(byte);
    i += 1;
    let run = 0;
    while (i + run < raw.length && raw[i + run] === byte && run < MAX_RUN) run += 1;
    if (run < 3) continue;
    const [sym, extra, value] = LENGTHS[run];
    symbol(sym);
    if (extra) put(value, extra);
    put(0, 5); // distance code 0: distance 1, no extra bits
    i += run;
  }
  symbol(256); // end of block
  if (held > 0) put(0, 8 - held);
  return out.subarray(0, at);
}

/** PNG bytes of a width x height 8-bit greyscale image given row-major in `grey`. */
export function encodeGreyPng(grey, width, height) {
  // raw scanlines: filter type 0 (none) then the row
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y += 1) raw.set(grey.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const deflated = deflateRuns(raw);
  const zlibLength = 2 + deflated.length + 4;
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
    out.set(deflated, p + 2);
    view.setUint32(p + 2 + deflated.length, adler32(raw));
  });
  chunk('IEND', 0, () => {});
  return out;
}
