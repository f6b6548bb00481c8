// The maps section: one row per layer (conv1, pool1, conv2, pool2, conv3), one column per
// network, each cell a canvas holding every channel of that layer. Pointer and keyboard on
// a canvas report which unit is under them; painting is paint.js's job.

import { UI } from './config.js';
import { el, fmt, placeMark, setText } from './dom.js';
import { hitTest, nearestUnit, rowsAnd, stepCell, unitsRect, unreadRows, unreadTails } from './geometry.js';
import { paintEmpty, paintLayer, sizeLayerCanvas } from './paint.js';
import { layerRange, strongestUnit, valueAt } from './wire.js';

/** A pool's peak (its top value) as a share of the peak of the layer it pools (`source`), in
 * those words (a teacher's review: "its top is 100%" read as a score): 100% where max's
 * window holding the conv's top is pooled, less for the mean, or where that unit lies in a
 * row the pool never reads; nothing where the source is 0 throughout. Under 100% never
 * rounds up to it. */
function poolShare(top, sourceTop, source) {
  if (!(sourceTop > 0)) return '';
  const percent = top >= sourceTop ? 100 : Math.min(99, Math.round((100 * top) / sourceTop));
  return `its peak is ${percent}% of ${source}'s`;
}

/** Where the top of `source`, its highest value `hi`, lies in the last rows or columns that
 * a pool reading it as `reads` into `shape` never reads: how many those are; else 0. The
 * top is a unit at level 255 of a channel reaching `hi`; a unit within half a level of it
 * reads 255 too, so every such unit must lie there (a review: avg's line could name a
 * near-top unit unread while the top itself was read). */
function topUnread(source, hi, reads, shape) {
  const [channels, h, w] = source.shape;
  const rows = h - unreadRows(h, shape[1], reads);
  const cols = w - unreadRows(w, shape[2], reads);
  if (rows === h && cols === w) return 0;
  let found = false;
  for (let c = 0; c < channels; c += 1) {
    if (source.high[c] !== hi || hi === source.low[c]) continue;
    for (let r = 0; r < h; r += 1) {
      for (let col = 0; col < w; col += 1) {
        if (source.q[(c * h + r) * w + col] !== 255) continue;
        if (r < rows && col < cols) return 0;
        found = true;
      }
    }
  }
  return found ? Math.max(h - rows, w - cols) : 0;
}

/** Where a conv's stride does not divide what it reads (strided's conv1: 13 units, 2 apart,
 * cover the input's columns 0-26 of 0-27), the last rows and columns no window reads, said
 * per network; for the input, that ink there never changes that network's answer (a
 * teacher's review: the pool rows said it of max's input, and nothing said it of strided's). */
function unreadByStride(name, nets) {
  return nets.map((n) => {
    const i = n.layers.findIndex((l) => l.name === name);
    const { shape, reads } = n.layers[i] ?? {};
    if (!reads || reads.stride === 1) return '';
    const unread = unreadRows(i > 0 ? n.layers[i - 1].shape[1] : 28, shape[1], reads);
    if (!unread) return '';
    const what = reads.layer === 'input' ? 'the input' : reads.layer;
    const answer = reads.layer === 'input' ? `: ink there never changes ${n.name}'s answer` : '';
    return `${n.name}'s ${name} never reads ${what}'s last ${rowsAnd(unread)}${answer}. `;
  }).join('');
}

/** The side of the input window a unit of `net`'s layer `name` sees (undefined without it). */
function fieldOf(net, name) {
  return net.layers.find((l) => l.name === name)?.receptive_field.size;
}

/** What a conv layer is usually read as (UI.convRole), for the networks in `nets`: conv3's
 * "larger parts of a digit" only where its units see UI.partsFrom px or more, the rest named
 * with what theirs see, where that is not `said`, the field the note goes on to give. */
function roleSaid(name, nets, said) {
  const role = UI.convRole[name];
  if (!role) return '';
  const field = (n) => fieldOf(n, name) ?? 0;
  const small = name === 'conv3' ? nets.filter((n) => field(n) < UI.partsFrom) : [];
  if (!small.length) return `: ${role}`;
  const large = nets.filter((n) => !small.includes(n)).map((n) => n.name);
  if (!large.length) return ': usually read as pieces of strokes';
  // a field the note says after this (`said`, the first network's) is not said twice
  const pieces = small.map((n) => `in ${n.name}${field(n) === said ? '' : `, whose units see ${field(n)}x${field(n)} input px,`}`
    + ' as pieces of strokes');
  return `: ${role} in ${large.join(' and ')}; ${pieces.join('; ')}`;
}

/** One line on what a layer does, from its geometry as /api/v1/models describes it;
 * `nets`: the /api/v1/models entries of the networks shown that have the layer, the first
 * `info`'s; `source`: the entry of the layer it reads (none for the input). Where another
 * network's layer has another size or field (blurmax's pools, strided's and nopool's convs),
 * what the note says of sizes is said to be the first's: the other's own are under its maps
 * (.cap-own; a review found blurmax's 6x6 field beside "Each unit sees 4x4"). `shown`:
 * every network shown, whose answers a note on unread input speaks of. */
export function layerNote(info, nets, source = null, shown = nets) {
  const [c] = info.shape;
  const { kernel, stride } = info.reads;
  const rf = info.receptive_field.size;
  const alike = nets.filter((n) => {
    const mine = n.layers.find((l) => l.name === info.name);
    return mine && mine.shape.join() === info.shape.join() && mine.receptive_field.size === rf;
  }).map((n) => n.name);
  const named = alike.join(' and '); // whose sizes the note gives, where another's differ
  const whose = alike.length < nets.length ? `${named}'s` : null;
  // the field said for those whose field it is, whatever their maps' size (a teacher's
  // review: "Each of max's units sees 3x3" beside strided, whose conv1 units see 3x3 too)
  const sameField = nets.filter((n) => fieldOf(n, info.name) === rf);
  const sees = sameField.length < nets.length
    ? `Each of ${sameField.map((n) => n.name).join(' and ')}'s units sees ${rf}x${rf} input px.`
    : `Each unit sees ${rf}x${rf} input px.`;
  if (info.kind === 'conv') {
    const role = roleSaid(info.name, nets, rf);
    const step = stride > 1 ? `, stride ${stride}` : '';
    // a filter on a layer of many channels is a window over all of them: "64 3x3 filters"
    // alone reads as 64 x 9 weights, where conv2 holds 64 x 32 x 9
    const depth = source?.shape[0] ?? 1;
    const filters = depth > 1
      ? `${c} learned filters on ${info.reads.layer}, each ${kernel}x${kernel} across its ${depth} channels${step}`
      : `${c} learned ${kernel}x${kernel} filters on ${info.reads.layer}${step}`;
    // where another network's layer of this name reads another layer, or with another
    // stride, it is said (a teacher's review: beside strided, conv2's "on pool1" read as if
    // every network pooled before conv2)
    const apart = nets.flatMap((n) => {
      const reads = n.layers.find((l) => l.name === info.name)?.reads;
      if (!reads || (reads.layer === info.reads.layer && reads.stride === stride)) return [];
      // the stride said wherever it differs, 1 too (a review: beside strided first, nopool's
      // "reads conv1" left its stride of 1 unsaid)
      return [`${n.name}'s ${info.name} reads ${reads.layer}${reads.stride !== stride ? `, stride ${reads.stride}` : ''}. `];
    });
    // the first conv says what ReLU does, once (a student's review: nothing on the first
    // screen said it)
    const relu = info.reads.layer === 'input' ? 'ReLU (which sets each negative sum to 0)' : 'ReLU';
    return `${filters}, then ${relu}${role}. ${apart.join('')}${unreadByStride(info.name, nets)}${sees}`;
  }
  const ops = nets.map((n) => UI.poolSays[n.name]).filter(Boolean);
  // a side that does not divide by the stride is rounded down: its last units are read by
  // no window (pool2: 11 -> 5 leaves conv2's last row and column out), and the input's
  // last rows with them when no other unit reads those (found by a review: ink in rows
  // 26-27 alone left max's and avg's answers as for a blank input)
  const unread = source ? unreadRows(source.shape[1], info.shape[1], info.reads) : 0;
  let halves = 'Halves each side.';
  if (unread > 0) {
    halves = `Halves each side, rounding down: ${whose ? `in ${named}, ` : ''}${source.name}'s last `
      + `${rowsAnd(unread)} go unread`;
    // and what only they read, back to the input, which therefore never reaches the last
    // layer (unreadTails; a review: pool1's last row is read, by conv2's unread one)
    const { layers } = nets[0];
    const tails = unreadTails(layers);
    const before = layers.slice(0, layers.findIndex((l) => l.name === source.name)).map((l) => l.name);
    const gone = [...before.reverse(), 'input'].filter((name) => tails[name] > 0)
      .map((name) => `${name === 'input' ? 'the input' : name}'s last ${rowsAnd(tails[name])}`);
    const listed = gone.length > 1 ? `${gone.slice(0, -1).join(', ')} and ${gone.at(-1)}` : gone[0];
    // whose answer ink there cannot change: every network shown whose input goes as unread
    // (a review: strided, beside max, reads row 26)
    const unseen = shown.filter((n) => unreadTails(n.layers).input === tails.input).map((n) => n.name);
    const answer = unseen.length === shown.length ? 'the' : `${unseen.join('\'s or ')}'s`;
    halves += tails.input > 0
      // two sentences: one of 45 words was hard to parse (a review)
      ? `. So ${listed} never reach ${layers.at(-1).name}: ink there never changes ${answer} answer.`
      : '.';
  }
  // the first pool says what its stride means, once (a student's review: "stride 2" went
  // unexplained)
  const first = nets[0].layers.find((l) => l.kind !== 'conv')?.name === info.name;
  const apartBy = first && stride === kernel ? ` (each window ${stride} units on from the last: side by side, none overlapping)` : '';
  const windows = `${kernel}x${kernel} windows of ${info.reads.layer}, stride ${stride}${whose ? ` in ${named}` : ''}${apartBy}`;
  return `${windows}, no learned weights${ops.length ? `: ${ops.join(', ')}` : ''}. ${halves} ${sees}`;
}

const TAP_ECHO_MS = 1000; // how long after a tap a mouse's leave is the tap's echo (below)

export class MapGrid {
  #cells = new Map(); // `${net}/${layer}` -> {canvas, layout, overlay, range, shape, refresh}
  #eightAcross = window.matchMedia(UI.eightAcross);
  #scalable = window.matchMedia(UI.toScale);
  #toScale = false;
  #last = null; // the arguments of the last paint, to paint again after a new layout

  /**
   * `nets`: the /api/v1/models entries of the networks shown; `onHover(hit|null)` and
   * `onOpen(hit)` receive {net, layer, channel, row, col} (row/col absent when opened
   * from the keyboard); `onRelayout()` is called once the grids are laid out anew, for the
   * marks placed on them to be placed again.
   */
  constructor(root, nets, { onHover, onOpen, onRelayout }) {
    this.root = root;
    this.nets = nets;
    this.onHover = onHover;
    this.onOpen = onOpen;
    this.onRelayout = onRelayout;
    this.#build();
    this.#scale();
    // a window resized across a phone's width (or a phone turned) lays the grids out again,
    // as page.css does the rest of the page
    this.#eightAcross.addEventListener('change', () => this.#relayout());
    this.#scalable.addEventListener('change', () => { if (this.#toScale) this.#relayout(); });
    document.addEventListener('fm:view', () => this.#relayout());
  }

  /**
   * Draw every layer to one scale, or each fitted to its column (found by a teacher's
   * review: fitted, pool1's 13x13 tiles were as large as conv1's 26x26 ones, and the
   * halving a pool does, the lesson, could not be seen). To scale, one unit is as wide in
   * every layer: the widest grid fills its column, and each other one the share of it that
   * its canvas's width is (page.css reads --to-scale). Every layer is then laid out 8
   * channels to a row, so that each grid's width follows its maps' size (found by a
   * student's review: at 16 a row, conv2's grid was wider than pool1's, and read as conv2
   * growing the maps).
   */
  set toScale(on) {
    if (on === this.#toScale) return;
    this.#toScale = on;
    this.root.toggleAttribute('data-to-scale', on);
    this.#relayout();
  }

  /** 8 channels a row for every layer: on a phone or a touch screen, in the projector view
   * (a teacher's review at 1280x800: 16 a row, pool2's channels were 17 px, 3 px a unit, in
   * rows that stood 200-390 px tall for their notes), and to scale where it is offered (a
   * window narrowed past it draws the maps fitted: found by a review, they stayed 8 a row). */
  get #narrow() {
    return this.#eightAcross.matches || document.documentElement.dataset.view === 'projector'
      || (this.#toScale && this.#scalable.matches);
  }

  #scale() {
    const widest = Math.max(...[...this.#cells.values()].map((c) => c.layout.width));
    for (const { canvas, layout } of this.#cells.values()) {
      canvas.parentElement.style.setProperty('--to-scale', `${(100 * layout.width / widest).toFixed(3)}%`);
    }
  }

  #build() {
    const names = [];
    for (const net of this.nets) for (const l of net.layers) if (!names.includes(l.name)) names.push(l.name);
    this.heads = new Map(this.nets.map((n) => [n.name, el('div', { class: 'net-head', dataset: { net: n.name } })]));
    const head = el('div', { class: 'maps-row maps-head' }, el('div', { class: 'layer-head' }), ...this.heads.values());
    // a channel chosen with the arrow keys is said here: a focused canvas's new name alone
    // is not reliably read out
    this.said = el('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    this.root.replaceChildren(this.said, head);
    const narrow = this.#narrow;
    const firstPool = names.find((n) => this.nets.some((net) => net.layers.find((l) => l.name === n)?.kind === 'pool'));
    for (const name of names) {
      const owner = this.nets.find((n) => n.layers.some((l) => l.name === name));
      const info = owner.layers.find((l) => l.name === name);
      const source = owner.layers.find((l) => l.name === info.reads.layer) ?? null;
      const [, h] = info.shape;
      const row = el('section', { class: 'maps-row', dataset: { layer: name }, 'aria-labelledby': `layer-${name}` },
        el('div', { class: 'layer-head' },
          // the size in words: "32 x 26 x 26" is channels-first, the Keras summary
          // below and the downsampling table write it channels-last
          el('h3', { id: `layer-${name}` }, name, el('span', { class: 'layer-size', text: MapGrid.#sizeWords(name, this.nets) })),
          el('p', { class: 'note' }, layerNote(info, this.nets.filter((n) => n.layers.some((l) => l.name === name)), source, this.nets),
            // fitted, a pool's grid is as large as the conv's before it: the first pool says
            // so with both sizes, and where the halving can be drawn to scale, how (found by
            // students' reviews: the choice's title was the only word of it; on a phone,
            // which has no choice, "Halves each side" sat over two grids of one size);
            // page.css hides the hint to scale, and all of it once the maps are to scale
            name === firstPool
              ? el('span', { class: 'fitted-hint' }, ` Drawn fitted, its maps look as large as ${source.name}'s, though they have ${h} units a side to its ${source.shape[1]}`,
                el('span', { class: 'to-scale-hint', text: '; choose Map size: by unit count to see them halve' }),
                ' (each map still covers the whole input).') : '')));
      for (const net of this.nets) {
        const mine = net.layers.find((l) => l.name === name);
        if (!mine) {
          row.append(el('div', { class: 'map-cell missing', text: `${net.name} has no ${name}` }));
          continue;
        }
        // 'application': a screen reader in browse mode would keep the arrow keys for itself
        const canvas = el('canvas', {
          class: 'map',
          tabindex: 0,
          role: 'application',
          'aria-roledescription': 'feature maps',
          'aria-label': MapGrid.#label(net.name, name, mine.shape, null),
          dataset: { net: net.name, layer: name },
        });
        const layout = MapGrid.#lay(canvas, mine.shape, narrow);
        const overlay = el('div', { class: 'overlay', dataset: { net: net.name, layer: name } });
        const range = el('span', { class: 'range', text: '' });
        // a pool's top beside its own conv's: side by side, avg's pool1 can top max's, as
        // avg's conv1 runs hotter, which read as max not keeping the largest (a student's
        // review); the share within each network is what max and the mean change
        const share = mine.kind === 'pool'
          ? el('span', { class: 'pool-share', dataset: { source: mine.reads.layer } }) : null;
        // the row's head gives the first network's layer: one of another size, or seeing
        // another patch of the input (a strided conv's, nopool's), says its own
        const field = mine.receptive_field.size;
        const own = mine.shape.join() !== info.shape.join() || field !== info.receptive_field.size
          // on a phone, a line of its own, without the dot that joined it to the name (a
          // review: a line that began "· 22 x 22")
          ? el('span', { class: 'cap-own' }, el('span', { class: 'cap-sep', text: ' · ' }),
            `${mine.shape[1]} x ${mine.shape[2]}, sees ${field}x${field} px`) : '';
        const cell = el('figure', { class: 'map-cell', dataset: { net: net.name, layer: name } },
          el('div', { class: 'map-wrap' }, canvas, overlay),
          el('figcaption', {}, el('span', { class: 'cap-name' }, el('strong', { text: net.name }),
            el('span', { class: 'cap-layer', text: ` ${name}` }), own), range, share ?? ''));
        row.append(cell);
        const refresh = this.#listen(canvas, overlay, net.name, name, layout);
        this.#cells.set(`${net.name}/${name}`, { canvas, layout, overlay, range, share, reads: mine.reads, shape: mine.shape, refresh });
      }
      this.root.append(row);
    }
  }

  /** A layer row's size in words: "32 maps of 26 x 26", or where the networks shown with
   * that layer differ, each one's, "32 maps: 26 x 26 in max, 13 x 13 in strided" (a
   * student's review: the row's head gave max's size alone, read as strided's too). */
  static #sizeWords(name, nets) {
    const shapes = nets.flatMap((net) => net.layers.filter((l) => l.name === name).map((l) => [net.name, l.shape]));
    const [[, [c, h, w]]] = shapes;
    if (shapes.every(([, s]) => s.join() === shapes[0][1].join())) return `${c} maps of ${h} x ${w}`;
    // each network's size on one line: "24\nx 24 in nopool" was read as two sizes
    const one = (n, s) => `${s[1]} x ${s[2]} in ${n}`.replaceAll(' ', '\u00a0');
    if (shapes.every(([, s]) => s[0] === c)) return `${c} maps: ${shapes.map(([n, s]) => one(n, s)).join(', ')}`;
    return shapes.map(([n, s]) => `${s[0]} maps of ${one(n, s)}`).join(', ');
  }

  /** Size a layer's canvas, 8 channels a row where `narrow`, else as wide screens have
   * it (UI.columns); returns its layout. */
  static #lay(canvas, shape, narrow) {
    const layout = sizeLayerCanvas(canvas, shape, UI.columns(shape, narrow), UI.gap);
    Object.assign(canvas.dataset, {
      channels: layout.channels, h: layout.h, w: layout.w, columns: layout.columns, gap: layout.gap,
    });
    return layout;
  }

  /** Lay every grid out for the screen's width now. Each cell keeps its layout object (the
   * listeners read it), changed in place; the keyboard's choice moves to its channel's new
   * place, the last maps are painted again, and the traced unit's marks with them (found by
   * a review: a phone turned with a channel enlarged lost the trace of its unit). */
  #relayout() {
    for (const cell of this.#cells.values()) {
      Object.assign(cell.layout, MapGrid.#lay(cell.canvas, cell.shape, this.#narrow));
      cell.refresh();
      if (!this.#last) paintEmpty(cell.canvas, cell.layout);
    }
    this.#scale();
    if (this.#last) this.paint(...this.#last);
    this.onRelayout();
  }

  /** A layer canvas's accessible name; `chosen`: the channel the arrow keys picked, if any. */
  static #label(net, layer, [c, h, w], chosen) {
    const base = `${net} ${layer}: ${c} maps of ${h}x${w}`;
    return chosen === null
      ? `${base}; click a channel to enlarge it, or choose one with the arrow keys and press Enter`
      : `${base}; ${MapGrid.#chosen(chosen, c)}`;
  }

  /** `peak`: where the channel shown is strongest, in words, if any is shown. */
  static #chosen(channel, channels, peak = '') {
    return `channel ${channel} chosen (channels are numbered 0 to ${channels - 1})${peak}; Enter enlarges it`;
  }

  /** Where channel `channel` of the maps shown for `net`'s `layer` is strongest (", its
   * peak 0.85 at row 4, col 7"; the first such unit), or that every unit reads the same;
   * '' before any input (an accessibility review: choosing a channel said nothing of what
   * it shows, which a screen reader could learn only by leaving the map). */
  #peak(net, layer, channel) {
    const maps = this.#last?.[0].models[net]?.layers.find((l) => l.name === layer);
    if (!maps) return '';
    const [row, col] = strongestUnit(maps, channel);
    const value = fmt(valueAt(maps, channel, row, col), 2);
    return maps.high[channel] > maps.low[channel] ? `, its peak ${value} at row ${row}, col ${col}`
      : `, every unit ${value}`;
  }

  #listen(canvas, overlay, net, layer, layout) {
    // `nearest`: a finger's, which a gutter does not lose (geometry.js nearestUnit)
    const at = (e, nearest = false) => {
      const rect = canvas.getBoundingClientRect();
      const x = ((e.clientX - rect.left) / rect.width) * layout.width;
      const y = ((e.clientY - rect.top) / rect.height) * layout.height;
      const hit = (nearest ? nearestUnit : hitTest)(layout, x, y);
      return hit && { net, layer, ...hit };
    };
    // Chromium gives a click whole-pixel coordinates and a pointermove fractional ones (a 2x
    // screen's mouse, or a test's): a click on a channel's first row or column, outlined as
    // hovered, landed in the gutter before it and enlarged nothing. A click where the pointer
    // last moved enlarges the unit that is outlined.
    let last = null; // {x, y, hit} of the last pointermove
    canvas.addEventListener('pointermove', (e) => {
      // a finger's moves are a scroll's first steps, not a hover (a phone review: a scroll
      // begun on a map left a unit traced): a tap traces by its click, which opens it
      if (e.pointerType === 'touch') return;
      last = { x: e.clientX, y: e.clientY, hit: at(e) };
      this.onHover(last.hit);
    });
    // A finger leaves as it lifts, and the browser's emulated mouse leaves again once the
    // tap has opened the enlarged channel: those leaves keep the unit tapped traced, as the
    // panel's own tapped unit is, until the panel closes or another is tapped (found by a
    // review: on a phone its trace was gone before it could be read). Any other pointer's
    // leave, a real mouse's or a pen's, clears it.
    let tapped = -Infinity; // when a finger last went down here
    canvas.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'touch') tapped = e.timeStamp;
    });
    canvas.addEventListener('pointerleave', (e) => {
      last = null;
      const afterTap = e.pointerType === 'touch' || e.timeStamp - tapped < TAP_ECHO_MS;
      if (!afterTap) this.onHover(null);
    });
    canvas.addEventListener('click', (e) => {
      const here = last && Math.abs(e.clientX - last.x) < 1 && Math.abs(e.clientY - last.y) < 1;
      const touch = e.pointerType === 'touch' || e.timeStamp - tapped < TAP_ECHO_MS;
      const hit = here && (last.hit || !touch) ? last.hit : at(e, touch);
      if (hit) this.onOpen(hit);
    });
    // the keyboard's pointer: the arrow keys choose a channel (outlined), Enter enlarges it
    const shape = [layout.channels, layout.h, layout.w];
    const mark = el('div', { class: 'mark mark-channel', hidden: true });
    overlay.append(mark);
    let chosen = null;
    const place = () => placeMark(mark, unitsRect(layout, chosen, [0, layout.h - 1], [0, layout.w - 1]), layout.width, layout.height);
    // `said`: also in the live line (not where the focus is elsewhere)
    const choose = (channel, said = true) => {
      chosen = channel;
      canvas.dataset.chosen = channel;
      place();
      canvas.setAttribute('aria-label', MapGrid.#label(net, layer, shape, channel));
      if (said) this.said.textContent = `${net} ${layer}: ${MapGrid.#chosen(channel, layout.channels, this.#peak(net, layer, channel))}`;
    };
    canvas.addEventListener('keydown', (e) => {
      const direction = UI.gridKeys[e.key];
      if (direction) {
        e.preventDefault();
        const cols = layout.columns;
        // the first arrow chooses channel 0 itself; End and the others go on from there
        if (chosen === null && UI.nudges[direction]) {
          choose(0);
          return;
        }
        const from = chosen ?? 0;
        const [r, c] = stepCell([Math.floor(from / cols), from % cols], direction, layout.rows, cols);
        choose(Math.min(r * cols + c, layout.channels - 1)); // the last row may be short
      } else if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        this.onOpen({ net, layer, channel: chosen ?? 0 });
      }
    });
    canvas.addEventListener('focus', () => {
      if (chosen !== null && canvas.matches(':focus-visible')) mark.hidden = false;
    });
    // the enlarged channel stepped elsewhere with [ and ] and closed: the keyboard's choice
    // follows it, so that focus comes back to the channel last shown (inspector.js)
    canvas.addEventListener('fm:chosen', (e) => choose(e.detail.channel, e.detail.said));
    canvas.addEventListener('blur', () => { mark.hidden = true; });
    // the layout changed: the keyboard's mark goes where its channel now is, and a click
    // before the pointer moves again is read where it lands, not where it last moved
    return () => {
      last = null;
      if (chosen !== null) place();
    };
  }

  /** The head of a network's column (its prediction goes there). */
  head(net) {
    return this.heads.get(net);
  }

  /** {canvas, layout, overlay} of a network's layer, or undefined. */
  cell(net, layer) {
    return this.#cells.get(`${net}/${layer}`);
  }

  /** Paint every layer of every network shown from a decoded result. */
  paint(result, lut, norm) {
    this.#last = [result, lut, norm];
    for (const net of this.nets) {
      const maps = result.models[net.name];
      if (!maps) continue;
      for (const layer of maps.layers) {
        const cell = this.cell(net.name, layer.name);
        if (!cell) continue;
        paintLayer(cell.canvas, layer, cell.layout, lut, norm);
        const { lo, hi } = layerRange(layer);
        setText(cell.range, `values ${fmt(lo, 2)} to ${fmt(hi, 2)}`);
        if (cell.share) {
          // a blank input's conv maps are their biases, the same at every unit, which any
          // pool keeps whole (a review: "100%" for avg too, the opposite of the line's point)
          const source = !result.blank && maps.layers.find((l) => l.name === cell.share.dataset.source);
          const top = source ? layerRange(source).hi : 0;
          // under max's 100%, and a part of the mean's shortfall: the conv's top where the
          // pool never reads (a student's review: "93%" beside "max keeps the largest")
          const unread = source && hi < top ? topUnread(source, top, cell.reads, layer.shape) : 0;
          const why = unread ? `: ${source.name}'s peak lies in its last ${rowsAnd(unread, 'or')}, which ${layer.name} never reads` : '';
          setText(cell.share, source ? poolShare(hi, top, source.name) + why : '');
        }
        if (!cell.canvas.dataset.painted) cell.canvas.dataset.painted = 'true';
      }
    }
  }

  clear() {
    this.#last = null;
    for (const cell of this.#cells.values()) {
      paintEmpty(cell.canvas, cell.layout);
      cell.range.textContent = '';
      if (cell.share) cell.share.textContent = '';
      delete cell.canvas.dataset.painted;
    }
  }
}
