// One channel enlarged: its values under the pointer (or the arrow keys), its own value
// scale, and the same tracing as the small maps.

import { textOnRgb } from './colormap.js';
import { UI } from './config.js';
import { HeightHold, article, el, fmt, fmtRead, placeMark, roundingAside, setText, span } from './dom.js';
import { gridLayout, stepCell, windowSpan } from './geometry.js';
import { paintLayer } from './paint.js';
import { convParts, halfStep, paintedRange, ROUNDING, strongestUnit, valueAt, windowStats } from './wire.js';

// the [ and ] keys were named only in the step buttons' accessible names
const VALUE_HINT = window.matchMedia(UI.hover).matches
  ? 'Hover the map, or focus it and use the arrow keys, to read values; [ and ] step through the channels.'
  : 'Tap the map to read a value; the buttons below step through the channels.';
const EMPTY_HINT = 'Draw a digit, or pick one, to fill this channel.';

export class Inspector {
  #hit = null; // {net, layer, channel}
  #cursor = null; // [row, col]
  #result = null;
  #norm = 'channel';
  #opener = null;
  #weights = null; // {net, layer, channel, weights, bias}: the channel's filters, once here
  #height; // holds the panel at its tallest height since it opened
  #valueHeight; // holds the readout at its tallest height since the panel opened
  #tools; // the masthead's buttons, which the panel leaves clear
  #clearTop = 0; // px from the window's top that the masthead's buttons take (page.css)
  #sized = null; // {result, net, layer, channel, weights, width}: what the sums' height was measured for
  #sizing = 0; // a measure waiting for drawings to pause (setTimeout id)

  constructor(root, { lut, gradient, onHover, onGrow = () => {}, onSwap = () => {}, onClose = () => {}, filters, infos, nets = [] }) {
    this.root = root;
    this.onClose = onClose; // the panel closed (by its button or Escape)
    this.onSwap = onSwap; // (map) the panel now shows the channel of `map`'s network: keep it in view
    this.nets = nets; // the networks whose maps the page shows, in order: what the swap goes to
    this.lut = lut;
    this.onHover = onHover;
    this.onGrow = onGrow; // the panel grew taller: what it covers may have changed
    this.infos = infos; // {net: its /api/v1/models entry}: which window of which layer a unit reads
    this.filters = filters; // (net, layer, channel) => Promise of .../filters/{layer}?channel=
    // heading level 4: it sits in the document after its map, under the layer's h3
    this.title = el('h2', { id: 'inspector-title', 'aria-level': 4, text: 'Channel' });
    // the map's size under its name: enlarged, a 13x13 channel fills the panel as a 26x26
    // one does (found by a student's review: the halving could not be seen there)
    this.size = el('p', { class: 'inspector-size' });
    this.closeButton = el('button', { type: 'button', class: 'icon', 'aria-label': 'Close the enlarged channel', text: '×' });
    // 'application': a screen reader in browse mode would keep the arrow keys for itself
    this.canvas = el('canvas', {
      class: 'map big', tabindex: 0, role: 'application', 'aria-roledescription': 'enlarged channel',
      'aria-label': 'Enlarged channel; arrow keys move the cursor',
    });
    this.overlay = el('div', { class: 'overlay' });
    this.mark = el('div', { class: 'mark mark-cursor', hidden: true });
    this.overlay.append(this.mark);
    this.lo = el('span', { class: 'tick' });
    this.hi = el('span', { class: 'tick' });
    const bar = el('span', { class: 'bar' });
    bar.style.backgroundImage = gradient;
    this.scale = el('div', { class: 'legend-bar', role: 'img' }, this.lo, bar, this.hi); // named in update()
    // the line shown, rewritten at every drawing while a unit is read: no live region (a
    // keyboard review heard it 42 times in one stroke, and its hint as the panel opened)
    this.value = el('p', { class: 'value', text: VALUE_HINT });
    // what the keys do, said: the unit's value as they move the cursor and, over a pool's
    // map, its window's values and what the pool keeps (an accessibility review: a screen
    // reader heard "row 7, col 7: 0.103" alone, and had to leave the map to learn what max
    // made of what), or where a step went; a region of its own that stays in the page,
    // written by the keys and step buttons alone, not by a drawing or the pointer
    this.said = el('p', { class: 'visually-hidden keys-said', 'aria-live': 'polite' });
    this.trace = el('p', { class: 'readout inspector-trace' }); // the traced unit, in words (trace.js)
    this.filter = el('div', { class: 'filter', hidden: true }); // what a conv channel looks for
    // a pool channel's source, beside how its units are made: the conv channel it pools, large,
    // with the window of one unit outlined (found by a review: on a projector, the window
    // traced on a small conv map was a few pixels wide)
    // beside the enlarged map, each half the panel's width (a second review: under the text
    // it lay beneath the step buttons in the projector view, the case it was made for)
    this.source = {
      canvas: el('canvas', { class: 'map source-map', 'aria-hidden': 'true' }),
      window: el('div', { class: 'mark mark-source-window', hidden: true }),
      winner: el('div', { class: 'mark mark-source-winner', hidden: true }),
      scale: el('p', { class: 'source-scale' }), // its own: the pool's legend is not its
      said: el('p', { class: 'note source-said' }),
    };
    this.source.wrap = el('div', { class: 'source-wrap', hidden: true },
      el('div', { class: 'map-wrap' }, this.source.canvas,
        el('div', { class: 'overlay' }, this.source.window, this.source.winner)),
      this.source.scale);
    this.prev = el('button', { type: 'button', 'aria-label': 'previous channel ([)', text: '◀ previous' });
    this.next = el('button', { type: 'button', 'aria-label': 'next channel (])', text: 'next ▶' });
    // the same channel of the network beside, where it began from the same filter (a
    // student's review: docked over avg's column, the panel hid the one map to compare max's
    // pool1 channel with, and had to be closed to see it); the unit under the cursor stays,
    // where the two maps are of one size
    this.swap = el('button', { type: 'button', class: 'swap', hidden: true, 'aria-label': '' });
    root.replaceChildren(
      el('div', { class: 'inspector-head' }, el('div', {}, this.title, this.size), this.closeButton),
      // the map and its colour scale together: beside the words on a phone on its side, both
      // stay in view as the words scroll (page.css)
      el('div', { class: 'big-col' },
        el('div', { class: 'big-row' }, el('div', { class: 'map-wrap big-wrap' }, this.canvas, this.overlay), this.source.wrap),
        this.scale),
      this.value,
      // the channel's weights before the traced unit's words, which repeat the readout: on a
      // 667 px phone the weights were under the step buttons (a review)
      this.filter,
      this.trace,
      el('div', { class: 'row-buttons' }, this.prev, this.swap, this.next),
      this.said,
    );
    this.closeButton.addEventListener('click', () => this.close());
    this.prev.addEventListener('click', () => this.#step(-1));
    this.next.addEventListener('click', () => this.#step(1));
    this.swap.addEventListener('click', () => this.#swap());
    // on the whole panel: after a click on a step button, focus is there, not on the map
    root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
      else if (e.key === '[' || e.key === ']') this.#step(e.key === '[' ? -1 : 1);
    });
    this.canvas.addEventListener('pointermove', (e) => this.#pointer(e));
    this.canvas.addEventListener('pointerdown', (e) => this.#pointer(e));
    // a finger, or a pen that cannot hover, leaves as it lifts: the tapped unit stays traced
    this.canvas.addEventListener('pointerleave', (e) => { if (e.pointerType === 'mouse') this.#leave(); });
    this.canvas.addEventListener('keydown', (e) => this.#key(e));
    // Escape closes it from anywhere: the keyboard may have gone on to the shift lab
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.defaultPrevented && !root.contains(e.target)) this.close(false);
    });
    // Docked at the bottom of the window, whatever makes the panel taller lifts the map: a
    // hovered conv2 unit's sum one line longer moved the map 18 px under the pointer, which
    // then hovered another unit, and stepping conv1's channels moved it too. From its
    // opening the panel keeps its tallest height (page.css keeps the step buttons at its
    // foot); the page is told when it grew, as it may now cover the map last reached.
    this.#height = new HeightHold(root, {
      onGrow: () => this.onGrow(), active: () => this.#hit !== null, layouts: [UI.dockedAcross],
    });
    // the readout keeps the height of the hint it replaces: the first value read, one line
    // where the hint took two or three, moved the explanation under it up, and on a phone
    // the sheet changed size (an accessibility review)
    this.#valueHeight = new HeightHold(this.value, { active: () => this.#hit !== null });
    window.addEventListener('resize', () => this.#sizeSoon(false)); // the sums rewrap
    // Its top stays below the masthead's buttons while they are on screen: grown to the
    // window's height at the top of the page, it lay over "Copy link" and "Projector view",
    // which a click then missed (a page review). page.css reads --clear-top.
    this.#tools = document.querySelector('.masthead-tools');
    const clear = () => this.#clearMasthead();
    window.addEventListener('scroll', clear, { passive: true });
    window.addEventListener('resize', clear);
    // Where the panel is too short for its text (a phone), the text scrolls under the step
    // buttons; a fade over them says there is more (found by a review: the last row of
    // conv1's weights and the end of a unit's sum lay hidden there with no sign of it).
    const more = () => root.toggleAttribute('data-more', root.scrollHeight - root.scrollTop - root.clientHeight > 2);
    root.addEventListener('scroll', more, { passive: true });
    const sizes = new ResizeObserver(more);
    for (const part of [root, ...root.children]) sizes.observe(part);
  }

  get isOpen() {
    return this.#hit !== null;
  }

  /** Dock on the 'left' or 'right' (see open). */
  dock(side) {
    this.root.dataset.side = side;
  }

  /**
   * Enlarge channel hit.channel of hit.layer of hit.net. `side` ('left' or 'right') says
   * where it docks first; main.js then docks it clear of the map that opened it, whose
   * smaller maps show what the enlarged one reads.
   */
  open(hit, result, norm, side = 'right') {
    this.#belongTo(document.activeElement);
    this.#height.release(); // a new opening starts from its own height
    this.#valueHeight.release();
    this.dock(side);
    this.#hit = { net: hit.net, layer: hit.layer, channel: hit.channel };
    // the unit clicked or tapped in the small map is read out and traced at once; opened
    // from the keyboard (no unit), the first arrow key lands on the unit the panel describes
    this.#cursor = hit.row === undefined ? null : [hit.row, hit.col];
    this.mark.hidden = true; // a unit traced in the channel shown before is not this one's
    this.value.textContent = VALUE_HINT;
    this.root.hidden = false;
    this.#clearMasthead();
    document.body.toggleAttribute('data-inspector-open', true); // page.css: the hover tip yields
    this.update(result, norm);
    this.#showFilter();
    this.canvas.focus({ preventScroll: true });
  }

  /** Keep the open panel's top below the masthead's buttons while they are on screen
   * (page.css's max-height, from --clear-top: 0 once they are off it): the height held
   * since it opened (HeightHold) gives way as the page scrolls up to them, and comes back
   * as it scrolls on. */
  #clearMasthead() {
    if (this.root.hidden || !this.#tools) return;
    const top = Math.max(0, Math.round(this.#tools.getBoundingClientRect().bottom + 8));
    if (top !== this.#clearTop) {
      this.#clearTop = top;
      this.root.style.setProperty('--clear-top', `${top}px`);
    }
    const room = parseFloat(getComputedStyle(this.root).maxHeight);
    if (Number.isFinite(room)) this.#height.cap(room);
  }

  /** The panel belongs to `element` (a map, or whatever held the focus as it opened): the
   * focus goes back to it as the panel closes, and, fixed on screen, the panel sits in the
   * document right after its map, so that Tab goes from that map into it and on to the next
   * map, and a screen reader reads it there (last in the page, Tab from it went to the top:
   * found by a review). Moved, the panel keeps the focus it held (a swap's button). */
  #belongTo(element) {
    this.#opener = element;
    const cell = element?.closest?.('.map-cell');
    if (!cell || cell.nextElementSibling === this.root) return;
    const focused = this.root.contains(document.activeElement) ? document.activeElement : null;
    cell.after(this.root);
    focused?.focus({ preventScroll: true });
  }

  /** `refocus`: hand the focus back to the map that opened the panel (not when Escape was
   * pressed elsewhere: the focus stays where the user put it). */
  close(refocus = true) {
    if (!this.#hit) return;
    setText(this.said, '');
    const { net, layer, channel } = this.#hit;
    const opener = this.#opener;
    // however it was opened (an accessibility review: opened by a click, the map the focus
    // went back to still named the channel the keys had chosen before)
    if (opener?.dataset?.net === net && opener.dataset.layer === layer) {
      // said only where the focus is on the map or goes back to it (an accessibility review:
      // closed by Escape from another map, the line spoke of this one)
      const said = refocus || document.activeElement === opener;
      opener.dispatchEvent(new CustomEvent('fm:chosen', { detail: { channel, said } }));
    }
    this.#hit = null;
    this.root.hidden = true;
    document.body.toggleAttribute('data-inspector-open', false);
    this.onHover(null);
    if (refocus && this.#opener instanceof HTMLElement) this.#opener.focus({ preventScroll: true });
    this.onClose();
  }

  /** Repaint for a new result or scaling (a no-op while closed). */
  update(result, norm) {
    // what the keys said is of the input before: gone, quietly, from the page a screen
    // reader reads through (a review)
    if (result !== this.#result) setText(this.said, '');
    this.#result = result;
    this.#norm = norm;
    if (!this.#hit) return;
    const { net, layer, channel } = this.#hit;
    this.title.textContent = `${net} ${layer}, channel ${channel}`;
    const info = this.#info();
    const rf = info?.receptive_field.size;
    const side = info?.shape[1];
    // a dead channel is said to be under its name too: its own line (deadNote) comes last,
    // below the fold of a short screen's panel
    const dead = info?.silent_channels?.includes(channel) ? '; dead on MNIST\'s test digits' : '';
    this.size.textContent = info ? `${article(side)} ${side} x ${info.shape[2]} map; each unit sees ${rf}x${rf} input px${dead}` : '';
    this.canvas.setAttribute('aria-label', `${net} ${layer}, channel ${channel}; arrow keys move the cursor`);
    this.root.dataset.net = net;
    this.root.dataset.layer = layer;
    this.root.dataset.channel = channel;
    const data = this.#layer();
    // the channels may be stepped through before any drawing, a conv's filters read (a
    // review: a student could not browse conv1's before drawing)
    const channels = this.#channels();
    this.prev.disabled = channel === 0;
    this.next.disabled = channel >= channels - 1;
    // written only as the channel changes, not at each drawing the panel is repainted for
    const other = this.#other();
    const swapTo = other === null ? '' : `Show ${other}'s ${layer}, channel ${channel}`;
    if (this.swap.getAttribute('aria-label') !== swapTo) {
      this.swap.hidden = other === null;
      this.swap.setAttribute('aria-label', swapTo);
      this.swap.textContent = other === null ? '' : `⇄ ${other}`;
      this.swap.title = other === null ? '' : `The same channel in ${other}'s maps, which began from the same filter`;
    }
    if (!data) {
      this.canvas.getContext('2d').clearRect(0, 0, this.canvas.width, this.canvas.height);
      this.source.wrap.hidden = true;
      this.lo.textContent = '';
      this.hi.textContent = '';
      this.scale.setAttribute('aria-label', 'colour scale: no values yet');
      this.mark.hidden = true;
      if (!this.value.textContent.endsWith(EMPTY_HINT)) this.value.textContent = EMPTY_HINT;
      // what this channel is made of, not what the last one was (a review: before any drawing,
      // a pool channel opened after conv1's 30 kept 30's weights and its line that it is dead)
      this.#explain(null);
      return;
    }
    if (this.value.textContent.endsWith(EMPTY_HINT)) this.value.textContent = VALUE_HINT;
    const [, h, w] = data.shape;
    const layout = gridLayout([1, h, w], 1, 0);
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    paintLayer(this.canvas, data, layout, this.lut, norm, channel);
    const range = paintedRange(data, norm, channel);
    this.lo.textContent = fmt(range.lo, 2);
    this.hi.textContent = fmt(range.hi, 2);
    this.scale.setAttribute('aria-label', `colour scale from ${fmt(range.lo, 2)} to ${fmt(range.hi, 2)}`);
    if (this.#cursor) this.#show(...this.#cursor, false);
    this.#explain('later'); // a new drawing: measured once drawings pause
  }

  /** What a conv channel looks for: conv1's 3x3 weights on the input pixels, as a table
   * coloured by sign, and what its bias gives on empty paper; for a deeper conv, in words.
   * Asked for when a channel is opened or stepped to, not on every drawing: a failure is
   * not retried until the next. */
  async #showFilter() {
    const { net, layer, channel } = this.#hit;
    // a pool learns none: asked of its /api/v1/models entry, which is there before any
    // drawing (a review: each step through a pool's channels then asked and got a 404)
    if (this.#info()?.kind !== 'conv') return;
    try {
      const filters = await this.filters(net, layer, channel);
      if (!this.#showing(net, layer, channel)) return; // moved on
      this.#weights = { net, layer, channel, weights: filters.weights[0], bias: filters.bias[0] };
      this.#explain('now'); // opened or stepped to: measured before the pointer reaches the map
    } catch {
      // a view of the weights is a help, not the page's purpose: none is shown (and the last
      // channel's, kept while these were on their way, goes)
      if (this.#showing(net, layer, channel)) this.filter.hidden = true;
    }
  }

  /** Whether this channel is the one enlarged (an answer may come after a step or a close). */
  #showing(net, layer, channel) {
    const hit = this.#hit;
    return hit !== null && hit.net === net && hit.layer === layer && hit.channel === channel;
  }

  /** The explanation under the enlarged map, for the channel and drawing shown: a conv's
   * filters once they are here (until then the last channel's stay, so that the panel does
   * not jump), how a pool's units are made, or nothing. `size`: when to measure a deeper
   * conv's sums ('now', 'later' or null, see #sizeSums). */
  #explain(size) {
    if (!this.#hit) return;
    const { net, layer, channel } = this.#hit;
    const data = this.#layer();
    const reads = this.#info()?.reads; // the window a unit reads
    const before = reads?.layer ?? 'the layer before';
    const pool = this.#info()?.kind === 'pool'; // known before any drawing, unlike data's
    const from = pool && data ? this.#result?.models[net]?.layers.find((l) => l.name === before) : null;
    this.source.wrap.hidden = !from;
    const dead = deadNote(this.#info(), channel, before, data ? data.high[channel] > 0 : null);
    if (pool) {
      const how = { max: 'the largest value of a 2x2 window', mean: 'the mean of a 2x2 window' }[UI.poolOp[net]]
        ?? 'pooled from a window';
      this.filter.replaceChildren(el('p', { class: 'note', text: `No learned weights: each unit is ${how} of `
        + `${before} channel ${channel}${from ? ', drawn beside it with one unit\'s window outlined' : ''}.` }),
      ...(from ? [this.#sourceView(data, from, reads, channel, UI.poolOp[net])] : []), ...dead);
      this.filter.dataset.kind = 'pool';
      this.filter.dataset.channel = channel;
      this.filter.style.minHeight = '';
      this.filter.hidden = false;
      return;
    }
    const w = this.#weights;
    if (!w || w.net !== net || w.layer !== layer) {
      this.filter.hidden = true; // another layer's: nothing until this one's are here
      return;
    }
    if (w.channel !== channel) {
      // the previous channel's weights, until these are here; not its line that it is dead;
      // nor a pool's words, shown since (a CI run: pool2's channel 13 stepped to conv2's 13
      // kept the pool's explanation under the conv's name until its weights came)
      if (this.filter.dataset.kind === 'pool') this.filter.hidden = true;
      else this.filter.querySelector('.dead-note')?.remove();
      return;
    }
    const sums = w.weights.length > 1;
    delete this.filter.dataset.kind;
    this.filter.replaceChildren(...(sums
      ? sumView(w.weights.length, w.bias, before, this.#unitSum(w, reads))
      : filterView(w.weights, w.bias, data ? data.high[channel] : null)), ...dead);
    this.filter.dataset.channel = channel; // whose explanation is shown (tests wait for it)
    this.filter.hidden = false;
    if (!sums) this.filter.style.minHeight = '';
    else if (size) this.#sizeSoon(size === 'now');
  }

  /** Measure the sums' height now, or 200 ms after the last of a run of calls: a drawing
   * in progress brings one every few milliseconds (the pointer is on the pad then, not on
   * the enlarged map), and a change of the window's size a run of them. */
  #sizeSoon(now) {
    clearTimeout(this.#sizing);
    if (now) this.#sizeSums();
    else this.#sizing = setTimeout(() => this.#sizeSums(), 200);
  }

  /**
   * A deeper conv's sum is said for the unit under the cursor, and one unit's words can be a
   * line longer than another's (more channels named, the rounding note): docked at the
   * window's foot, the panel grew upwards and the map moved 18 px under the pointer. Every
   * unit's words on this drawing are laid out off-screen, each in a copy of the
   * explanation's box, all in one layout pass (about 16 ms for conv2's 121 units), and the
   * explanation keeps the height of the tallest.
   */
  #sizeSums() {
    if (!this.#hit) return; // closed meanwhile
    const w = this.#weights;
    const data = this.#layer();
    if (!w || !data || w.weights.length === 1 || this.filter.hidden) return;
    const { net, layer, channel } = this.#hit;
    if (w.net !== net || w.layer !== layer || w.channel !== channel) return;
    const boxWidth = this.filter.getBoundingClientRect().width;
    const key = { result: this.#result, net, layer, channel, weights: w, width: boxWidth };
    if (this.#sized && Object.keys(key).every((k) => this.#sized[k] === key[k])) return;
    this.#sized = key;
    const reads = this.#info()?.reads;
    const before = reads?.layer ?? 'the layer before';
    const [, h, width] = data.shape;
    const boxes = [];
    for (let row = 0; row < h; row += 1) {
      for (let col = 0; col < width; col += 1) {
        const box = this.filter.cloneNode(false);
        box.removeAttribute('data-channel');
        box.style.minHeight = '';
        box.replaceChildren(...sumView(w.weights.length, w.bias, before, this.#unitSum(w, reads, [row, col])));
        boxes.push(box);
      }
    }
    const probe = el('div', { 'aria-hidden': 'true' }, boxes);
    Object.assign(probe.style, { position: 'absolute', visibility: 'hidden', top: '0', left: '0', width: `${boxWidth}px` });
    this.root.append(probe);
    const tallest = Math.max(...boxes.map((box) => box.getBoundingClientRect().height));
    probe.remove();
    this.filter.style.minHeight = `${Math.ceil(tallest)}px`;
  }

  /** What a deeper conv unit adds up on the drawing shown: the unit under the cursor, or
   * without one the channel's strongest (on a silent channel, the one whose sum is highest).
   * Null before any drawing. */
  #unitSum(w, reads, at = this.#cursor) {
    const { net, channel } = this.#hit;
    const data = this.#layer();
    const prev = this.#result?.models[net]?.layers.find((l) => l.name === reads?.layer);
    if (!data || !prev) return null;
    const [, h, width] = data.shape;
    const total = (parts) => parts.reduce((a, b) => a + b, w.bias);
    let unit = at;
    let parts = null;
    if (!unit && data.high[channel] > data.low[channel]) unit = strongestUnit(data, channel);
    if (!unit) { // every unit the same (0): the sum nearest to being seen
      let bestTotal = -Infinity;
      for (let r = 0; r < h; r += 1) {
        for (let c = 0; c < width; c += 1) {
          const here = convParts(prev, w.weights, reads, r, c);
          const t = total(here);
          if (t > bestTotal) [bestTotal, unit, parts] = [t, [r, c], here];
        }
      }
    }
    const [row, col] = unit;
    parts ??= convParts(prev, w.weights, reads, row, col);
    return {
      row, col, parts, total: total(parts), value: valueAt(data, channel, row, col),
      cursor: at !== null, rows: windowSpan(reads, row, prev.shape[1]), cols: windowSpan(reads, col, prev.shape[2]),
    };
  }

  #layer() {
    return this.#result?.models[this.#hit.net]?.layers.find((l) => l.name === this.#hit.layer);
  }

  /** The enlarged layer's /api/v1/models entry (its shape, kind, field and window): there
   * before any drawing, unlike #layer's maps. */
  #info() {
    return this.infos[this.#hit.net]?.layers.find((l) => l.name === this.#hit.layer);
  }

  /**
   * The conv channel `from` that pool channel `channel` of `pool` reads, painted beside the
   * enlarged map at its own scale (said under it), with the window of the unit under the
   * cursor (else the pool's strongest unit) outlined and, for `op` max, the unit it keeps
   * marked; returns the sentence that gives the window's values and what the pool makes of
   * them, in the trace's words for ties (trace.js).
   */
  #sourceView(pool, from, reads, channel, op) {
    const { canvas, window, winner, scale, said } = this.source;
    const [, h, w] = from.shape;
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    paintLayer(canvas, from, gridLayout([1, h, w], 1, 0), this.lut, this.#norm, channel);
    const range = paintedRange(from, this.#norm, channel);
    scale.textContent = `${from.name}, its own scale: ${fmt(range.lo, 2)} to ${fmt(range.hi, 2)}`;
    const [row, col] = this.#cursor ?? strongestUnit(pool, channel);
    let which = 'the unit at';
    if (!this.#cursor) {
      which = pool.high[channel] > pool.low[channel] ? 'its strongest unit,' : 'the first unit (all read the same),';
    }
    const rows = windowSpan(reads, row, h);
    const cols = windowSpan(reads, col, w);
    const stats = windowStats(from, channel, rows, cols);
    placeMark(window, { x: cols[0], y: rows[0], w: cols[1] - cols[0] + 1, h: rows[1] - rows[0] + 1 }, w, h);
    const same = stats.ties === stats.count;
    // max's kept unit is marked even where all tie, the first, as the trace marks it on the
    // maps: on a phone its words, that the first is marked, sit beside this picture (a review)
    if (op === 'max') placeMark(winner, { x: stats.winner[1], y: stats.winner[0], w: 1, h: 1 }, w, h);
    else winner.hidden = true;
    // three decimals, as the trace's readout gives the same window beside it (a teacher's
    // review: 0.025 0.005 there, 0.03, 0.00 here)
    const values = stats.values.map((v) => fmt(v)).join(', ');
    // both read from 8-bit maps: the value kept, computed from the window's, and the unit's
    // own can differ in the last digit, as the trace says beside it (at 3 decimals the mean
    // 0.211 stood under the unit's 0.210)
    const rounding = op ? roundingAside(op === 'max' ? stats.max : stats.mean, valueAt(pool, channel, row, col)) : '';
    let kept;
    if (same && op) {
      kept = `all ${stats.count} read the same, so the pool keeps ${fmt(stats.max)}${op === 'max' ? ' (the first is marked)' : ''}${rounding}`;
    }
    else if (op === 'max') {
      kept = stats.ties > 1 ? `the largest, ${fmt(stats.max)}, is kept (${stats.ties} hold it; the first is marked)${rounding}`
        : `the largest, ${fmt(stats.max)}, is kept (marked)${rounding}`;
    } else if (op === 'mean') kept = `their mean, ${fmt(stats.mean)}, is kept${rounding}`;
    else kept = 'the pool blurs their 2x2 maxima';
    said.textContent = `${from.name}, rows ${span(rows)}, cols ${span(cols)}, for ${which} row ${row}, col ${col}: `
      + `${values}; ${kept}.`;
    return said;
  }

  /** How many channels the enlarged layer has, drawn or not. */
  #channels() {
    return this.#info()?.shape[0] ?? 1;
  }

  #step(delta) {
    const data = this.#layer();
    const channels = this.#channels();
    const next = this.#hit.channel + delta;
    if (next < 0 || next >= channels) return;
    this.#hit.channel = next;
    this.update(this.#result, this.#norm);
    this.#showFilter();
    // a step button disabled at the first or last channel would drop focus to the page,
    // where neither Escape nor [ and ] reach the panel: the map takes it
    if (document.activeElement?.disabled || document.activeElement === document.body) {
      this.canvas.focus({ preventScroll: true });
    }
    // the live line says where the step went, which the canvas's new name alone would not:
    // with a unit under the cursor, before its new value (found by a review: the line was
    // "row 6, col 7: 0.000" before and after a step, and nothing was said)
    const numbered = `Channel ${next} (channels are numbered 0 to ${channels - 1}).`;
    if (!data) this.value.textContent = `${numbered} ${EMPTY_HINT}`;
    else {
      this.value.textContent = this.#cursor ? `Channel ${next}: ${this.value.textContent}`
        : `${numbered} ${VALUE_HINT}`;
    }
    this.said.textContent = this.value.textContent;
  }

  /** The other network shown whose channel of this number grew from the same filter, else
   * null: where both were trained from one seed, conv1's channel and the pool's of it (main.js
   * #sameStart says why they look alike); a deeper channel of the same number has drifted
   * further, alike in many channels but not reliably, and is no counterpart to compare. */
  #other() {
    const { net, layer, channel } = this.#hit;
    const early = (name) => {
      const layers = this.infos[name]?.layers ?? [];
      const first = layers.find((l) => l.kind === 'conv')?.name;
      const info = layers.find((l) => l.name === layer);
      return info && info.shape[0] > channel
        && (layer === first || (info.kind === 'pool' && info.reads.layer === first)) ? info : null;
    };
    const seed = this.infos[net]?.seed;
    if (!early(net) || !Number.isSafeInteger(seed)) return null;
    return this.nets.find((n) => n !== net && this.infos[n]?.seed === seed && early(n)) ?? null;
  }

  /** Show the same channel of the other network. The unit under the cursor is kept where
   * the two maps are of one size (each unit then reads the same pixels), else let go, and
   * said to be. The other network's map becomes the one the panel belongs to: after it in
   * the document, given the channel and the focus as the panel closes, and kept in view
   * (`onSwap`), as the one that opened it was (an accessibility review: closed after a
   * swap, max's map took the focus back, its channel unchanged). Said as a step is, with
   * a pool's window and what it keeps, as the keys say them. */
  #swap() {
    const other = this.#other();
    if (other === null) return;
    const before = this.#info().shape;
    this.#hit.net = other;
    const { layer, channel } = this.#hit;
    const shape = this.#info().shape;
    let dropped = '';
    if (this.#cursor && shape.join() !== before.join()) {
      this.#cursor = null;
      this.mark.hidden = true;
      this.onHover(null); // the other's unit, traced on its maps, is none of this map's
      this.value.textContent = this.#layer() ? VALUE_HINT : EMPTY_HINT;
      dropped = ` Its map is ${shape[1]} x ${shape[2]}, so the unit was let go.`;
    }
    const map = document.querySelector(`canvas.map[data-net="${other}"][data-layer="${layer}"]`);
    if (map) this.#belongTo(map);
    this.update(this.#result, this.#norm);
    this.#showFilter();
    if (map) this.onSwap(map);
    const data = this.#layer();
    if (this.#cursor && data) this.#show(...this.#cursor); // its words for this unit, now
    const said = `${other} ${layer}, channel ${channel}`;
    const pooled = this.#cursor && data?.kind === 'pool' ? ` ${this.source.said.textContent}` : '';
    this.said.textContent = this.#cursor && data ? `${said}: ${this.value.textContent}${pooled}` : `${said}.${dropped}`;
  }

  #pointer(e) {
    if (!this.#hit) return; // closed: nothing to read (a closed panel left on screen threw)
    const data = this.#layer();
    if (!data) return;
    const [, h, w] = data.shape;
    const rect = this.canvas.getBoundingClientRect();
    const col = Math.floor(((e.clientX - rect.left) / rect.width) * w);
    const row = Math.floor(((e.clientY - rect.top) / rect.height) * h);
    if (row < 0 || col < 0 || row >= h || col >= w) return;
    this.#show(row, col);
  }

  #leave() {
    this.mark.hidden = true;
    this.onHover(null);
  }

  #key(e) {
    const direction = UI.gridKeys[e.key];
    if (!direction) return;
    e.preventDefault();
    const data = this.#layer();
    if (!data) return;
    const [, h, w] = data.shape;
    // the first arrow lands on the unit the words under the map describe, as the maps' grids'
    // first arrow chooses channel 0; End and the others go on from there (an accessibility
    // review: the cursor started at the centre, away from the unit the panel spoke of)
    const start = this.#cursor ?? this.#start(data);
    this.#show(...(!this.#cursor && UI.nudges[direction] ? start : stepCell(start, direction, h, w)));
    const pooled = data.kind === 'pool' ? ` ${this.source.said.textContent}` : '';
    this.said.textContent = `${this.value.textContent}${pooled}`;
  }

  /** The unit the explanation speaks of while no unit is under the cursor: a deeper conv's
   * (its strongest, or on a silent channel the one whose sum is highest), else the channel's
   * strongest, or its first where every unit reads the same, as a pool's words say. */
  #start(data) {
    const w = this.#weights;
    if (w && w.weights.length > 1 && this.#showing(w.net, w.layer, w.channel)) {
      const unit = this.#unitSum(w, this.#info()?.reads, null);
      if (unit) return [unit.row, unit.col];
    }
    return strongestUnit(data, this.#hit.channel);
  }

  /** Read out and trace unit (row, col); `explain`: re-say the explanation for it (update()
   * says it once for the whole panel). */
  #show(row, col, explain = true) {
    const data = this.#layer();
    if (!data) return;
    const [, h, w] = data.shape;
    this.#cursor = [row, col];
    const { net, layer, channel } = this.#hit;
    placeMark(this.mark, { x: col, y: row, w: 1, h: 1 }, w, h);
    const value = valueAt(data, channel, row, col);
    Object.assign(this.mark.dataset, { row, col, value: value.toFixed(6) });
    this.value.textContent = `row ${row}, col ${col}: ${fmtRead(value, halfStep(data, channel))}`; // as the trace writes it
    this.onHover({ net, layer, channel, row, col });
    // the sum, or the pooled window, is this unit's now
    if (explain && (this.#weights?.weights.length > 1 || data.kind === 'pool')) this.#explain(null);
  }
}

const PANEL = [27, 30, 37]; // page.css --panel
const POSITIVE = [255, 150, 50]; // orange: the weight adds ink's value
const NEGATIVE = [70, 150, 255]; // blue: the weight takes it away
const NEUTRAL = 0.05; // |weight| / the channel's largest below this: drawn as the panel

/** A weight's colour, t = weight / the channel's largest |weight| in -1..1: the panel's
 * colour near 0 (the panel is bluish: a faint orange would read as blue), blended towards
 * orange (positive) or blue (negative) by |t|. */
function weightColor(t) {
  if (Math.abs(t) < NEUTRAL) return PANEL;
  const towards = t >= 0 ? POSITIVE : NEGATIVE;
  const a = Math.min(1, Math.abs(t));
  return PANEL.map((p, i) => Math.round(p + (towards[i] - p) * a));
}

/** A contribution as the page writes it: 2 decimals with its sign. */
function signed(v) {
  return `${v < 0 ? '-' : '+'}${fmt(Math.abs(v), 2)}`;
}

/** A channel 0 on every MNIST test digit (`info`, the layer's /api/v1/models entry, lists it
 * in `silent_channels`, from the model card) said to be dead, in a paragraph of its own after
 * the rest (on a 720 px screen, first, it pushed conv1's weights under the step buttons);
 * else nothing. `lit`: whether the drawing shown lights it (null before any), as an odd
 * drawing can: conv1's 30 adds up to 0.2 on a pattern of dots. A teacher's review: conv1's
 * channel 30 is a blank square in every grid, which students ask about, and the panel said
 * only that it was silent on the drawing shown. Not said to be untrained: conv1's 30 still
 * holds the filter it began as, but the deeper ones moved from theirs before they fell
 * silent, some barely (README, The networks, measured). */
function deadNote(info, channel, before, lit) {
  if (!info?.silent_channels?.includes(channel)) return [];
  const here = { true: ', though this drawing lights it', false: ', not only on this drawing', null: '' }[lit];
  const text = info.kind === 'pool'
    ? `Dead: 0 on all 10,000 of MNIST's test digits${here}, as is ${before} channel ${channel}, which it pools.`
    : `Dead: 0 on all 10,000 of MNIST's test digits${here}. ReLU passes no gradient back where a sum is below 0, `
      + 'so no gradient reaches its filter while it stays silent: only weight decay shrinks it.';
  return [el('p', { class: 'note dead-note', text })];
}

/** What a deeper conv channel does, in words, and what one unit of it adds up on the
 * drawing shown (`unit` from Inspector.#unitSum, or null): the channels of `prev` that give
 * it most, those that take most away, and the rest together. */
function sumView(inputs, bias, prev, unit) {
  const nodes = [el('p', { class: 'note', text: `Each unit adds up ${inputs} learned 3x3 filters, one over each `
    + `channel of ${prev}, plus a bias of ${fmt(bias, 3)}, and keeps the sum where it is above 0 (ReLU).` })];
  if (!unit) return [el('div', { class: 'sum-view' }, ...nodes)];
  const { row, col, parts, total, value } = unit;
  const order = [...parts.keys()];
  const biggest = Math.max(...parts.map(Math.abs)) || 1;
  // the channels that move the sum most, by at least a tenth of the largest part
  const named = (sign, n) => order.filter((c) => sign * parts[c] >= 0.1 * biggest)
    .sort((a, b) => sign * (parts[b] - parts[a])).slice(0, n);
  const adds = named(1, 3);
  const takes = named(-1, 2);
  const rest = order.filter((c) => !adds.includes(c) && !takes.includes(c));
  const join = (items) => (items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items.at(-1)}` : items[0]);
  const clauses = [];
  const said = []; // each part as written: 2 decimals
  const cents = (v) => Math.round(v * 100) / 100;
  if (adds.length) clauses.push(join(adds.map((c, i) => `channel ${c} ${i ? '' : 'gives '}${signed(parts[c])}`)));
  if (takes.length) clauses.push(join(takes.map((c, i) => `channel ${c} ${i ? '' : 'takes away '}${fmt(-parts[c], 2)}`)));
  said.push(...[...adds, ...takes].map((c) => cents(parts[c])));
  if (rest.length) {
    const sum = rest.reduce((a, c) => a + parts[c], 0);
    clauses.push(`${adds.length || takes.length ? 'the other' : 'all'} ${rest.length} give ${signed(sum)} together`);
    said.push(cents(sum));
  }
  const where = `rows ${span(unit.rows)}, cols ${span(unit.cols)} of each ${prev} channel`;
  const silent = !unit.cursor && total <= 0;
  const at = silent
    ? `No unit is above 0 on this drawing. The highest sum, at row ${row}, col ${col} (${where}): `
    : `${unit.cursor ? 'At' : 'At its strongest unit here,'} row ${row}, col ${col} (${where}): `;
  // parts written to 2 decimals may not add up to the sum as written: said where they do not
  // (a student's review: +0.04 +0.02 +0.02 -0.05 -0.05 -0.19 and a bias of -0.005 read as
  // -0.215 against "the sum is -0.23")
  const added = said.reduce((a, v) => a + v, 0) + Number(fmt(bias, 3));
  const asides = fmt(added, 2) !== fmt(total, 2) ? ['each part above is rounded to 2 decimals'] : [];
  if (total > 0 && fmt(total, 2) !== fmt(value, 2)) asides.push(`the unit shows ${fmt(value, 2)}, ${ROUNDING}`);
  let end = ` With the bias the sum is ${fmt(total, 2)}${asides.length ? ` (${asides.join('; ')})` : ''}`;
  end += total <= 0 ? ', below 0, so ReLU gives 0.' : '.';
  nodes.push(el('p', { class: 'note unit-sum', text: `${at}${clauses.join('; ')}.${end}` }));
  return [el('div', { class: 'sum-view' }, ...nodes)];
}

/** The nodes that say what conv1's channel looks for: `weights` (1, 3, 3), `bias` a number,
 * `top` the channel's highest value on the drawing shown (null before any). */
function filterView(weights, bias, top) {
  const b = fmt(bias, 3);
  const grid = weights[0];
  const peak = Math.max(...grid.flat().map(Math.abs)) || 1;
  const rows = grid.map((row) => el('tr', {}, ...row.map((v) => {
    const td = el('td', { text: fmt(v, 2) });
    const rgb = weightColor(v / peak);
    td.style.background = `rgb(${rgb.join(', ')})`;
    td.style.color = textOnRgb(rgb);
    return td;
  })));
  return [
    el('table', { class: 'filter-grid' }, el('caption', { text: 'What it looks for' }), el('tbody', {}, ...rows)),
    // said as the weights are (tests/unit/test_nets.py): a teacher's review found them read
    // as a designed edge detector, and a second one the caveat at odds with the row's
    // "edges and stroke pieces", which such filters do pick out
    el('p', { class: 'note', text: 'Each unit weighs the 3x3 input pixels under it (paper 0, ink 1): orange adds, '
      + 'blue takes away (training kept the pattern of most of conv1\'s random filters: even filters this near '
      + `random pick out edges and strokes). Add the bias, ${b}; ReLU keeps what is above 0. ${paperText(bias, top)}` }),
  ];
}

/** What empty paper (every pixel 0) gives the channel, said against the drawing shown. */
function paperText(bias, top) {
  const b = fmt(bias, 3);
  if (Math.abs(bias) < 0.0005) return 'Its bias is about 0, so empty paper gives 0.';
  if (bias < 0) {
    return top === 0
      ? `Nothing in this drawing outweighs its bias of ${b}: the channel is silent here.`
      : `Empty paper gives 0: its bias, ${b}, is below 0.`;
  }
  if (top > 0 && bias / top >= 0.25) {
    return `Empty paper alone gives it ${b}, ${Math.round((bias / top) * 100)}% of its strongest response here, so `
      + 'its map glows wherever there is no ink.';
  }
  return `Empty paper alone gives it its bias, ${b}.`;
}
