// Receptive fields, pooling windows (the conventions of app/ml/receptive.py) and where each
// unit of a layer sits in the canvas that holds the layer's grid of channels.

import { UI } from './config.js';

/** Cell [row, col] moved by a grid key (UI.gridKeys): one step in an arrow key's direction
 * (UI.nudges), or to its row's first or last cell ('home', 'end') or its column's ('top',
 * 'bottom'), kept inside a grid of rows x cols: the keyboard cursor of the maps, the
 * enlarged channel and the shift lab. */
export function stepCell([row, col], direction, rows, cols) {
  const ends = { home: [row, 0], end: [row, cols - 1], top: [0, col], bottom: [rows - 1, col] };
  if (ends[direction]) return ends[direction];
  const [dx, dy] = UI.nudges[direction];
  return [Math.max(0, Math.min(rows - 1, row + dy)), Math.max(0, Math.min(cols - 1, col + dx))];
}

/** Inclusive input pixel range [lo, hi] seen by unit `index` on one axis, clipped. */
export function fieldSpan(field, index, limit = 28) {
  const centre = field.start + index * field.jump;
  const lo = Math.ceil(centre - (field.size - 1) / 2);
  const hi = Math.floor(centre + (field.size - 1) / 2);
  return [Math.max(0, lo), Math.min(limit - 1, hi)];
}

/** The sides of a layer's first and last units' receptive fields once the image's edge cuts
 * them, [least, most]: a corner unit's field is least x least to most x most; both are the
 * field's size where nothing is cut (found by reviews: blurmax's blur pools pad past the
 * edge, so its conv3 "sees 24x24" held for its centre unit alone, and its corners see 21 and
 * 23 px a side: its units sit off the image's centre). A layer of `info` (/api/v1/models)
 * has square maps. "Why downsample?" names blurmax's, whose outer units the trace then
 * outlines clipped to the image. */
export function cornerFields(info, limit = 28) {
  const side = (i) => {
    const [lo, hi] = fieldSpan(info.receptive_field, i, limit);
    return hi - lo + 1;
  };
  const ends = [side(0), side(info.shape[1] - 1)];
  return [Math.min(...ends), Math.max(...ends)];
}

/**
 * How many of each layer's last rows, and columns (maps are square), reach no unit of the
 * network's last layer: {name: count, ..., input: count}, for `layers` as /api/v1/models
 * lists them, each reading the one before. A side that a pool's stride does not divide
 * leaves its source's last units unread, and the units they alone read with them: in max,
 * conv2's last row, pool1's, conv1's last 2 and the input's last 2 (a review: the note said
 * only the first and the input's).
 */
export function unreadTails(layers, limit = 28) {
  const tails = {};
  let dead = 0;
  for (let i = layers.length - 1; i >= 0; i -= 1) {
    const { name, shape, reads } = layers[i];
    tails[name] = dead;
    dead = unreadRows(i > 0 ? layers[i - 1].shape[1] : limit, shape[1] - dead, reads);
  }
  tails.input = dead;
  return tails;
}

/** How many of the last rows (and columns) of a side of `side` units the first `units`
 * windows of a layer (`reads`: kernel, stride, padding; the first window at -padding) leave
 * unread: where the stride does not divide the side, as pool2 rounds 11 down to 5. */
export function unreadRows(side, units, reads) {
  const lastRead = (units - 1) * reads.stride - (reads.padding ?? 0) + reads.kernel - 1;
  return Math.max(0, side - 1 - lastRead);
}

/** n of a map's last rows and columns, in words: "row and column", "2 rows and columns";
 * `and`: "or" where one of them is meant. */
export const rowsAnd = (n, and = 'and') => (n > 1 ? `${n} rows ${and} columns` : `row ${and} column`);

/** Inclusive range [lo, hi] of units of the layer before that unit `index` reads, clipped. */
export function windowSpan(reads, index, limit) {
  const lo = index * reads.stride - reads.padding;
  return [Math.max(0, lo), Math.min(limit - 1, lo + reads.kernel - 1)];
}

/**
 * A layer's channels laid out in a grid: `columns` channels per row, `gap` empty pixels
 * between them. Sizes are in map units (one canvas pixel per unit).
 */
export function gridLayout([channels, h, w], columns, gap) {
  const cols = Math.min(columns, channels);
  const rows = Math.ceil(channels / cols);
  return {
    channels, h, w, gap, columns: cols, rows,
    width: cols * (w + gap) - gap,
    height: rows * (h + gap) - gap,
  };
}

/** Top-left canvas pixel of a channel's map. */
export function cellOrigin(layout, channel) {
  const row = Math.floor(channel / layout.columns);
  const col = channel % layout.columns;
  return { x: col * (layout.w + layout.gap), y: row * (layout.h + layout.gap) };
}

/** The unit under canvas point (x, y) (canvas pixels, fractional), or null over a gap. */
export function hitTest(layout, x, y) {
  if (x < 0 || y < 0 || x >= layout.width || y >= layout.height) return null;
  const cx = Math.floor(x / (layout.w + layout.gap));
  const cy = Math.floor(y / (layout.h + layout.gap));
  const col = Math.floor(x - cx * (layout.w + layout.gap));
  const row = Math.floor(y - cy * (layout.h + layout.gap));
  const channel = cy * layout.columns + cx;
  if (col >= layout.w || row >= layout.h || channel >= layout.channels) return null;
  return { channel, row, col };
}

/** The unit nearest canvas point (x, y) of the grid, for a finger: a tap in the gutter
 * between two channels goes to the nearer one, at its nearest unit (a review: on a phone 4 in
 * 10 taps on conv3's channels, whose gutters are 5 px of every 22, enlarged nothing); null
 * outside the grid, or past the last channel of a short last row. */
export function nearestUnit(layout, x, y) {
  if (x < 0 || y < 0 || x >= layout.width || y >= layout.height) return null;
  // the cell whose side of the gutter's middle the point is on, and the unit of it nearest
  const along = (v, size, cells) => {
    const span = size + layout.gap;
    const cell = Math.min(cells - 1, Math.floor((v + layout.gap / 2) / span));
    return [cell, Math.min(size - 1, Math.max(0, Math.floor(v - cell * span)))];
  };
  const [cx, col] = along(x, layout.w, layout.columns);
  const [cy, row] = along(y, layout.h, layout.rows);
  const channel = cy * layout.columns + cx;
  return channel < layout.channels ? { channel, row, col } : null;
}

/** Canvas rectangle {x, y, w, h} covering units rows r0..r1, cols c0..c1 of a channel. */
export function unitsRect(layout, channel, [r0, r1], [c0, c1]) {
  const o = cellOrigin(layout, channel);
  return { x: o.x + c0, y: o.y + r0, w: c1 - c0 + 1, h: r1 - r0 + 1 };
}
