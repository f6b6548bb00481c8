// The shift lab: for each network, a 9x9 heat map of the probability of the unshifted
// drawing's class over shifts of -4..4 px (rows dy, columns dx), the cells where the class
// flips marked with the new class, the grid's consistency, and per layer how much the maps
// change for a one-pixel nudge.

import { UI } from './config.js';
import { cssColor, textOn } from './colormap.js';
import { answerPercent, article, el, equalsProbability, fmt, layerTable, percent, setText } from './dom.js';
import { drawsAgainst, trainingShifts } from './downsample.js';
import { rowsAnd, stepCell, unreadTails } from './geometry.js';
import { movedAlong, movedBy } from './nudge.js';
import { paintGray } from './paint.js';
import { SIDE as INPUT_SIDE, shiftPixels } from './wire.js';

const INK = 128; // the level from which a pixel counts as ink here: a stroke's, not its faint rim
// the share of that ink a shift must move out of sight for its flip to be counted as perhaps
// the ink's loss (a student's review: one pixel was enough, and a thin 9 whose whole dy=+3
// row flipped, while most of dy=+4, which hides more, kept its answer, was written off)
const LOST_SHARE = 0.05;

/** A shift as the grid's axes write it: +4, 0, -2. */
const signedShift = (s) => (s > 0 ? `+${s}` : `${s}`);

const MARGIN = 18; // drawing units (canvas pixels at density 1) for the axis labels
const SIDE = MARGIN + 9 * UI.shiftCell; // a heat map's drawing, in the same units
// CSS shows a heat map up to 400 px wide (page.css: the projector view's), 1.71 times its
// drawing: the canvas holds that many pixels per CSS pixel, times the screen's, so that its
// digits and axis labels stay sharp on a 2x or 3x screen (drawing in SIDE units, scaled by
// the context's transform)
const CSS_STRETCH = 400 / SIDE;

function density() {
  return Math.min(4, Math.ceil((window.devicePixelRatio || 1) * CSS_STRETCH));
}

/** The canvas's context, drawing in SIDE units whatever its pixel density. */
function context(canvas) {
  const ctx = canvas.getContext('2d');
  const scale = canvas.width / SIDE;
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  return ctx;
}

// a touch screen cannot hover, and has no arrow keys (found by a review: it was told both)
const IDLE_READOUT = window.matchMedia(UI.hover).matches
  ? 'Hover or tap a cell, or focus the grid and use the arrow keys.'
  : 'Tap a cell to read it.';

/** Network `m`'s shift consistency beside max's, from their cards: the test set's measure,
 * two random shifts against each other, not this lab's (found by a review: "keeps its
 * answers on 98.68% of shifted test digits" read as this lab's); '' where either is
 * unmeasured or absent. */
function steadiness(m, max) {
  if (m?.shift_consistency == null || max?.shift_consistency == null) return '';
  // draw by draw as well: two medians alone read as a ranking where each leads by turns (a
  // teacher's review: blurmax's 98.66% against max's 98.69%, ahead in 5 draws each)
  const vs = drawsAgainst(m, max);
  const byDraw = vs ? `the medians of ${vs.draws} draws of shifts, ${m.name} ahead in ${vs.ahead} of them, max in ${vs.behind}`
    + `${vs.level ? `, level in ${vs.level}` : ''}: ` : '';
  return `${m.name} gives one answer under two random shifts of up to 3 px on ${percent(m.shift_consistency, 2)} `
    + `of MNIST's test digits, max on ${percent(max.shift_consistency, 2)} (${byDraw}more in Why downsample?, below)`;
}

export class ShiftLab {
  #figures = new Map(); // net -> {canvas, caption, readout, moved, cell: [row, col] chosen by keys}
  #said = null; // the live region the keys' readings are said in
  #cells = new Map(); // `${net}/${layer}` -> td
  #shifts = null;
  #label = null; // the sample's label, whose flips are outlined in the accent colour
  #input = null; // the 28x28 input the answer shown measured, as the page shows it
  #unread = {}; // net -> the input's last rows and columns its answer never reads

  /** `shown`: the names of the networks whose maps the page shows; `infos`: every network's
   * /api/v1/models entry, to introduce any other the lab runs. */
  constructor({ grids, table, status }, nets, layers, table256, { shown = [], infos = {} } = {}) {
    // what the canvases draw over the colour scale, in page.css's colours for marks on the
    // maps (the same in every view): a flip to the sample's label and the cell read in
    // the accent, any other flip in the hot colour
    const root = getComputedStyle(document.documentElement);
    this.accent = root.getPropertyValue('--on-map-accent').trim();
    this.focus = root.getPropertyValue('--on-map-focus').trim();
    this.hot = root.getPropertyValue('--on-map-hot').trim();
    this.status = status;
    this.table = table;
    this.colors = table256;
    this.idleStatus = status.textContent;
    this.#unread = Object.fromEntries(nets.filter((n) => infos[n]).map((n) => [n, unreadTails(infos[n].layers).input]));
    // the lab's outcome in one sentence for screen readers, once per settled input (the
    // status itself also says "Measuring…" every time), read where the lab is, not spoken at
    // each change: after a nudge it was the third message, 47 words, of one keypress (a
    // keyboard review)
    this.said = el('p', { id: 'shift-said', class: 'visually-hidden' });
    status.after(this.said);
    grids.replaceChildren();
    const others = nets.filter((n) => !shown.includes(n) && infos[n]).map((n) => infos[n]);
    const { max } = infos;
    // the test set's measure beside max's: "designed to make its maps steadier" is no
    // promise for the digit drawn (a student's review: blurmax kept fewer answers than max
    // on a scribble, with nothing saying that can be; a later one: its maps changed least in
    // the table while it kept the fewest answers)
    const measured = others.filter((m) => m !== max).map((m) => steadiness(m, max)).filter(Boolean);
    const onTest = measured.length
      ? ` For comparison, ${measured.join('; ')}; on one digit, `
        + `${measured.length > 1 ? 'any may keep fewer answers than another' : 'either may keep fewer answers than the other'}: `
        + 'steadier maps (the table below) need not give steadier answers.'
      : '';
    // after what a cell is and what this digit did (a student's review: first, its figures
    // for a network not shown came before the lab said what its grids are)
    const introduced = others.length ? el('p', {
      id: 'shift-others', class: 'note',
      text: `Beside ${shown.join(' and ')}, the lab runs ${others.map((m) => `${m.name}: `
        + (UI.plain[m.name] ?? `${m.title.toLowerCase()}, ${m.downsampling}`)).join('; ')}. `
        + `${others.length > 1 ? 'Their' : 'Its'} maps are not shown above.${onTest}`,
    }) : null;
    // said apart from the status, when no shift changes any network's answer; with the
    // shifts the networks were trained on (found by a review: an all-yellow lab read as
    // pooling's doing alone), and where nopool is here, its consistency without pooling
    const upTo = trainingShifts(nets.map((n) => infos[n]).filter(Boolean));
    const { nopool: none } = infos;
    // max's figure and what it is are said once: where the line after this one gives them,
    // nopool's alone (a student's review: two paragraphs gave max's 98.69% and its draws,
    // word for word)
    const withoutPools = steadiness(none, max);
    const nopool = !withoutPools ? ''
      : measured.length ? ' Without any pooling, nopool gives one answer under two random shifts of up to 3 px on '
        + `${percent(none.shift_consistency, 2)} of MNIST's test digits (max's figure is in the next paragraph).`
        : ` Without any pooling, ${withoutPools}.`;
    const learned = upTo === null ? '' : ` These networks were also trained on digits shifted by up to ${upTo}.${nopool}`;
    this.steady = el('p', { id: 'shift-steady', class: 'note', hidden: true,
      text: `No shift of up to 4 px changes any answer for this digit.${learned} Draw a sloppier or lopsided one to `
        + 'see answers flip.' });
    status.after(this.steady);
    if (introduced) this.steady.after(introduced);
    const pixels = SIDE * density();
    for (const net of nets) {
      const canvas = el('canvas', {
        // 'application': a screen reader in browse mode would keep the arrow keys for itself
        class: 'heat', width: pixels, height: pixels, role: 'application', 'aria-roledescription': 'heat map',
        tabindex: 0, dataset: { net },
        'aria-label': `${net}: probability of the unshifted class for every shift; arrow keys read the cells`,
      });
      const caption = el('p', { class: 'consistency', text: '' });
      // the line shown, which the pointer and each new input rewrite: no live region (a
      // keyboard review heard the hint three times, once a grid, at every nudge)
      const readout = el('p', { class: 'cell-readout', text: IDLE_READOUT });
      // the input as the cell read moved it (found by a teacher's review: a cell said
      // "moved dx +3" and nothing on the page showed that input); the words say the rest
      const moved = el('canvas', { class: 'cell-input', width: 28, height: 28, 'aria-hidden': 'true' });
      grids.append(el('figure', { class: 'heat-fig', dataset: { net } }, el('h3', { text: net }), canvas, caption,
        el('div', { class: 'cell-read' }, moved, readout)));
      // keyed: the cell read out was reached by the keyboard
      const fig = { canvas, caption, readout, moved, cell: [4, 4], keyed: false };
      this.#figures.set(net, fig);
      // a finger's moves and its touching down may be a scroll's first steps (a phone
      // review: a scroll begun on a grid read a cell): a tap picks the cell by its click
      canvas.addEventListener('pointermove', (e) => {
        if (e.pointerType !== 'touch') this.#hover(net, e);
      });
      canvas.addEventListener('pointerdown', (e) => {
        if (e.pointerType !== 'touch') this.#hover(net, e); // a pen that cannot hover
      });
      canvas.addEventListener('click', (e) => {
        if (e.pointerType === 'touch') this.#hover(net, e);
      });
      canvas.addEventListener('pointerleave', (e) => {
        // a finger, or a pen that cannot hover, leaves as it lifts: the tapped cell's
        // reading stays until the next tap
        if (e.pointerType === 'mouse') this.#unmark(net);
      });
      // focus from the keyboard reads the cell the keys start from; a click's focus does not
      canvas.addEventListener('focus', () => {
        if (!canvas.matches(':focus-visible')) return;
        fig.keyed = true;
        this.#sayCell(net, ...fig.cell);
      });
      // and the keyboard leaving takes its reading away, as the mouse leaving does (a page
      // review: Tab on through the three grids left each outlined, its line frozen); the keys
      // start again from that cell
      canvas.addEventListener('blur', () => {
        if (!fig.keyed) return;
        fig.keyed = false;
        this.#unmark(net);
      });
      canvas.addEventListener('keydown', (e) => {
        const direction = UI.gridKeys[e.key];
        if (!direction) return;
        e.preventDefault(); // before an answer too: End scrolled the page away (a review)
        if (!this.#shifts) return;
        const n = this.#shifts.shifts.length;
        fig.cell = stepCell(fig.cell, direction, n, n);
        fig.keyed = true;
        this.#sayCell(net, ...fig.cell);
      });
      this.#blankGrid(canvas);
    }
    // what the keys read, said: a region of its own, written by them alone
    this.#said = el('p', { class: 'visually-hidden cell-said', 'aria-live': 'polite' });
    grids.append(this.#said);
    const { head, body } = layerTable(layers, nets, this.#cells);
    table.replaceChildren(
      // the nudge panel's table has the same measure for one direction: say which is which
      el('caption', { text: 'Mean change of each layer\'s maps for a one-pixel nudge, over left, right, up and down '
        + '(the nudge panel gives the direction you choose)' }),
      el('thead', {}, head), body);
  }

  loading() {
    this.status.textContent = 'Measuring 81 shifts…';
    this.status.classList.remove('blank-note');
  }

  /** The input shown could not be measured (the server's answer is in the page's error
   * line): its grids are not shown, nor the last input's, and the status says how to try
   * again (a review: it said "Measuring 81 shifts…" for good over the last input's grids). */
  failed() {
    this.clear();
    this.status.textContent = 'These shifts could not be measured (the message at the top says why). '
      + 'A nudge, an Undo, a new stroke or a sample asks again.';
  }

  clear() {
    this.#shifts = null;
    this.said.textContent = '';
    this.status.textContent = this.idleStatus;
    this.status.classList.remove('blank-note');
    this.steady.hidden = true;
    for (const fig of this.#figures.values()) {
      this.#blankGrid(fig.canvas);
      fig.caption.textContent = '';
      this.#noReading(fig);
      delete fig.canvas.dataset.consistency;
      delete fig.canvas.dataset.flips;
      delete fig.canvas.dataset.right;
      delete fig.canvas.dataset.painted;
    }
    for (const td of this.#cells.values()) {
      td.textContent = '–';
      td.title = '';
    }
  }

  /** Show a /api/v1/shifts answer for the 28x28 `pixels` it measured (blank where the
   * answer's input says so); `label`: the digit's MNIST label when it is a sample (each
   * grid then also counts the shifts it classifies right: consistency alone reads the same
   * for a network that is wrong unshifted and right everywhere else). */
  show(shifts, pixels, label = null, [nx, ny] = [0, 0]) {
    const { blank } = shifts.input;
    this.#shifts = shifts;
    this.#input = pixels;
    this.#label = label;
    // after nudges the lab measures the input as nudged (found by a review: nothing said so)
    // (a review: "the input as nudged (1 px right) moved by" read as two moves at once)
    const input = nx || ny ? `the nudged input (${movedBy(nx, ny)}), moved further` : 'the input moved';
    this.status.textContent = blank
      ? 'The input is blank (no ink found): a blank moved is still blank, so nothing below can change. Draw or pick a digit.'
      : `Each cell is ${input} by (dx, dy) pixels: dx along the top, + to the right; dy down the side, + downwards. Its colour is the probability of the class predicted without a shift. Cells where the prediction flips show the new class.`;
    this.status.classList.toggle('blank-note', blank);
    if (label !== null && !blank) {
      this.status.textContent += ' A flip to the digit\'s label is outlined blue, any other red.';
    }
    const nets = [...this.#figures.keys()].filter((net) => shifts.models[net]);
    if (!blank) this.status.textContent += this.#edgeNote(pixels, nets.map((net) => [net, shifts.models[net]]));
    // all yellow, nothing marked: say that this is the finding, not an empty lab
    this.steady.hidden = blank || !nets.length || !nets.every((net) => shifts.models[net].consistency === 1);
    const said = [];
    for (const [net, fig] of this.#figures) {
      const m = shifts.models[net];
      if (!m) continue;
      const flips = this.#paint(fig.canvas, m);
      this.#noReading(fig); // a reading of the last input is stale now
      const keep = Math.round(m.consistency * 81);
      const right = label === null ? null : m.grid.prediction.flat().filter((c) => c === label).length;
      // the share of these 81 shifts that keep the unshifted answer, not called "consistency",
      // which Why downsample? gives for two random shifts against each other (Zhang's measure;
      // a teacher's review: one word for two measures)
      const share = [' (', el('strong', { text: percent(m.consistency) }), ').'];
      if (right === null || m.prediction === label) {
        // unlabelled, or right unshifted: the shifts that keep its answer are the ones it gets right
        fig.caption.replaceChildren('predicts ', el('strong', { text: m.prediction }),
          right === null ? ' unshifted' : ' unshifted, its label', `; keeps it for ${keep} of 81 shifts`, ...share);
      } else {
        // wrong unshifted: consistency alone would read as failing where the shifts are right
        fig.caption.replaceChildren('predicts ', el('strong', { text: m.prediction }), ` unshifted, but the digit is ${article(label)} `,
          el('strong', { text: label }), ', which it names for ', el('strong', { text: right }),
          ` of 81 shifts; it keeps its ${m.prediction} for ${keep} shifts`, ...share); // not 'for 3', read as the digit
      }
      Object.assign(fig.canvas.dataset, { consistency: m.consistency, flips, prediction: m.prediction, painted: 'true' });
      if (right === null) delete fig.canvas.dataset.right;
      else fig.canvas.dataset.right = right;
      said.push(`${net} keeps its ${m.prediction} for ${keep} of 81 shifts`
        + (right === null ? '' : ` and is right (${label}) for ${right}`));
    }
    this.said.textContent = blank ? 'Shift lab: the input is blank, so no shift changes anything.'
      : `Shift lab: ${said.join('; ')}.`;
    for (const [key, td] of this.#cells) {
      const [net, layer] = key.split('/');
      const entry = shifts.models[net]?.layers.find((l) => l.name === layer);
      td.textContent = entry ? fmt(entry.mean) : '–';
      td.title = entry ? [Object.entries(entry.change).map(([d, v]) => `${d} ${fmt(v)}`).join(', '),
        movedAlong(entry.mean_shifted_back)].filter(Boolean).join('; ') : '';
    }
  }

  /** The share of the ink (levels of INK or more) in `pixels` that network `net` reads
   * unshifted which a shift by (dx, dy) moves off the image or into the rows and columns it
   * never reads (null where it reads no ink), and whether any went each way. */
  #lost(pixels, net, dx, dy) {
    const end = INPUT_SIDE - (this.#unread[net] ?? 0);
    let [seen, off, unread] = [0, 0, 0];
    for (let r = 0; r < end; r += 1) {
      for (let c = 0; c < end; c += 1) {
        if (pixels[r * INPUT_SIDE + c] < INK) continue;
        seen += 1;
        const [y, x] = [r + dy, c + dx];
        if (y < 0 || x < 0 || y >= INPUT_SIDE || x >= INPUT_SIDE) off += 1;
        else if (y >= end || x >= end) unread += 1;
      }
    }
    return { share: seen ? (off + unread) / seen : null, off: off > 0, unread: unread > 0 };
  }

  /** Of each network's flips, how many are shifts of `pixels` (28x28 levels) that move a
   * twentieth or more of the ink the network sees unshifted (LOST_SHARE) off the image, or
   * into the last rows and columns it never reads: there a flip may be the ink's loss, not
   * the network's (a student's review: a 1 nudged to the edge kept its answer on 81 shifts
   * in avg and 55 in max, the shifts that pushed it out unsaid). A network wrong unshifted
   * is left out: its flips often go to the label, which its caption counts (a science
   * review: in 14 of 56 such cases fewer than half did). */
  #edgeNote(pixels, nets) {
    const right = ([, m]) => this.#label === null || m.prediction === this.#label;
    const counts = nets.filter(right).map(([net, m]) => {
      const unread = this.#unread[net] ?? 0;
      let [flips, lost] = [0, 0];
      m.grid.prediction.forEach((row, i) => row.forEach((p, j) => {
        if (p === m.prediction) return;
        flips += 1;
        if (this.#lost(pixels, net, this.#shifts.shifts[j], this.#shifts.shifts[i]).share >= LOST_SHARE) lost += 1;
      }));
      return { net, flips, lost, unread };
    });
    if (!counts.some((c) => c.lost)) return '';
    const blind = new Map(); // rows a network never reads -> the networks
    for (const { net, unread } of counts) if (unread) blind.set(unread, [...(blind.get(unread) ?? []), net]);
    const where = [...blind].map(([n, names]) => `${names.join(' and ')}: the last ${rowsAnd(n)}`);
    // a network left out is named (a student's review: avg, wrong on #18, was missing unsaid)
    const wrong = nets.filter((n) => !right(n)).map(([net]) => net);
    const left = wrong.length ? ` (${wrong.join(' and ')}, wrong unshifted, left out: ${wrong.length > 1 ? 'their' : 'its'} flips often go to the label)` : '';
    // two sentences: why such a flip may not be the network's, then the counts (a review:
    // one sentence that held both was too long to read out to a class)
    return ` Some flips may come from a stroke pushed partly off the image (a twentieth of its ink or more)${where.length
      ? `, or into rows and columns a network never reads (${where.join('; ')})` : ''}, not from the network itself. `
      + `Flips like that: ${counts.filter((c) => c.flips).map((c) => `${c.net} ${c.lost} of its ${c.flips}`).join(', ')}${left}.`;
  }

  #blankGrid(canvas) {
    const ctx = context(canvas);
    ctx.clearRect(0, 0, SIDE, SIDE);
    this.#axes(ctx, [-4, -3, -2, -1, 0, 1, 2, 3, 4]);
    ctx.strokeStyle = '#555';
    ctx.strokeRect(MARGIN + 0.5, MARGIN + 0.5, 9 * UI.shiftCell - 1, 9 * UI.shiftCell - 1);
  }

  #axes(ctx, shifts) {
    const cell = UI.shiftCell;
    // on the panel, not the scale: the view's own muted text colour (restyle() repaints)
    ctx.fillStyle = getComputedStyle(ctx.canvas).getPropertyValue('--muted').trim();
    ctx.font = '12px system-ui, sans-serif'; // 12 px and more on the page (10 px was small on a projector: a teacher's review)
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    shifts.forEach((s, i) => {
      const label = signedShift(s);
      ctx.fillText(label, MARGIN + i * cell + cell / 2, MARGIN / 2);
      ctx.fillText(label, MARGIN / 2, MARGIN + i * cell + cell / 2);
    });
  }

  /** Paint one network's grid of the answer shown; returns the number of flipped cells. A
   * flip to the sample's label, if any, is outlined in the accent colour, any other in red,
   * each with a dark line inside it. */
  #paint(canvas, m) {
    const { shifts } = this.#shifts;
    const label = this.#label;
    const ctx = context(canvas);
    const cell = UI.shiftCell;
    const n = shifts.length;
    ctx.clearRect(0, 0, SIDE, SIDE);
    this.#axes(ctx, shifts);
    let flips = 0;
    ctx.font = `bold ${Math.round(cell * 0.6)}px system-ui, sans-serif`;
    for (let r = 0; r < n; r += 1) {
      for (let c = 0; c < n; c += 1) {
        const x = MARGIN + c * cell;
        const y = MARGIN + r * cell;
        const p = m.grid.reference[r][c];
        ctx.fillStyle = cssColor(this.colors, p * 255);
        ctx.fillRect(x, y, cell, cell);
        const cls = m.grid.prediction[r][c];
        if (cls !== m.prediction) {
          flips += 1;
          ctx.strokeStyle = cls === label ? this.accent : this.hot;
          ctx.lineWidth = 2;
          ctx.strokeRect(x + 1.5, y + 1.5, cell - 3, cell - 3);
          // and a dark line inside it, against the cell's own colour: a flip's is under half
          // the scale, viridis' blues and teals, which the red came within 1.2:1 of (a review)
          ctx.strokeStyle = '#000';
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 3, y + 3, cell - 6, cell - 6);
          ctx.fillStyle = textOn(this.colors, p * 255);
          ctx.fillText(String(cls), x + cell / 2, y + cell / 2 + 1);
        }
      }
    }
    const mid = Math.floor(n / 2);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 2;
    ctx.strokeRect(MARGIN + mid * cell + 1, MARGIN + mid * cell + 1, cell - 2, cell - 2);
    return flips;
  }

  #hover(net, e) {
    const fig = this.#figures.get(net);
    if (!this.#shifts?.models[net]) return;
    const rect = fig.canvas.getBoundingClientRect();
    const scale = SIDE / rect.width; // drawing units per CSS pixel
    const c = Math.floor(((e.clientX - rect.left) * scale - MARGIN) / UI.shiftCell);
    const r = Math.floor(((e.clientY - rect.top) * scale - MARGIN) / UI.shiftCell);
    const n = this.#shifts.shifts.length;
    if (r < 0 || c < 0 || r >= n || c >= n) return;
    if (fig.canvas.dataset.cell === `${r},${c}`) return; // still the cell read out
    fig.keyed = false;
    fig.cell = [r, c];
    this.#showCell(net, r, c);
  }

  /** A cell read out as the keys ask, and said. */
  #sayCell(net, r, c) {
    this.#showCell(net, r, c);
    const { readout } = this.#figures.get(net);
    if (this.#shifts?.models[net]) this.#said.textContent = readout.textContent;
  }

  /** The readout of one cell: the shift (signed as the axes are), the class predicted there
   * and its probability, and, where that is not the unshifted answer, the unshifted answer's
   * probability (where it is, the two are one number, which a review found said twice). */
  #showCell(net, r, c) {
    const fig = this.#figures.get(net);
    const m = this.#shifts?.models[net];
    if (!m) return;
    const dx = this.#shifts.shifts[c];
    const dy = this.#shifts.shifts[r];
    const here = m.grid.prediction[r][c];
    const other = here === m.prediction ? ', its unshifted answer'
      : `; p(${m.prediction}) ${equalsProbability(m.grid.reference[r][c])}`;
    // where the shift hides enough of the stroke to count as perhaps its loss (#edgeNote),
    // the cell says how much (a student's review: nothing showed which flips were counted)
    // and where: the picture beside still draws what goes into the unread rows (a review:
    // "out of sight" beside a tail it could see); "or" where it goes both ways, one share
    // for the two (a review: "and" read as all of it going both ways)
    const lost = this.#lost(this.#input, net, dx, dy);
    const into = [lost.off && 'off the image', lost.unread && `into the last ${rowsAnd(this.#unread[net] ?? 0)} ${net} never reads`];
    const hidden = lost.share !== null && lost.share >= LOST_SHARE
      ? `; this shift moves ${Math.round(lost.share * 100)}% of the stroke ${into.filter(Boolean).join(' or ')}` : '';
    fig.readout.textContent = `moved dx ${signedShift(dx)}, dy ${signedShift(dy)}: predicts ${here} `
      + `(${answerPercent(m.grid.probability[r][c])})${other}${hidden}`;
    paintGray(fig.moved, shiftPixels(this.#input, dx, dy));
    Object.assign(fig.moved.dataset, { dx, dy });
    // the cell read is outlined: a tap or a key press has no pointer to show where it is
    this.#paint(fig.canvas, m);
    const ctx = context(fig.canvas);
    const x = MARGIN + c * UI.shiftCell;
    const y = MARGIN + r * UI.shiftCell;
    // dark then light, so that it shows on yellow (p near 1) and on purple (near 0) alike, in
    // the focus colour, as the maps' chosen channel is marked: in the accent colour, one unit
    // wide, it was the flip-to-label outline's twin, and hard to find among them (a keyboard
    // review, on avg's grid for #18)
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 4;
    ctx.strokeRect(x + 2, y + 2, UI.shiftCell - 4, UI.shiftCell - 4);
    ctx.strokeStyle = this.focus;
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 2, y + 2, UI.shiftCell - 4, UI.shiftCell - 4);
    fig.canvas.dataset.cell = `${r},${c}`;
  }

  /** Paint the grids again in the page's colours now (the projector view changes those of
   * the panel the axes are written on), the cell read still outlined. */
  restyle() {
    for (const [net, fig] of this.#figures) {
      const m = this.#shifts?.models[net];
      if (!m) this.#blankGrid(fig.canvas);
      else if (fig.canvas.dataset.cell) this.#showCell(net, ...fig.canvas.dataset.cell.split(',').map(Number));
      else this.#paint(fig.canvas, m);
    }
  }

  /** Back to the grid with no cell outlined. */
  #unmark(net) {
    const fig = this.#figures.get(net);
    const m = this.#shifts?.models[net];
    this.#noReading(fig);
    if (m) this.#paint(fig.canvas, m);
  }

  /** No cell read out: the hint in the readout, the input unmoved beside it, no cell
   * recorded (its outline is painted over by whoever repaints the grid). Before a grid,
   * neither is seen (a review: the hint told a user to hover cells that did not exist),
   * though both keep their place, so that the page does not move as the first grid comes. */
  #noReading(fig) {
    fig.moved.parentElement.classList.toggle('before-grid', !this.#shifts);
    setText(fig.readout, IDLE_READOUT);
    if (this.#said) setText(this.#said, ''); // what the keys said is gone, quietly, with their reading
    paintGray(fig.moved, this.#shifts ? this.#input : null);
    delete fig.moved.dataset.dx;
    delete fig.moved.dataset.dy;
    delete fig.canvas.dataset.cell;
  }
}
