// The binary feature-map format (app/api/wire.py) decoded into typed arrays, and the
// small amount of arithmetic the page does on the values it holds. No drawing here.

export const MAGIC = 'FMAP';
const VERSION = 1; // the header's "version" (app/api/wire.py BINARY_VERSION)
export const SIDE = 28; // the model input is 28x28

const align4 = (n) => (n + 3) & ~3;

/**
 * Decode an application/x-featuremaps body.
 * Returns {input: Uint8Array(784), models: {name: {prediction, probabilities: Float32Array,
 * layers: [{name, kind, shape: [C, H, W], low: Float32Array, high: Float32Array,
 * q: Uint8Array}]}}}; layer.q holds C*H*W row-major levels, value = low + q/255*(high-low).
 */
export function decodeFeaturemaps(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== MAGIC) throw new Error('the server answered in an unexpected format');
  const headerLength = new DataView(buffer).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  // a page kept open (or cached) while the server moved on to another layout says so
  if (header.version !== VERSION) {
    throw new Error(`the server answered in binary format version ${header.version}, and this page reads version ${VERSION}: reload the page`);
  }
  const base = align4(8 + headerLength);
  // every float block starts on a 4-byte boundary of the payload, which starts on one too
  const floats = (ref) => new Float32Array(buffer, base + ref.offset, ref.length / 4);
  const levels = (ref) => new Uint8Array(buffer, base + ref.offset, ref.length);
  if (header.input.encoding !== 'uint8') throw new Error('the page reads uint8 maps only');
  const models = {};
  for (const [name, net] of Object.entries(header.models)) {
    models[name] = {
      prediction: net.prediction,
      probabilities: floats(net.probabilities),
      layers: net.layers.map((layer) => ({
        name: layer.name,
        kind: layer.kind,
        shape: layer.shape,
        low: floats(layer.low),
        high: floats(layer.high),
        q: levels(layer.data),
      })),
    };
  }
  // blank: no ink survived preprocessing, so the answers are guesses (the server's word);
  // timings: the server's decode and infer times in ms (the live channel has no headers)
  return { input: levels(header.input.data), blank: header.input.blank, models, timings: header.timings ?? null };
}

/** Whether 28x28 levels are all 0 (what a link would carry of them: nothing). Whether the
 * networks saw a blank is the answer's own `blank`, which counts ink below half a level. */
export function isBlank(pixels) {
  return pixels.every((v) => v === 0);
}

/** Why a value computed from the maps can differ from the unit's own in the last digits. */
export const ROUNDING = 'rounded to 256 levels a channel';

/** How far a dequantised value of `channel` can be from the float the network computed: the
 * server rounds each to the nearest of 256 levels of the channel's range, half a step.
 * (Found by a review: conv3's values, written to 3 decimals, were off by up to 0.02.) */
export function halfStep(layer, channel) {
  return (layer.high[channel] - layer.low[channel]) / 510;
}

/** One unit's value, dequantised: low + q/255 * (high - low) of its channel. */
export function valueAt(layer, channel, row, col) {
  const [, h, w] = layer.shape;
  const q = layer.q[(channel * h + row) * w + col];
  return layer.low[channel] + (q / 255) * (layer.high[channel] - layer.low[channel]);
}

/**
 * What a conv unit at (row, col) adds up before its ReLU, one part per channel of the layer
 * before, `prev`: that channel's filter, weights[channel] (kernel x kernel), times the window
 * of it the unit reads (`reads` as /api/v1/models gives it: kernel, stride, padding; outside
 * the map counts 0), from the dequantised 8-bit maps. The parts plus the bias are the sum.
 */
export function convParts(prev, weights, reads, row, col) {
  const [channels, h, w] = prev.shape;
  const r0 = row * reads.stride - reads.padding;
  const c0 = col * reads.stride - reads.padding;
  const parts = new Float64Array(channels);
  for (let ch = 0; ch < channels; ch += 1) {
    const lo = prev.low[ch];
    const step = (prev.high[ch] - lo) / 255;
    let sum = 0;
    for (let i = 0; i < reads.kernel; i += 1) {
      const r = r0 + i;
      if (r < 0 || r >= h) continue;
      for (let j = 0; j < reads.kernel; j += 1) {
        const c = c0 + j;
        if (c >= 0 && c < w) sum += weights[ch][i][j] * (lo + prev.q[(ch * h + r) * w + c] * step);
      }
    }
    parts[ch] = sum;
  }
  return parts;
}

/** The lowest and highest value anywhere in a layer (its per-channel lows and highs). */
export function layerRange(layer) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let c = 0; c < layer.low.length; c += 1) {
    lo = Math.min(lo, layer.low[c]);
    hi = Math.max(hi, layer.high[c]);
  }
  return { lo, hi };
}

/** The range channel `channel` of `layer` is painted at: its own, or under `norm` 'layer'
 * the whole layer's (paint.js's two colour scales). */
export function paintedRange(layer, norm, channel) {
  return norm === 'layer' ? layerRange(layer) : { lo: layer.low[channel], hi: layer.high[channel] };
}

/** The first highest unit of channel `channel` of `layer`, as quantised, in the maps' order
 * (rows, then columns): [row, col]; [0, 0] where every unit reads the same. */
export function strongestUnit(layer, channel) {
  const [, h, w] = layer.shape;
  const plane = layer.q.subarray(channel * h * w, (channel + 1) * h * w);
  let best = 0;
  for (let i = 1; i < plane.length; i += 1) if (plane[i] > plane[best]) best = i;
  return [Math.floor(best / w), best % w];
}

/**
 * Max and mean of a window of one channel, rows r0..r1 and cols c0..c1 inclusive.
 * The winner is the first largest cell in row-major order (ReLU zeros can tie).
 */
export function windowStats(layer, channel, [r0, r1], [c0, c1]) {
  let best = -Infinity;
  let winner = null;
  let sum = 0;
  let ties = 0; // how many hold the max
  const values = []; // row by row
  for (let r = r0; r <= r1; r += 1) {
    for (let c = c0; c <= c1; c += 1) {
      const v = valueAt(layer, channel, r, c);
      values.push(v);
      sum += v;
      if (v > best) {
        best = v;
        winner = [r, c];
        ties = 1;
      } else if (v === best) {
        ties += 1;
      }
    }
  }
  return { max: best, winner, mean: sum / values.length, count: values.length, ties, values };
}

/** How many of an image's pixels hold any ink (a level above 0). */
export function inked(q) {
  let count = 0;
  for (const v of q) if (v > 0) count += 1;
  return count;
}

/** A 28x28 uint8 image moved dx right and dy down, zero fill (app/ml/shifts.py's shift). */
export function shiftPixels(q, dx, dy, side = SIDE) {
  const out = new Uint8Array(side * side);
  for (let y = 0; y < side; y += 1) {
    const sy = y - dy;
    if (sy < 0 || sy >= side) continue;
    for (let x = 0; x < side; x += 1) {
      const sx = x - dx;
      if (sx >= 0 && sx < side) out[y * side + x] = q[sy * side + sx];
    }
  }
  return out;
}

/** The JSON body that hands the server a 28x28 model input as it is (no preprocessing). */
export function pixelsJson(q, side = SIDE) {
  const rows = [];
  for (let y = 0; y < side; y += 1) {
    rows.push(Array.from(q.subarray(y * side, (y + 1) * side), (v) => v / 255));
  }
  return JSON.stringify({ pixels: rows, preprocess: false });
}

/** The bytes of a base64 string (a sample digit's 28x28 grey levels, as the server gives them). */
export function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
