// "One map, downsampled three ways", in the article's argument under Why downsample?: one
// channel of the first network's conv1 on the input shown, and beside it the same map
// max-pooled and mean-pooled (2x2 windows, stride 2) and read at every second unit (what a
// stride-2 convolution with the same filter computes), all four at one colour scale and large.
// The max keeps each window's strongest response, the mean dilutes it with the weaker ones
// around it, the stride keeps whichever unit it lands on: the article's reasons for max, on
// one map and nothing else (max's, avg's and strided's own maps come from networks whose
// conv1s differ). Asked for by a teacher's review: the poolings could not be compared on one
// channel at one colour scale, in type a room can read; the stride was added when the
// article's box was found silent on strided convolutions.

import { el, fmt } from './dom.js';
import { rowsAnd, unreadTails } from './geometry.js';
import { paintLayer, sizeLayerCanvas } from './paint.js';
import { strongestUnit, windowStats } from './wire.js';

/**
 * Channel `c` of a (C, H, W) layer, dequantised, downsampled over 2x2 windows with stride 2 (a
 * last odd row or column unread, as MaxPool2d(2) and AvgPool2d(2) leave it): {max, mean,
 * stride}, each a Float32Array of (H/2) x (W/2), row-major; `stride` is each window's first
 * unit, the map a stride-2 convolution with the same filter would give (13 x 13 of conv1's
 * 26 x 26 here, as the strided network's conv1 is).
 */
export function downsampled(layer, c) {
  const [, h, w] = layer.shape;
  const [ph, pw] = [Math.floor(h / 2), Math.floor(w / 2)];
  const max = new Float32Array(ph * pw);
  const mean = new Float32Array(ph * pw);
  const stride = new Float32Array(ph * pw);
  for (let r = 0; r < ph; r += 1) {
    for (let col = 0; col < pw; col += 1) {
      // each window as the trace reads it, so its max and mean are the readout's
      const window = windowStats(layer, c, [2 * r, 2 * r + 1], [2 * col, 2 * col + 1]);
      max[r * pw + col] = window.max;
      mean[r * pw + col] = window.mean;
      stride[r * pw + col] = window.values[0]; // row by row: (2r, 2col) first
    }
  }
  return { max, mean, stride, shape: [ph, pw] };
}

/** A one-channel layer of `values` quantised on the range lo..hi, for paint.js. */
function onScale(values, [h, w], lo, hi) {
  const q = new Uint8Array(values.length);
  const span = hi - lo || 1;
  for (let i = 0; i < values.length; i += 1) q[i] = Math.round(((values[i] - lo) / span) * 255);
  return { shape: [1, h, w], q, low: [lo], high: [hi] };
}

const top = (values) => values.reduce((a, b) => Math.max(a, b), -Infinity);

/** What each of the four frames will show, before there is an input. */
const EMPTY_CAPTIONS = Object.freeze({ conv: 'conv1, one channel', max: 'max-pooled', mean: 'mean-pooled', stride: 'stride 2' });

export class PoolFigure {
  #channel = null; // chosen by the user; else the strongest on each input
  #result = null;

  /** `net`: the /api/v1/models entry whose conv1 is shown; `lut`, `gradient`: the maps'
   * colour table and its CSS gradient. */
  constructor(net, { lut, gradient }) {
    this.net = net;
    this.conv1 = net.layers.find((l) => l.name === 'conv1'); // its channels, the dead among them
    // conv1's last rows and columns that never reach the last layer (geometry.unreadTails)
    this.unread = unreadTails(net.layers).conv1 ?? 0;
    this.lut = lut;
    const canvas = (name) => el('canvas', { class: 'pool-canvas', 'aria-hidden': 'true', dataset: { part: name } });
    this.canvases = { conv: canvas('conv'), max: canvas('max'), mean: canvas('mean'), stride: canvas('stride') };
    this.captions = { conv: el('figcaption'), max: el('figcaption'), mean: el('figcaption'), stride: el('figcaption') };
    this.said = el('p', { class: 'pool-said' });
    // said to a screen reader when a step asks for it, not at every input: the figure is
    // screens below the pad (a review: it was read out after every stroke)
    this.stepSaid = el('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    this.lo = el('span', { class: 'tick' });
    this.hi = el('span', { class: 'tick' });
    const bar = el('span', { class: 'bar' });
    bar.style.backgroundImage = gradient;
    this.prev = el('button', { type: 'button', class: 'icon', 'aria-label': 'previous channel', text: '◀' });
    this.next = el('button', { type: 'button', class: 'icon', 'aria-label': 'next channel', text: '▶' });
    // back to the strongest channel of each input, once a channel has been stepped to (a
    // student's review: a channel chosen stayed through every later input, with no way back)
    this.strongest = el('button', { type: 'button', class: 'strongest', text: 'strongest',
      title: 'Show the strongest channel of each input again', disabled: true });
    this.prev.addEventListener('click', () => this.#step(-1));
    this.next.addEventListener('click', () => this.#step(1));
    this.strongest.addEventListener('click', () => {
      this.#channel = null;
      this.show(this.#result);
      this.stepSaid.textContent = this.said.textContent;
      if (document.activeElement === this.strongest) (this.prev.disabled ? this.next : this.prev).focus();
    });
    const part = (name) => el('figure', { class: 'pool-part' }, this.canvases[name], this.captions[name]);
    this.root = el('div', { class: 'pooling', id: 'pooling' },
      el('h4', { text: 'One map, downsampled three ways' }),
      el('p', { class: 'note' }, `One channel of ${net.name}'s conv1 on the input shown, and the same map `
        + 'max-pooled and mean-pooled (2x2 windows, stride 2) and read at every second row and column (one unit in four), '
        + `which is what a stride-2 convolution with ${net.name}'s filter computes (not the strided network's own conv1, `
        + 'whose filters were trained for the stride); all at one colour scale. The max keeps each window\'s strongest '
        + 'response, the mean dilutes it with the weaker ones beside it, the stride keeps whichever unit it lands on. '
        + 'Keeping the peak is what max does, not proof that it answers better: max, avg and strided '
        + 'are about as accurate on MNIST (the table above). '
        + 'It shows each input\'s strongest channel until you step to another with ◀ ▶; "strongest" goes back to it.'),
      el('div', { class: 'pool-row' }, part('conv'), part('max'), part('mean'), part('stride')),
      el('div', { class: 'pool-foot' },
        el('div', { class: 'legend-bar', 'aria-hidden': 'true' }, this.lo, bar, this.hi),
        el('div', { class: 'pool-steps' }, this.prev, this.next, this.strongest)),
      this.said, this.stepSaid);
    this.show(null);
  }

  /** Draw channel `this.#channel` (or the strongest) of `result`'s conv1 (null: no input). */
  show(result) {
    this.#result = result;
    const conv = result?.models[this.net.name]?.layers.find((l) => l.name === 'conv1');
    this.prev.disabled = !conv;
    this.next.disabled = !conv;
    this.strongest.disabled = this.#channel === null;
    if (!conv) {
      for (const c of Object.values(this.canvases)) c.getContext('2d').clearRect(0, 0, c.width, c.height);
      // each empty frame named, not four bare boxes (a review: they read as broken)
      for (const [name, f] of Object.entries(this.captions)) f.textContent = EMPTY_CAPTIONS[name];
      this.lo.textContent = '';
      this.hi.textContent = '';
      this.said.textContent = 'Draw or pick a digit to see one of its conv1 maps downsampled three ways.';
      delete this.root.dataset.channel;
      return;
    }
    const [channels, h, w] = conv.shape;
    let channel = this.#channel;
    if (channel === null) {
      channel = 0;
      for (let c = 1; c < channels; c += 1) if (conv.high[c] > conv.high[channel]) channel = c;
    }
    const { max, mean, stride, shape } = downsampled(conv, channel);
    const [lo, hi] = [conv.low[channel], conv.high[channel]];
    const size = (canvas, [ch, cw]) => sizeLayerCanvas(canvas, [1, ch, cw], 1, 0);
    paintLayer(this.canvases.conv, conv, size(this.canvases.conv, [h, w]), this.lut, 'channel', channel);
    for (const [name, values] of [['max', max], ['mean', mean], ['stride', stride]]) {
      paintLayer(this.canvases[name], onScale(values, shape, lo, hi), size(this.canvases[name], shape), this.lut, 'channel', 0);
    }
    const [topMax, topMean, topStride] = [top(max), top(mean), top(stride)];
    // a size and a top are not broken across lines (a review: "26 x" over "26", "top" over
    // "1.04" in the narrow captions)
    const sized = ([rows, cols], value) => `${rows}\u00a0x\u00a0${cols}, top\u00a0${fmt(value, 2)}`;
    this.captions.conv.textContent = `conv1, channel ${channel}: ${sized([h, w], hi)}`;
    this.captions.max.textContent = `max-pooled: ${sized(shape, topMax)}`;
    this.captions.mean.textContent = `mean-pooled: ${sized(shape, topMean)}`;
    this.captions.stride.textContent = `stride 2: ${sized(shape, topStride)}`;
    this.lo.textContent = fmt(lo, 2);
    this.hi.textContent = fmt(hi, 2);
    this.prev.disabled = channel === 0;
    this.next.disabled = channel === channels - 1;
    this.root.dataset.channel = channel;
    this.said.textContent = hi > lo && topMax > 0
      ? `Channel ${channel}: the max keeps its top response, ${fmt(topMax, 2)}; the mean's top is `
        + `${fmt(topMean, 2)}, ${Math.round((100 * topMean) / topMax)}% of it; the stride's is `
        + `${fmt(topStride, 2)}, ${Math.round((100 * topStride) / topMax)}%.${this.#unreadTop(conv, channel)}`
      : `Channel ${channel} gives the same value everywhere on this input: all three keep it.${
        // one dead on every test digit says so, as the enlarged channel does (a phone review)
        this.conv1.silent_channels?.includes(channel)
          ? ' It is dead: 0 on all 10,000 of MNIST\'s test digits.' : ''}`;
  }

  /** Where `channel`'s top response lies in conv1's last rows or columns, which never reach
   * the last layer: said, as it cannot change the answer (a teacher's review: on the first
   * sample, the 7, the strongest channel's top sits there, held up as the value max keeps). */
  #unreadTop(conv, channel) {
    if (!this.unread) return '';
    const [, h, w] = conv.shape;
    const [row, col] = strongestUnit(conv, channel); // the first at the channel's top level
    if (row < h - this.unread && col < w - this.unread) return '';
    const last = this.net.layers.at(-1)?.name ?? 'the last layer';
    return ` That top lies in conv1's last ${rowsAnd(this.unread, 'or')}, which never reach ${last}: `
      + 'here it cannot change the answer.';
  }

  #step(delta) {
    const channels = this.conv1.shape[0];
    const now = Number(this.root.dataset.channel ?? 0);
    this.#channel = Math.max(0, Math.min(channels - 1, now + delta));
    this.show(this.#result);
    this.stepSaid.textContent = this.said.textContent;
    // at the first or last channel the button pressed disables: the focus goes to the other
    const pressed = delta < 0 ? this.prev : this.next;
    if (pressed.disabled && document.activeElement === pressed) (delta < 0 ? this.next : this.prev).focus();
  }
}
