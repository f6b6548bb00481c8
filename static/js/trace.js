// Tracing one unit: outline it, outline the window of the layer before that it reads (with
// the winner for max pooling, the mean for average pooling) and its receptive field on the
// 28x28 input. What is outlined is also written into data attributes on the marks, so a
// test can compare it with the API's numbers.

import { UI } from './config.js';
import { HeightHold, el, fmt, fmtRead, placeMark, roundingAside, span } from './dom.js';
import { fieldSpan, unitsRect, unreadTails, windowSpan } from './geometry.js';
import { ROUNDING, halfStep, valueAt, windowStats } from './wire.js';

const MINI = 4; // canvas pixels per input pixel in the mirrors' picture of the input (page.css shows 3 CSS px)

/**
 * Paint `canvas` (28 * MINI square) with the input `q` (784 grey levels) and outline the
 * receptive field rows x cols on it, as the mark on the 28x28 view does (page.css's
 * .mark-field): the mirrors show far from that view (found by a review: on a phone the
 * enlarged channel said "sees input rows 10-13" of a picture three screens up).
 */
export function paintField(canvas, q, rows, cols) {
  const side = 28 * MINI;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(side, side);
  const px = new Uint32Array(image.data.buffer);
  for (let y = 0; y < side; y += 1) {
    for (let x = 0; x < side; x += 1) {
      const v = q ? q[Math.floor(y / MINI) * 28 + Math.floor(x / MINI)] : 0;
      px[y * side + x] = 0xff000000 | (v << 16) | (v << 8) | v; // little-endian RGBA
    }
  }
  ctx.putImageData(image, 0, 0);
  const x = cols[0] * MINI;
  const y = rows[0] * MINI;
  const w = (cols[1] - cols[0] + 1) * MINI;
  const h = (rows[1] - rows[0] + 1) * MINI;
  ctx.fillStyle = 'rgba(255, 79, 109, 0.28)'; // page.css's .mark-field, in --on-map-hot
  ctx.fillRect(x, y, w, h);
  ctx.strokeStyle = '#ff4f6d';
  ctx.lineWidth = 2;
  ctx.strokeRect(x + 1, y + 1, w - 2, h - 2);
}

export class Tracer {
  #marks = {};
  #minis = new Map(); // mirror -> its picture of the input
  #tailsOf = new Map(); // network -> its unreadTails
  #height; // the readout's HeightHold

  /**
   * `grid`: the MapGrid; `inputOverlay`: the element over the 28x28 view; `readout`: where
   * the words go; `mirrors`: other places for them: the enlarged channel's lines, shown
   * where the page is one column and the readout is far above the maps, and a tip at the
   * bottom of the window, shown while a mouse hovers the maps and the readout is not wholly
   * in view (body[data-readout-away]); `infos`: {net: its /api/v1/models entry}.
   */
  constructor({ grid, inputOverlay, readout, mirrors = [], infos }) {
    this.grid = grid;
    this.inputOverlay = inputOverlay;
    this.readout = readout;
    this.mirrors = mirrors;
    this.infos = infos;
    this.idle = [...readout.childNodes]; // the hint, its hover and touch wordings kept apart
    // a pool unit's readout has a line more than a conv unit's, and a tie or a rounding note
    // one more: the note and the nudge panel below it would jump as the pointer crosses the
    // layers. Held until the input is replaced (`release`)
    this.#height = new HeightHold(readout);
    // while the readout is not wholly in view, page.css shows the tip among the mirrors
    new IntersectionObserver(([entry]) => {
      document.body.toggleAttribute('data-readout-away', entry.intersectionRatio < 0.99);
    }, { threshold: [0, 0.99] }).observe(readout);
  }

  /** A stroke, a Clear, a sample or an upload replaces the input: the readout gives back
   * the room it held for the longest unit read since (a long-session review: held for
   * good, at 254 px by the session's end, it left a gap over the nudge panel under a 55 px
   * hint). Not as the pointer leaves the maps: the nudge panel under the readout then
   * moved up as the pointer went on to its buttons (a review of that). */
  release() {
    this.#height.release();
  }

  #mark(role) {
    if (!this.#marks[role]) this.#marks[role] = el('div', { class: `mark mark-${role}`, hidden: true });
    return this.#marks[role];
  }

  #put(role, overlay, rect, width, height, data) {
    const mark = this.#mark(role);
    if (mark.parentElement !== overlay) overlay.append(mark);
    for (const key of Object.keys(mark.dataset)) delete mark.dataset[key];
    Object.assign(mark.dataset, data);
    placeMark(mark, rect, width, height);
    return mark;
  }

  clear() {
    for (const mark of Object.values(this.#marks)) mark.hidden = true;
    this.readout.replaceChildren(...this.idle.map((n) => n.cloneNode(true)));
    for (const mirror of this.mirrors) mirror.textContent = '';
  }

  /** Trace unit hit = {net, layer, channel, row, col} of `result` (a decoded response). */
  show(hit, result) {
    this.clear();
    const maps = result?.models[hit.net];
    const info = this.infos[hit.net]?.layers.find((l) => l.name === hit.layer);
    if (!maps || !info) return;
    const data = maps.layers.find((l) => l.name === hit.layer);
    const { channel, row, col } = hit;
    const value = valueAt(data, channel, row, col);
    const unit = { net: hit.net, layer: hit.layer, channel, row, col, value: value.toFixed(6) };

    const cell = this.grid.cell(hit.net, hit.layer);
    if (cell) this.#put('unit', cell.overlay, unitsRect(cell.layout, channel, [row, row], [col, col]), cell.layout.width, cell.layout.height, unit);

    const rows = fieldSpan(info.receptive_field, row);
    const cols = fieldSpan(info.receptive_field, col);
    this.#put('field', this.inputOverlay, { x: cols[0], y: rows[0], w: cols[1] - cols[0] + 1, h: rows[1] - rows[0] + 1 }, 28, 28,
      { ...unit, row0: rows[0], row1: rows[1], col0: cols[0], col1: cols[1], size: info.receptive_field.size });

    // a channel 0 on every MNIST test digit is said to be, where its blank square is pointed
    // at (the enlarged channel says why: inspector.js deadNote)
    const dead = info.silent_channels?.includes(channel) ? ' (dead on MNIST\'s test digits)' : '';
    const lines = [
      el('strong', { text: `${hit.net} ${hit.layer}` }), `, channel ${channel}${dead}, unit (row ${row}, col ${col}) = ${fmtRead(value, halfStep(data, channel))}`,
    ];
    if (info.kind === 'pool') lines.push(el('br'), ...this.#window(hit, info, maps, unit, value));
    // the tip and the enlarged channel show far from the input: page.css hides the words
    // that point to it there (found by a review)
    // an outer unit of blurmax, whose blur pools pad past the image, sees less of its field
    // than its size: said, or "rows 0-20 (its 24x24 ...)" reads as a miscount (a review)
    const size = info.receptive_field.size;
    const [tall, wide] = [rows[1] - rows[0] + 1, cols[1] - cols[0] + 1];
    const shape = tall === wide ? `${tall}x${wide}` : `${tall} rows by ${wide} cols`;
    const cut = tall < size || wide < size ? `, cut to ${shape} by the image's edge` : '';
    lines.push(el('br'), `sees input rows ${span(rows)}, cols ${span(cols)} (its ${size}x${size} receptive field${cut}`,
      el('span', { class: 'on-input', text: ', outlined on the input' }),
      el('span', { class: 'on-mini', text: ', outlined on the input at left' }), ')');
    // a unit in the last rows or columns whose effect never reaches the last layer
    // (geometry.unreadTails): its value, however high, cannot change the answer (a teacher's review: sample 7's
    // strongest conv1 response sits there)
    const tail = this.#tails(hit.net)[hit.layer] ?? 0;
    if (row >= info.shape[1] - tail || col >= info.shape[2] - tail) {
      const last = this.infos[hit.net]?.layers.at(-1)?.name ?? 'the last layer';
      lines.push(el('br'), `its effect never reaches ${last}: it cannot change the answer`);
    }
    this.readout.replaceChildren(...lines);
    for (const mirror of this.mirrors) {
      mirror.replaceChildren(this.#mini(mirror, result.input, rows, cols),
        ...lines.map((n) => (typeof n === 'string' ? n : n.cloneNode(true))));
    }
  }

  /** unreadTails of network `net`, worked out once. */
  #tails(net) {
    if (!this.#tailsOf.has(net)) this.#tailsOf.set(net, unreadTails(this.infos[net]?.layers ?? []));
    return this.#tailsOf.get(net);
  }

  /** The mirror's picture of the input with the receptive field outlined, painted anew. */
  #mini(mirror, q, rows, cols) {
    let canvas = this.#minis.get(mirror);
    if (!canvas) {
      canvas = el('canvas', { class: 'trace-mini', width: 28 * MINI, height: 28 * MINI, 'aria-hidden': 'true' });
      this.#minis.set(mirror, canvas);
    }
    paintField(canvas, q, rows, cols);
    return canvas;
  }

  #window(hit, info, maps, unit, value) {
    const { reads } = info;
    const prev = maps.layers.find((l) => l.name === reads.layer);
    const [, h, w] = prev.shape;
    const rows = windowSpan(reads, hit.row, h);
    const cols = windowSpan(reads, hit.col, w);
    const stats = windowStats(prev, hit.channel, rows, cols);
    const op = UI.poolOp[hit.net] ?? null;
    const data = {
      ...unit, layer: reads.layer, pool: hit.layer, op: op ?? 'other',
      row0: rows[0], row1: rows[1], col0: cols[0], col1: cols[1],
      max: stats.max.toFixed(6), mean: stats.mean.toFixed(6),
    };
    const [wr, wc] = stats.winner;
    if (op === 'max') Object.assign(data, { winnerRow: wr, winnerCol: wc });
    const cell = this.grid.cell(hit.net, reads.layer);
    if (cell) {
      this.#put('window', cell.overlay, unitsRect(cell.layout, hit.channel, rows, cols), cell.layout.width, cell.layout.height, data);
      if (op === 'max') {
        this.#put('winner', cell.overlay, unitsRect(cell.layout, hit.channel, [wr, wr], [wc, wc]), cell.layout.width, cell.layout.height, { ...data });
      }
    }
    const where = `reads ${reads.layer} channel ${hit.channel}, rows ${span(rows)}, cols ${span(cols)}`;
    // what the window holds, beside what the pool keeps of it: the one line where max and
    // avg differ, readable where the mark is not (a page scrolled to a pool layer has the
    // conv map before it under the sticky predictions); laid out as the window is (a pool
    // window on this page is 2x2), its kept value marked for max (a teacher's review asked
    // to see the 2x2; a student's found "a, b; c, d" hard to read as one); a screen reader
    // hears it row by row instead, once
    const across = cols[1] - cols[0] + 1;
    const held = [];
    for (let i = 0; i < stats.values.length; i += across) {
      held.push(stats.values.slice(i, i + across).map((v) => fmt(v)).join(', '));
    }
    const winnerAt = op === 'max' && stats.ties < stats.count ? (wr - rows[0]) * across + (wc - cols[0]) : -1;
    const grid = el('span', { class: 'window-grid', 'aria-hidden': 'true' },
      ...stats.values.map((v, i) => el('span', { class: i === winnerAt ? 'kept' : null, text: fmt(v) })));
    // the colon on the grid's line: one that wrapped read as orphaned (a review)
    const holding = [`${where} `, el('span', { class: 'visually-hidden', text: `(${held.join('; ')})` }),
      el('span', { class: 'nowrap' }, grid, ':')];
    // Both numbers are read from 8-bit maps, each layer's channel rounded to 256 levels of its
    // own range, so the kept value and the unit's can differ in the last digit shown: say why.
    const rounding = roundingAside(op === 'max' ? stats.max : stats.mean, value);
    // a window of ReLU zeros (or of any one level) has no one winner the page can name: values
    // on one level can differ by up to a step (found by a review: "the first of 2 that tie"
    // marked the smaller of 0.7860 and 0.7863); the rounding is said once
    const same = rounding ? '' : ` (${ROUNDING})`;
    // which map the mark is on: on a phone the enlarged channel says this far from it (a review)
    const on = `marked on ${reads.layer}'s map`;
    if (op === 'max' && stats.ties === stats.count) return [...holding, ` all ${stats.count} read the same${same}, so the first is ${on}${rounding}`];
    const tied = stats.ties > 1 ? `, the first of ${stats.ties} that read the same${same}` : '';
    // and what the other pooling would keep of the same values (found by a student's review:
    // max's and avg's units at one place read different windows, as the networks differ, so
    // comparing across the columns taught that avg can keep more than max)
    if (op === 'max') {
      return [...holding, ` keeps the max, ${fmt(stats.max)} at (row ${wr}, col ${wc})${tied}, ${on}${rounding}; `
        + `the mean would be ${fmt(stats.mean)}`];
    }
    if (op === 'mean') return [...holding, ` keeps their mean, ${fmt(stats.mean)}${rounding}; the max would be ${fmt(stats.max)}`];
    // blurmax's: a 3x3 blur of the maxima of the 2x2 windows in it, which is neither the
    // window's max nor its mean (a teacher's review: given alone, they read as what it kept)
    return [`${where} (outlined): ${hit.net} keeps a 3x3 blur of the maxima of the 2x2 windows in it `
      + `(the window's max is ${fmt(stats.max)}, its mean ${fmt(stats.mean)})`];
  }
}
