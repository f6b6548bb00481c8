// The colormap: the server's viridis stops (config.colormap), linearly interpolated into a
// 256-entry table, as the server's own PNG renderer does (app/ml/render.py).

/** (256) RGB triples 0..255 from evenly spaced stops given as 0..1 floats. */
export function colorTable(stops) {
  const table = [];
  const last = stops.length - 1;
  for (let i = 0; i < 256; i += 1) {
    const t = (i / 255) * last;
    const k = Math.min(Math.floor(t), last - 1);
    const f = t - k;
    table.push([0, 1, 2].map((ch) => Math.round((stops[k][ch] + (stops[k + 1][ch] - stops[k][ch]) * f) * 255)));
  }
  return table;
}

/** The table packed for a Uint32Array view of ImageData (RGBA bytes, little-endian). */
export function packedTable(table) {
  const lut = new Uint32Array(256);
  const probe = new Uint8Array(new Uint32Array([0x01020304]).buffer);
  const little = probe[0] === 0x04;
  table.forEach(([r, g, b], i) => {
    lut[i] = little ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
  });
  return lut;
}

/** CSS colour of a level 0..255. */
export function cssColor(table, level) {
  const [r, g, b] = table[Math.max(0, Math.min(255, Math.round(level)))];
  return `rgb(${r}, ${g}, ${b})`;
}

/** Black or white, whichever contrasts more with the table's colour at `level` (by WCAG's
 * relative luminance): for text drawn on a colour of the scale. */
export function textOn(table, level) {
  return textOnRgb(table[Math.max(0, Math.min(255, Math.round(level)))]);
}

/** Black or white, whichever contrasts more with the colour [r, g, b] (0..255). */
export function textOnRgb([r, g, b]) {
  const linear = (v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const lum = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  // contrast with black (lum + 0.05) / 0.05 against white 1.05 / (lum + 0.05)
  return (lum + 0.05) ** 2 > 0.05 * 1.05 ? '#000' : '#fff';
}

/** A CSS linear-gradient running through the stops, for legends. */
export function gradientCss(stops, direction = 'to right') {
  const last = stops.length - 1;
  const parts = stops.map(([r, g, b], i) => `rgb(${Math.round(r * 255)}, ${Math.round(g * 255)}, ${Math.round(b * 255)}) ${((i / last) * 100).toFixed(1)}%`);
  return `linear-gradient(${direction}, ${parts.join(', ')})`;
}
