// The page: reads its config, asks the API what networks there are, builds the views and
// wires drawing, uploads, nudges and the shift lab to the two requests the page makes.
//
// Data flow: ink on the pad -> Coalescer (one featuremaps request in flight, newest drawing
// wins) -> the live WebSocket (POST /featuremaps when it is not open, or with
// ?transport=http) -> decoded binary maps -> paint every view -> 'fm:painted' event. A stroke's end, an
// upload or a nudge also asks /shifts once (the shift lab, and the numbers the next nudge shows).

import { ApiError, LiveChannel, fetchFilters, fetchModels, postFeaturemaps, postShifts } from './api.js';
import { besideChoice, namePair, pairShown } from './beside.js';
import { colorTable, gradientCss, packedTable } from './colormap.js';
import { UI, readConfig } from './config.js';
import { DisagreeList } from './disagree.js';
import { PadDock } from './dock.js';
import { boxesMeet, el, inWindow, besideTools, setText, stackSticky } from './dom.js';
import { renderDownsample } from './downsample.js';
import { FieldFigures } from './fields.js';
import { Inspector } from './inspector.js';
import { levelsOf, levelsText, linkTo, readLink, replayable } from './link.js';
import { Coalescer } from './live.js';
import { MapGrid } from './mapgrid.js';
import { movedBy, NudgePanel } from './nudge.js';
import { DrawingPad, baseCanvas, baseLevels } from './pad.js';
import { paintGray } from './paint.js';
import { PoolFigure } from './pooling.js';
import { Predictions } from './predictions.js';
import { forget, keep, takeKept } from './session.js';
import { ShiftLab } from './shiftlab.js';
import { renderSummary } from './summary.js';
import { Tracer } from './trace.js';
import { uploadBody } from './upload.js';
import { base64Bytes, inked, isBlank, pixelsJson, shiftPixels } from './wire.js';

const byId = (id) => document.getElementById(id);
const TIP_ROOM = 160; // px at the window's foot that the hover tip may cover
const UNDO_DEPTH = 20; // how many Clears, uploads and samples Undo can take back
const UPLOADED = 'the uploaded file'; // what an upload is called in the page's messages
// said before the answers that an Undo of a stroke brings (an accessibility review: Ctrl+Z
// was heard as new answers alone, with no word of what it had taken back)
const STROKE_UNDONE = 'Undo: the last stroke is gone. ';
// An update the server has not answered after this long is said to be waiting (a review: a
// server that hung left the maps on the last drawing, without a word, for 35 s: the socket's
// 5 s, then the POST's 30 s)
const WAITING_MS = 3000;
const WAITING_TEXT = `Waiting for the server: no answer for over ${WAITING_MS / 1000} s. The maps are for what came before, until it answers.`;
// A drawing the server could not be asked about is asked about again after 3 s, then 6 s,
// then every 10 s, until it answers (a review: once the server was back, the maps waited
// for the next stroke)
const ASK_AGAIN_MS = [3000, 6000, 10000];
// a nudge not shown after this long dims the input beside the buttons until it is (a
// student's walkthrough: on a stalled server a nudge showed nothing for the banner's 3 s,
// and nothing at all while the numbers for the input before it were on their way)
const NUDGE_WAIT_MS = 300;
const LINK_MS = 350; // the least time between two writes of the address (about 85 in 30 s)
const STROKES_KEY = 'featuremaps-strokes'; // sessionStorage: a drawing's strokes across a reload (#keepStrokes)
const CAPTION_KEY = 'featuremaps-caption'; // sessionStorage: an upload's line under the pad across a reload (#keepStrokes)
const HISTORY_KEY = 'featuremaps-history'; // sessionStorage: Undo's Clears, samples and uploads across a reload (#keepHistory)
const ADDRESS_KEY = 'featuremaps-address'; // sessionStorage: the address a reload should ask for (#keepAddress)
const KEPT_NUDGES = 20; // nudges over a drawing made again after a reload; more: its levels come back

/**
 * Copy `text`: by the Clipboard API where the browser offers it, which is only in a secure
 * context, else by the older copy of a selection, which browsers still allow over plain http
 * (a teacher serving a class at a LAN address: found by a review, every Copy link failed
 * there); false where neither would. `back`: where the focus returns after the selection.
 */
async function copyText(text, back) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // no navigator.clipboard outside a secure context: below
  }
  const area = el('textarea', { readonly: true, class: 'visually-hidden', 'aria-hidden': 'true', tabindex: -1 });
  area.value = text;
  document.body.append(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand('copy');
  } catch {
    done = false;
  }
  area.remove();
  back.focus({ preventScroll: true });
  return done;
}

class App {
  generation = 0; // bumped whenever what is shown stops being the newest thing asked for
  current = null; // {key, body, result}: what the page shows now
  #uncovered = null; // the map last kept clear of the enlarged channel
  #uncoverScroll = null; // {map, top, by}: the page scrolled by `by` to uncover `map`, then at `top`
  norm = 'channel';
  hover = null;
  #keys = 0;
  #shifts = null; // {key, promise} for `current`
  #nudges = Promise.resolve();
  #loaded = null; // {body, label, picked, index}: the upload or sample under the strokes, as sent
  #moves = []; // {body, before, after, label, dx, dy, dir, shifts, lost}: the input before (as sent, and its levels) and after each nudge since it was last unmoved, the numbers the nudge showed, and the inked pixels it moved off the edge
  #replaced = []; // what each Clear, upload or sample replaced, the last on top, for Undo to bring back: {pad, loaded, moves, version, replacedBy}
  #epoch = 0; // bumped as a stroke, Clear, upload or sample replaces what an Undo waiting to run was pressed on
  #nudgesOut = 0; // nudges asked for and not yet settled (shown, dropped or failed)
  #nudging = { epoch: 0, asked: [] }; // nudges asked for since the last #epoch, each {landed, settled, claimed} (those settled dropped as the next is asked): an Undo pressed while one is unsettled is for the newest one no other Undo was
  #loading = null; // the upload or sample on its way, which an Undo pressed meanwhile cancels
  #picked = null; // the MNIST test index of the sample on the pad, as labelled (not drawn over)
  #addressed = false; // the address follows what is shown (link.js), once it has been followed
  #linkedAt = -Infinity; // when #relink last wrote the address
  #linkTimer = 0;
  #linkDue = null; // the address #linkTimer is to write, while one is to come (#keepAddress)
  // What the pad holds, counted as it changes, and the count the maps shown are for: they
  // differ while an update is on its way, and after one the server did not answer (#ahead)
  #padVersion = 0;
  #shownVersion = 0;
  #behindSaid = -1; // the generation in which the banner said the maps are behind the pad
  #versionBefore = new WeakMap(); // a stroke -> what the pad was before it, for its Undo
  #movesBefore = new WeakMap(); // a stroke drawn over a nudged input -> the nudges it dropped, which its Undo puts back
  #askAgain = { timer: 0, tries: 0 }; // when the pad is next sent again, and how often it was
  #asking = null; // the pad sent again (#askAboutPad) and not yet answered

  constructor(config, catalogue) {
    this.config = config;
    App.#reloadedAddress();
    const link = readLink(window.location.search);
    for (const name of ['size', 'norm']) {
      const input = link[name] && document.querySelector(`input[name="${name}"][value="${link[name]}"]`);
      if (input) input.checked = true;
    }
    const infos = Object.fromEntries(catalogue.models.map((m) => [m.name, m]));
    this.infos = infos;
    const usual = config.models.filter((n) => infos[n]);
    this.shown = pairShown(usual, link, infos).map((n) => infos[n]);
    this.models = this.shown.map((m) => m.name);
    this.usual = usual[1] ?? ''; // the second network the page shows unasked ('': none)
    this.beside = (this.models[1] ?? '') === this.usual ? null : this.models[1]; // null: the usual pair
    this.shiftModels = [...this.models, ...UI.shiftExtra.filter((n) => infos[n] && !this.models.includes(n))];
    const layers = this.shown[0].layers.map((l) => l.name);
    const colors = colorTable(config.colormap);
    this.lut = packedTable(colors);
    const gradient = gradientCss(config.colormap);
    for (const bar of document.querySelectorAll('.legend-bar .bar')) bar.style.backgroundImage = gradient;

    this.error = byId('error');
    this.errorText = byId('error-text');
    // where the focus came into the banner from, to go back to as it goes (a keyboard
    // review: after an upload refused, the × sent the focus to the page's start)
    let cameFrom = null;
    this.error.addEventListener('focusin', (e) => {
      if (!this.error.contains(e.relatedTarget)) cameFrom = e.relatedTarget;
    });
    const dismiss = () => {
      const hadFocus = this.error.contains(document.activeElement);
      this.#clearError();
      if (!hadFocus) return;
      // the button goes with the banner: the focus goes back where it came from, where that
      // can still take it, else to the page's start, not <body>
      cameFrom?.focus({ preventScroll: true });
      if (document.activeElement !== cameFrom) document.querySelector('main').focus({ preventScroll: true });
    };
    byId('error-dismiss').addEventListener('click', dismiss);
    // Escape dismisses it from anywhere, unless an enlarged channel is open, which Escape
    // closes first (an accessibility review: the banner stayed until its × was reached);
    // seen before the panel's own listeners, which close it
    window.addEventListener('keydown', (e) => {
      // not a held key's repeat: one press closes the panel, not the banner after it too
      if (e.key !== 'Escape' || e.repeat || e.isComposing) return;
      if (!this.error.hidden && !document.body.hasAttribute('data-inspector-open')) dismiss();
    }, { capture: true });
    this.input = byId('input28');
    // the same input beside the nudge buttons
    this.inputViews = [this.input, byId('nudge-input')];
    this.grid = new MapGrid(byId('maps'), this.shown, {
      onHover: (hit) => this.#hover(hit),
      onOpen: (hit) => {
        const canvas = byId('maps').querySelector(`canvas.map[data-net="${hit.net}"][data-layer="${hit.layer}"]`);
        this.inspector.open(hit, this.current?.result ?? null, this.norm); // docked clear of it below
        // a phone's panel spans the page: the map tapped stays in view above it, with its
        // caption, which names its network and its range (found by a review: the panel
        // docked across an upright tablet's foot covered half of it)
        this.#uncover(canvas.closest('figure') ?? canvas);
      },
      onRelayout: () => this.#hover(this.hover),
    });
    // Tab on with a channel enlarged: whatever it covers that takes the focus is uncovered
    // (the maps, and, found by a review, the shift lab's grids and the predictions' numbers)
    // (by the keyboard only: a click on text focuses <main>, tabindex -1, which the panel
    // always covers, and a click on a half-covered button would scroll it from under the
    // pointer; a map clicked is uncovered as it opens)
    document.addEventListener('focusin', (e) => {
      const target = e.target;
      if (this.inspector.isOpen && target instanceof HTMLElement && target.tabIndex >= 0
        && target.matches(':focus-visible') && !this.inspector.root.contains(target)) this.#uncover(target);
    });

    stackSticky(this.error, byId('maps').querySelector('.maps-head'));
    besideTools(this.error, document.querySelector('.masthead-tools'));
    // one conv channel's filters, asked for when it is first enlarged (a few numbers; a
    // deep layer's whole set is hundreds of kB); a failure is asked again the next time
    const filters = new Map();
    const filtersOf = (net, layer, channel) => {
      const key = `${net}/${layer}/${channel}`;
      if (!filters.has(key)) {
        filters.set(key, fetchFilters(config.api, net, layer, channel).catch((err) => {
          filters.delete(key);
          throw err;
        }));
      }
      return filters.get(key);
    };
    this.inspector = new Inspector(byId('inspector'), {
      lut: this.lut,
      gradient,
      onHover: (hit) => this.#hover(hit),
      // a map kept clear of the enlarged channel stays so as the panel grows (its
      // explanation comes after it opens)
      onGrow: () => this.#uncover(this.#uncovered),
      // swapped to the other network's channel: docked clear of that network's map, which
      // now carries the trace (an accessibility review: it stayed over it)
      onSwap: (map) => this.#uncover(map.closest('figure') ?? map),
      onClose: () => this.#scrollBack(),
      filters: filtersOf,
      infos,
      nets: this.models,
    });
    this.tracer = new Tracer({
      grid: this.grid, inputOverlay: byId('input-overlay'), readout: byId('readout'), mirrors: [this.inspector.trace, byId('hover-tip')], infos,
    });
    // a reload, or the back button's return, brings the strokes back too (a review: after
    // F5 the pad showed the drawing's 28x28 levels scaled up, blurred)
    window.addEventListener('pagehide', () => {
      this.#keepStrokes();
      this.#keepHistory();
      this.#keepAddress();
    });
    // back from the browser's page cache, the page goes on as it was, writes still to come
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) [ADDRESS_KEY, HISTORY_KEY, CAPTION_KEY].forEach(forget);
    });
    const beside = besideChoice({ models: this.models, usual: this.usual, infos,
      onChoose: async (name) => {
        const href = await this.#addressWith(name);
        if (href === null) return false;
        window.location.assign(href); // the strokes are kept as the page goes (pagehide)
        return true;
      } });
    this.predictions = new Predictions(this.shown, (name) => this.grid.head(name), byId('announce'),
      beside && this.models[1] ? { [this.models[1]]: beside } : {});
    if (this.models.join() !== 'max,avg') {
      namePair(byId('pair-text'), this.shown);
      // the nudge panel's notes on max against avg, for another pair (a review: beside
      // nopool they still spoke of avg's lower numbers)
      for (const node of document.querySelectorAll('[data-pair]')) node.hidden = node.dataset.pair === 'usual';
    }
    this.nudge = new NudgePanel({ pad: byId('nudge'), table: byId('nudge-table'), status: byId('nudge-status'), prediction: byId('nudge-pred') },
      this.models, layers, (dir) => this.nudgeBy(dir), () => this.undo(true));
    this.lab = new ShiftLab({ grids: byId('shift-grids'), table: byId('shift-table'), status: byId('shift-status') },
      this.shiftModels, layers, colors, { shown: this.models, infos });
    App.#sameStart(this.shown);
    const rank = (m) => (UI.variants.includes(m.name) ? UI.variants.indexOf(m.name) : UI.variants.length);
    const ranked = [...catalogue.models].sort((a, b) => rank(a) - rank(b));
    this.fields = new FieldFigures(ranked);
    this.pooling = new PoolFigure(this.shown[0], { lut: this.lut, gradient });
    renderDownsample(byId('downsample'), ranked, this.shown.map((m) => m.name),
      { seen: this.fields.root, pooling: this.pooling.root });
    renderSummary(byId('summary'), this.shown);
    byId('device').textContent = catalogue.device;

    // aria-busy tells assistive technology (and tests) when an update is on its way
    const mapsBox = byId('maps');
    const labBox = byId('shift-panel');
    this.maps = new Coalescer((job) => this.#runMaps(job), (busy) => {
      mapsBox.setAttribute('aria-busy', String(busy));
      // whatever left the pad ahead of the maps (an update unanswered, or dropped for one
      // that failed), it is asked about again (a second review: the asks stopped for good
      // when a sample's failure came after a stroke's)
      if (!busy && this.#ahead) this.#askLater();
    });
    this.shiftQueue = new Coalescer((job) => this.#runShifts(job), (busy) => labBox.setAttribute('aria-busy', String(busy)));
    mapsBox.setAttribute('aria-busy', 'false');
    labBox.setAttribute('aria-busy', 'false');
    const transport = new URLSearchParams(window.location.search).get('transport');
    this.live = transport !== 'http' && LiveChannel.supported ? new LiveChannel(config.api, this.models) : null;
    this.live?.open();
    this.pad = new DrawingPad(byId('pad'), (phase, t) => this.#ink(phase, t));
    this.dock = new PadDock(this.pad, byId('pad'), byId('maps-h').closest('section'),
      { nudge: byId('nudge'), table: byId('nudge-table') },
      { undo: () => this.undo(), clear: () => this.clear() });
    App.#placePanels();
    App.#sidebarHints();
    App.#placeTip();
    this.#wireControls();
    this.#reset({ said: false });
    byId('draw-panel').inert = false; // wired: a stroke or sample now supersedes the link's input (#follow)
    this.#follow(link);
    document.body.dataset.ready = 'true';
  }

  /** Show what the page's address asked for as it opened (link.js), unless a stroke, sample
   * or upload comes first; the address follows what is shown from then on. What cannot be
   * followed is said once the rest is shown (an answer clears the notice line). */
  async #follow(link) {
    const problems = [...link.problems];
    const epoch = this.#epoch;
    const kept = App.#keptStrokes(link.input);
    const caption = App.#keptCaption(link.input);
    const history = App.#keptHistory();
    let digit = null;
    if (link.digit !== null) {
      digit = this.config.digits.find((d) => d.index === link.digit);
      try {
        digit ??= await this.disagree?.find(link.digit);
        if (!digit) problems.push(`MNIST test digit #${link.digit} is not one this page offers (the samples and the list of digits max and avg answer differently)`);
      } catch (err) {
        problems.push(`the list of digits max and avg answer differently, which #${link.digit} may be in, could not be loaded (${err.message})`);
      }
    }
    this.#addressed = true;
    const acted = epoch !== this.#epoch;
    if (acted) {
      this.#relink(); // a stroke, sample or upload came first: it is shown, and said
    } else if (digit) {
      this.pickDigit(digit, { opening: true });
      const [dx, dy] = link.shift;
      const dirs = [[dx, dx > 0 ? 'right' : 'left'], [dy, dy > 0 ? 'down' : 'up']]
        .flatMap(([steps, dir]) => Array(Math.abs(steps)).fill(dir));
      this.#nudgeAgain(dirs, () => this.#picked === digit.index);
    } else if (kept) {
      // the strokes drawn, as this tab kept them, and the nudges over them made again
      this.load(pixelsJson(kept.before ?? link.input), 'application/json', 'the input the link holds', '', null, null, kept.strokes);
      this.#nudgeAgain(kept.nudges, () => this.pad.snapshot().strokes.length === kept.strokes.length);
    } else if (link.input) {
      // the levels, said (a review: the pad showed a blurred digit, larger than drawn,
      // without a word)
      this.load(pixelsJson(link.input), 'application/json', 'the input the link holds',
        caption ?? 'As the networks saw it: the 28x28 input the page\'s address holds, scaled up to the pad.',
        null, null, null, { opening: true });
    }
    if (history && !acted) await this.#historyBack(history, this.#epoch);
    if (!problems.length) return;
    await this.maps.idle();
    await this.#nudges;
    this.#relink(); // the address says what is shown, not what could not be followed
    this.#notice(`The address could not be followed in full: ${problems.join('; ')}.`);
  }

  /** Undo's history as `#keepHistory` kept it, put back once the page shows again the input
   * it was kept with, where nothing has been drawn, picked or uploaded since (`epoch`). */
  async #historyBack({ shown, replaced }, epoch) {
    await this.maps.idle();
    await this.#nudges;
    const input = this.current?.result.input;
    if (epoch !== this.#epoch || this.#replaced.length || this.pad.drawing) return;
    if ((input ? levelsText(input) : '') !== shown || (!input && !this.pad.isEmpty)) return;
    this.#replaced = replaced;
    this.#syncUndo();
  }

  /** Nudge what is being shown as the page opens, `dirs` in order ('left', ...), for it
   * alone: a stroke, sample or upload (or an Undo that cancels the load) before they run
   * drops them, as does `still()` turning false, and so does a nudge before them that did
   * not land (a review: after a failed one, the rest moved another input than the one kept). */
  #nudgeAgain(dirs, still) {
    const after = this.#epoch;
    // not scrolled to their numbers (a page review: a link with a nudge opened with the
    // sidebar scrolled past the pad and the samples, which a student opening it looks for)
    dirs.forEach((dir, i) => this.nudgeBy(dir, () => after === this.#epoch && this.#moves.length === i && still(),
      { reveal: false }));
  }

  /** The address says what is shown (link.js): a sample by its number and the nudges in
   * place where following them gives the same input (else, as any other input, its
   * levels), and the map settings. Written at most every LINK_MS, the last state last
   * (a browser refuses a page that replaces its address too often). */
  #relink() {
    if (this.#addressed) this.#writeLink(linkTo(window.location.href, this.#linkState()));
  }

  /** A write put off writes the address as it was asked for: the page's state in between
   * may be half changed (a review: an Undo puts back a nudged sample's nudges before its
   * answer names the sample, and a write worked out then linked the sample shown with the
   * nudges of the other). */
  #writeLink(href) {
    clearTimeout(this.#linkTimer); // a write still to come is for an older state
    this.#linkDue = null;
    if (href === window.location.href) return;
    const wait = this.#linkedAt + LINK_MS - performance.now();
    if (wait > 0) {
      this.#linkTimer = setTimeout(() => this.#writeLink(href), wait);
      this.#linkDue = href;
      return;
    }
    this.#linkedAt = performance.now();
    try {
      history.replaceState(history.state, '', href);
      byId('link-status').textContent = '';
    } catch {
      // refused all the same: the next change writes it
    }
  }

  /** The address #relink was still to write, kept as the page goes: a reload asks for the
   * address as last written, and one within LINK_MS of a change opened what was shown before
   * it (a review). Only a write put off: while a link is still being followed, the address
   * is the link, and it stays (a second review: a reload before its maps came dropped it). */
  #keepAddress() {
    forget(ADDRESS_KEY);
    if (this.#linkDue !== null) keep(ADDRESS_KEY, JSON.stringify({ from: window.location.href, to: this.#linkDue }));
  }

  /** The address `#keepAddress` kept, put in place before the page reads it, where the page
   * is reloaded, or opened again by Back or Forward, at the address it had as it went; an
   * address opened anew (a link followed, a network chosen, the same address typed) is read
   * as it is. Taken once. */
  static #reloadedAddress() {
    const kept = takeKept(ADDRESS_KEY);
    try {
      const { from, to } = JSON.parse(kept ?? 'null') ?? {};
      const how = performance.getEntriesByType('navigation')[0]?.type;
      if (how !== 'reload' && how !== 'back_forward') return;
      if (from !== window.location.href || typeof to !== 'string') return;
      if (new URL(to).origin !== window.location.origin) return;
      history.replaceState(history.state, '', to);
    } catch {
      // a value the page did not write, or a write refused: the address is read as it is
    }
  }

  /** What the address holds of what is shown (link.js's linkTo). */
  #linkState() {
    const input = this.current?.result.input ?? null;
    // a sample by its number only where the input shown is the one sent for it, moved by the
    // nudges in place: an Undo's put-back sets those before its answer comes, and keeps them
    // where a newer input drops that answer (two reviews: a sample shown was linked with the
    // nudges of the one put back, ?digit=4&dx=1); the input shown is then linked as levels
    const sent = this.#moves.at(-1)?.after ?? this.#loaded?.body;
    const sample = sent !== undefined && sent === this.current?.body
      && replayable(this.#moves, this.#moves[0]?.before, input);
    return {
      digit: sample ? this.#picked : null,
      shift: this.offset,
      input: input && !isBlank(input) ? input : null,
      size: document.querySelector('input[name="size"]:checked')?.value,
      norm: this.norm,
      beside: this.beside,
    };
  }

  /** Before the page opens again (reloaded, or with another network beside the first): a
   * drawing's strokes, with the 28x28 levels they gave (which the address holds), for
   * `#follow` to put back on the pad as drawn (a first-visit review: the drawing came back
   * as its 28x28 levels scaled up, blurred), and the nudges in place over it, with the
   * levels before them, for `#follow` to make again (a later review: a nudged drawing came
   * back as its moved levels, and Undo then cleared it). Over a sample or upload, the pad
   * shows the levels as before. */
  #keepStrokes() {
    const input = this.current?.result.input;
    const first = this.#moves[0];
    const sent = first?.body ?? this.current?.body; // what the maps shown are of, unnudged
    const shown = sent?.strokes;
    const { strokes, base } = this.pad.snapshot();
    forget(STROKES_KEY);
    forget(CAPTION_KEY);
    // an upload shown as it came, with no stroke or nudge over it: its line goes with its
    // levels, which the address holds (a student's review: once a network was chosen, "Uploaded
    // photo.png: cropped and centred..." read "the 28x28 input the page's address holds")
    const loaded = this.#loaded;
    if (input && loaded && loaded.index === null && loaded.body === this.current?.body
      && typeof loaded.picked === 'string' && loaded.picked && !this.#moves.length && !strokes.length) {
      keep(CAPTION_KEY, JSON.stringify({ input: levelsText(input), said: loaded.picked }));
    }
    if (!input || base || !strokes.length || this.pad.drawing) return;
    // the pad as the maps have it: an answer that failed (a review: a stroke the server never
    // answered came back on the pad over the levels before it) or is still to come, not
    if (shown?.length !== strokes.length || shown.some((s, i) => s !== strokes[i])
      || sent.points !== App.#points(strokes)) return;
    // each nudge kept is two requests as the page opens again: a long walk comes back as its
    // levels, as before
    if (this.#moves.length > KEPT_NUDGES) return;
    const nudged = first ? { before: levelsText(first.before), nudges: this.#moves.map((m) => m.dir) } : {};
    // too large for the storage, or none: the levels come back, as before
    keep(STROKES_KEY, JSON.stringify({ input: levelsText(input), strokes, ...nudged }));
  }

  /** Before the page opens again (another network chosen, or reloaded): what Undo can put
   * back, as plain data, with the input shown now ('' for none), which the page must show
   * again for it to apply (a student's review: a drawn 7 that a sample replaced could not
   * be brought back once another network was chosen). Newest first, up to the first that
   * holds nudges, which carry answers of their own; older ones go with it. An upload is
   * kept as the 28x28 input it gave, which Undo then sends as its levels. */
  #keepHistory() {
    forget(HISTORY_KEY);
    if (this.pad.drawing || this.#loading || this.#ahead) return;
    const input = this.current?.result.input;
    if (!input && !this.pad.isEmpty) return;
    // strokes over an upload or sample come back as its levels (#keepStrokes): the Undos
    // that took them back are gone, and what was before them is not put back under them
    const { strokes, base } = this.pad.snapshot();
    if (base && strokes.length) return;
    const entries = [];
    for (const { pad, loaded, moves, replacedBy } of [...this.#replaced].reverse()) {
      if (moves.length) break;
      const under = pad.base ? levelsText(baseLevels(pad.base)) : null; // its image's levels
      entries.unshift({
        strokes: pad.strokes, base: under, replacedBy,
        loaded: loaded && under ? { label: loaded.label, index: loaded.index, picked: typeof loaded.picked === 'string' ? loaded.picked : '' } : null,
      });
    }
    if (entries.length) keep(HISTORY_KEY, JSON.stringify({ shown: input ? levelsText(input) : '', entries }));
  }

  /** Whether `s`, read back from the tab's storage, is a stroke as the pad keeps it:
   * {width, points: [[x, y], ...]} (`#keptStrokes`, `#keptHistory`). */
  static #isStroke(s) {
    return typeof s?.width === 'number' && Array.isArray(s.points)
      && s.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
  }

  /** What `#keepHistory` kept, as `#replaced` holds it: {shown, entries}, or null (none, or
   * not as the page writes it). Taken once. */
  static #keptHistory() {
    const kept = takeKept(HISTORY_KEY);
    const orNumber = (v) => v === null || Number.isInteger(v);
    try {
      const { shown, entries } = JSON.parse(kept ?? 'null') ?? {};
      if (typeof shown !== 'string' || !Array.isArray(entries) || entries.length > UNDO_DEPTH) return null;
      const replaced = entries.map(({ strokes, base, replacedBy, loaded }, i) => {
        const levels = base === null ? null : levelsOf(String(base));
        if (!Array.isArray(strokes) || !strokes.every(App.#isStroke) || typeof replacedBy !== 'string'
          || (base !== null && !levels)) throw new Error('not kept by this page');
        if (loaded && !(levels && orNumber(loaded.label) && orNumber(loaded.index) && typeof loaded.picked === 'string')) {
          throw new Error('not kept by this page');
        }
        return {
          pad: { strokes, base: levels && baseCanvas(levels) },
          loaded: loaded ? { body: { data: pixelsJson(levels), type: 'application/json' }, label: loaded.label, picked: loaded.picked, index: loaded.index } : null,
          // a version no answer of this page has had: put back, the pad is ahead of the maps
          // until its answer comes
          moves: [], version: -1 - i, replacedBy,
        };
      });
      return { shown, replaced };
    } catch {
      return null;
    }
  }

  /** The pad as the PNG the networks are sent, with the strokes it holds (what
   * `#keepStrokes` checks the maps shown against). */
  #padBody() {
    const { strokes } = this.pad.snapshot();
    return { data: this.pad.png(), type: 'image/png', strokes, points: App.#points(strokes) };
  }

  /** How many points `strokes` hold: a stroke being drawn grows in place. */
  static #points(strokes) {
    return strokes.reduce((n, s) => n + s.points.length, 0);
  }

  /** The line under the pad `#keepStrokes` kept for an upload, if its levels are `levels`
   * (null: none asked for); else null. Taken once, whatever the address. */
  static #keptCaption(levels) {
    const kept = takeKept(CAPTION_KEY);
    try {
      const { input, said } = JSON.parse(kept ?? 'null') ?? {};
      return levels && input === levelsText(levels) && typeof said === 'string' ? said : null;
    } catch {
      return null;
    }
  }

  /** What `#keepStrokes` kept, if it gave `levels` (null: none asked for): {strokes,
   * before, nudges}, the strokes and, where nudges moved their input to `levels`, the levels
   * before them (a 28x28 array) and the nudges' directions in order; else null. Taken once,
   * whatever the address. */
  static #keptStrokes(levels) {
    const kept = takeKept(STROKES_KEY);
    try {
      const { input, strokes, before = null, nudges = [] } = JSON.parse(kept ?? 'null') ?? {};
      const fits = levels && input === levelsText(levels) && Array.isArray(strokes) && strokes.every(App.#isStroke);
      if (!fits || !strokes.length) return null;
      if (!nudges.length) return { strokes, before: null, nudges };
      const moved = Array.isArray(nudges) && nudges.every((dir) => Object.hasOwn(UI.nudges, dir));
      const unmoved = moved && typeof before === 'string' ? levelsOf(before) : null;
      return unmoved ? { strokes, before: unmoved, nudges } : null;
    } catch {
      return null;
    }
  }

  /** The address of what is shown with `beside` for the second network, once the maps and
   * nudges on their way are shown (else the input they bring would be left out); while the
   * page's own address is still being followed, that address with `beside` alone changed. */
  async #addressWith(beside) {
    if (!this.#addressed) {
      const url = new URL(window.location.href);
      if (beside) url.searchParams.set('beside', beside);
      else url.searchParams.delete('beside');
      return url.href;
    }
    await this.maps.idle();
    await this.#nudges;
    // the drawing on the pad, which the page opens again with, not the last the server
    // answered for (a review: a bar drawn while it could not be reached was lost); while
    // the server still does not answer, the page stays (a second review)
    if (this.#ahead) await this.#askAboutPad();
    if (this.#ahead) {
      this.#notice('The page did not open again with the other network: the drawing on the pad has no maps yet, '
        + 'and would be lost. Choose again once it has them.', { behind: true });
      return null;
    }
    return linkTo(window.location.href, { ...this.#linkState(), beside });
  }

  #wireControls() {
    // the skip link moves the focus without writing #maps-h into the address, which the
    // address that follows what is shown (and Copy link) would then carry
    byId('skip-link').addEventListener('click', (e) => {
      e.preventDefault();
      byId('maps-h').focus();
    });
    byId('clear').addEventListener('click', () => this.clear());
    byId('undo').addEventListener('click', () => this.undo());
    // the usual keys for Undo, from anywhere on the page: the button is far from the nudge
    // pad (found by a review: 14 Shift+Tabs away, three screens up on a phone)
    // (not mid-stroke: the stroke being drawn would go, and its ink go on being sent)
    document.addEventListener('keydown', (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.shiftKey || e.altKey || e.isComposing || e.defaultPrevented) return;
      if (e.code !== 'KeyZ' && e.key.toLowerCase() !== 'z') return;
      e.preventDefault();
      if (!this.pad.drawing) this.undo();
    });
    for (const input of document.querySelectorAll('input[name="brush"]')) {
      if (input.value === UI.defaultBrush) input.checked = true;
      input.addEventListener('change', () => {
        this.pad.width = UI.brushes.find((b) => b.name === input.value).width;
      });
    }
    byId('upload').addEventListener('change', (e) => {
      const file = e.target.files[0];
      if (file) {
        // said under the pad, as a sample's label is (a review: an upload of dark ink on
        // white came back inverted without a word); a long name keeps its end, the type
        const chars = Array.from(file.name); // whole characters, an emoji's two halves kept
        const name = chars.length > 40 ? `${chars.slice(0, 28).join('')}…${chars.slice(-11).join('')}` : file.name;
        this.load(file, file.type, UPLOADED,
          // one with no ink is said to be empty, not cropped (a phone review)
          (result) => (result.blank ? `Uploaded ${name}: no ink found in it, so the networks' answers are guesses about nothing.`
            : `Uploaded ${name}: cropped and centred, light ink on dark as MNIST's digits are (inverted if it was dark on light).`));
      }
      e.target.value = '';
    });
    for (const button of document.querySelectorAll('button[data-digit]')) {
      const index = Number(button.dataset.digit);
      button.addEventListener('click', () => this.pickDigit(this.config.digits.find((d) => d.index === index)));
    }
    if (this.config.disagree) {
      this.disagree = new DisagreeList(byId('disagree'), this.config.disagree, (digit, byPointer) => {
        this.pickDigit(digit);
        // the list is far below the maps: a click goes up to them; the keyboard stays in the
        // list, with its focus (a screen reader hears the predictions from #announce); beside
        // them, the sidebar, which scrolls on its own, up to the pad the digit is on (a
        // teacher's review: left at the nudges, the pad was out of view)
        // (in one column it does not scroll, and scrollTo does nothing)
        if (byPointer) {
          byId('maps-h').scrollIntoView({ block: 'start' });
          byId('pad').closest('.sidebar').scrollTo({ top: 0 });
        }
      }, this.models.includes('avg') ? '' : 'avg is not shown now: choose it beside max to see its maps.');
    }
    // a browser may keep the choices made before a reload (Firefox does; a review found the
    // page would then show "per layer" checked, its maps painted per channel)
    this.norm = document.querySelector('input[name="norm"]:checked')?.value ?? this.norm;
    // its words live in config.js alone
    const legend = (norm) => {
      byId('legend-text').textContent = UI.legend[norm].lead;
      byId('legend-more').querySelector('summary').textContent = UI.legend[norm].label;
      byId('legend-more').querySelector('p').textContent = UI.legend[norm].more;
    };
    legend(this.norm);
    for (const input of document.querySelectorAll('input[name="norm"]')) {
      input.addEventListener('change', () => {
        this.norm = input.value;
        legend(input.value);
        if (this.current) this.#paint(this.current.result);
        this.#relink();
      });
    }
    this.grid.toScale = document.querySelector('input[name="size"]:checked')?.value === 'scale';
    for (const input of document.querySelectorAll('input[name="size"]')) {
      // the marks are placed in shares of their grid: they follow it as it shrinks
      input.addEventListener('change', () => {
        this.grid.toScale = input.value === 'scale';
        this.#relink();
      });
    }
    // the shift lab's axes are written on the panel, whose colours the view sets
    document.addEventListener('fm:view', () => this.lab.restyle());
    const copy = byId('copy-link');
    let copied = 0;
    copy.addEventListener('click', async () => {
      // the address as it is to be written, where a write is still to come (a review: within
      // 350 ms of a change, the link copied was of the input before)
      const link = this.#linkDue ?? window.location.href;
      if (!await copyText(link, copy)) {
        this.#notice('This browser would not copy the link here: the address bar holds it.');
        return;
      }
      // an empty pad's link holds no input (a review: it was said to open "this input")
      const { digit, input } = readLink(new URL(link).search);
      byId('link-status').textContent = digit !== null || input !== null
        ? 'Copied: the link opens this input with these settings.'
        : 'Copied: the link opens the page, its pad empty, with these settings.';
      copy.textContent = 'Link copied';
      clearTimeout(copied);
      copied = setTimeout(() => { copy.textContent = 'Copy link'; }, 2000);
    });
  }

  // --- sources of a drawing ------------------------------------------------------------
  #ink(phase, pointerTime) {
    if (phase === 'cancel') { // a stroke taken back as it ended (pad.js): its Undo, at once
      this.#undoStroke();
      this.#syncUndo();
      return;
    }
    if (phase === 'start') {
      this.#supersede(); // an upload on its way is dropped by the stroke's first request
      this.#syncUndo();
      this.#setPicked('', null, null, { drawnOver: true }); // no longer the sample as labelled
      // a new stroke: whatever is in flight (an upload, a nudge) no longer describes the pad
      this.generation += 1;
      if (this.#moves.length) this.#movesBefore.set(this.pad.snapshot().strokes.at(-1), [...this.#moves]);
      this.#unmove();
      if (this.live && !this.live.ready) this.live.open(); // reconnect once per stroke
    }
    if (phase === 'end') this.#sayDrawn();
    if (phase === 'start') this.#versionBefore.set(this.pad.snapshot().strokes.at(-1), this.#padVersion);
    this.#padVersion += 1;
    this.#push({
      source: 'pad', pointerTime, what: 'the drawing', showsPad: true, askAgain: true,
      makeBody: async () => this.#padBody(),
      then: phase === 'end' ? (current) => this.#refreshShifts(current) : null,
    });
  }

  /** A drawing's line under the samples: where it is small, that preprocessing scales it up
   * to MNIST's size, its strokes with it (a review: a tiny 7 in a corner became a blob that
   * both networks read as an 8, and the note that says why is a screen below on a phone).
   * A digit as large as MNIST's, 20 of 28 px, is 200 px on the 280 px pad. */
  #sayDrawn() {
    const span = this.pad.inkSpan();
    const factor = span ? (UI.padSize * 20 / 28) / span : 0;
    const times = factor >= 10 ? Math.round(factor) : factor.toFixed(1); // one line at 1024 px
    this.#setPicked(factor >= 2 ? `Drawn small: scaled up ${times}x, strokes too.` : '', null, null, { drawnOver: true });
  }

  /** Empty the pad and every view; Undo brings back what was there (a stray click on Clear
   * used to lose the drawing, the one action Undo could not take back). */
  clear() {
    if (!this.pad.isEmpty) this.#keep('the Clear');
    this.#supersede();
    this.generation += 1;
    this.#padVersion += 1; // emptied: what Clear kept is not what is shown, once put back
    this.#dropWaiting();
    this.pad.clear();
    this.#reset();
  }

  /** [dx, dy]: how far the nudges in place move the drawing's input. */
  get offset() {
    return this.#moves.reduce(([x, y], m) => [x + m.dx, y + m.dy], [0, 0]);
  }

  /** Inked pixels the nudges in place moved off the edge: zero fill does not bring them back. */
  get #lostInk() {
    return this.#moves.reduce((sum, m) => sum + m.lost, 0);
  }

  /** A stroke, Clear, upload or sample replaces what the pad held: an Undo waiting to run
   * was pressed on that, and does nothing; an upload or sample on its way is dropped, and
   * `loading` (a new upload's or sample's token) is the one an Undo would cancel now. */
  #supersede(loading = null) {
    this.#epoch += 1;
    this.#loading = loading;
    // the readout's height, held for the longest unit read since, is given back: the
    // pointer is on the pad or the samples, above it (trace.js release)
    this.tracer.release();
  }

  /** What the pad holds now, kept for Undo to put back once a Clear, an upload or a sample
   * has replaced it (found by a review: a sample picked by mistake lost a drawing, after
   * Clear had been made undoable). The last UNDO_DEPTH are kept. */
  #keep(replacedBy) {
    this.#replaced.push({ ...this.#state(), replacedBy });
    if (this.#replaced.length > UNDO_DEPTH) this.#replaced.shift();
  }

  /** What the pad holds and how its input is moved, as #keep keeps it and #restore puts it. */
  #state() {
    return { pad: this.pad.snapshot(), loaded: this.#loaded, moves: this.#moves, version: this.#padVersion };
  }

  /**
   * Take back the last nudge, or else the last stroke, or else the last Clear, upload or
   * sample. It waits for the nudges asked for before it, and each Undo for the one before
   * (found by a review: an Undo pressed while a nudge's answer was on its way took back the
   * stroke under it, and the nudge's answer was then dropped; two quick Undos took back
   * one nudge). What it was pressed on decides what it does (a later review): pressed
   * while nudges were on their way it takes back only a nudge: the newest on its way that
   * no Undo before it was pressed for, and none if that one failed, as no nudge came of it
   * (a fourth review: it took back the nudge before, in place when it was pressed; and a
   * review of that mend: two Undos for two nudges, the first of which failed, took back
   * the second and the one before them);
   * a stroke, Clear, upload or sample made before it runs leaves it undone; and pressed
   * while an upload or sample is on its way, it cancels that and nothing else.
   * `nudgesOnly`: ↺ among the nudge buttons, which never takes back more than a nudge.
   */
  undo(nudgesOnly = false) {
    if (this.#loading) {
      // said before the answers, as each Undo says what it took back (a review: this one
      // alone said nothing of it)
      const said = `Undo: ${this.#loading.name} is cancelled. `;
      this.#loading = null;
      this.generation += 1; // its answer is dropped as it comes; the pad never changed
      // the load had dropped what was on its way for the pad: the pad is sent again (found
      // by a review: the maps stayed those of the drawing before the last stroke)
      if (!this.pad.isEmpty) this.#sendPad({ said });
      else {
        this.#unsayWaiting(); // nothing is on its way now (a second review)
        this.predictions.clear({ said: true, lead: said });
      }
      this.#syncUndo();
      return this.#nudges;
    }
    const epoch = this.#epoch;
    const inFlight = this.#nudging.epoch === epoch && this.#nudging.asked.some((n) => !n.settled);
    const forNudge = nudgesOnly || inFlight;
    const pressedFor = inFlight ? this.#nudging.asked.findLast((n) => !n.settled && !n.claimed) ?? null : null;
    if (pressedFor) pressedFor.claimed = true;
    this.#nudges = this.#nudges.then(() => {
      if (epoch !== this.#epoch || this.pad.drawing) return null;
      if (forNudge && !this.#moves.length) return null;
      if (pressedFor && !pressedFor.landed) return null; // it came to nothing: nothing to take back
      return this.#undo();
    }).catch((err) => this.#showError(err, 'the undo'));
    return this.#nudges;
  }

  async #undo() {
    if (this.#moves.length) {
      await this.#unnudge();
      return;
    }
    if (!this.#undoStroke() && this.#canRestore) this.#restore();
  }

  /** Take back the pad's last stroke, if it has one (true then): Undo's, and at once that of
   * a stroke the pad takes back as it ends (a second finger, a swipe off the docked pad:
   * queued behind the nudges as Undo is, a review found it lost to a stroke drawn meanwhile). */
  #undoStroke() {
    const stroke = this.pad.snapshot().strokes.at(-1);
    if (this.pad.undo()) {
      this.generation += 1;
      // the pad as it was before the stroke: where its maps are shown, it is not ahead (a
      // fourth review: the banner said the maps were behind a pad they matched)
      this.#padVersion = this.#versionBefore.get(stroke) ?? this.#padVersion + 1;
      const empty = this.pad.isEmpty;
      if (empty) {
        this.#dropWaiting();
        this.#reset();
      } else {
        this.#unmove();
        // a stroke drawn over a nudged input started again from it unmoved: its Undo puts the
        // nudges back, and the moved input is what is sent (a teacher's review: the sample
        // came back unmoved, and the nudges shown before the stroke were lost)
        const moves = this.#movesBefore.get(stroke);
        if (moves) {
          this.#moves = [...moves];
          this.#syncUndo();
        }
      }
      this.#keepFocus();
      if (empty) return true;
      if (this.#ahead) {
        this.#sendPad({ said: STROKE_UNDONE });
        return true;
      }
      // the maps still show the pad as it was before the stroke (none of its updates was
      // answered): nothing to send, and nothing behind (a fourth review: unanswered, the
      // banner said the maps were behind a pad they matched); a sample's line comes back
      this.#caughtUp();
      if (this.said?.behind) this.#clearError();
      if (this.current && !this.#moves.length) this.predictions.announce(this.current.result, STROKE_UNDONE);
      this.#sayPad(this.#bareLoad);
      if (this.#moves.length && this.current) this.#showMoves(this.current.result);
      this.#relink();
      return true;
    }
    return false;
  }

  /** Put back what the last Clear, upload or sample replaced: the strokes and the image
   * under them, and the nudges in place then, with their numbers; the input is sent as it
   * was shown. What Undo can take back next is back at once (found by a review: put back
   * with the answer, a second Ctrl+Z before it took back a stroke and lost the nudges); if
   * the answer fails, the pad is as it was before this Undo, and Undo can try once more. */
  #restore() {
    const kept = this.#replaced.pop();
    const now = this.#state();
    this.generation += 1;
    const put = ({ pad, loaded, moves, version }) => {
      this.pad.restore(pad);
      this.#loaded = loaded;
      this.#moves = moves;
      this.#padVersion = version;
    };
    put(kept);
    if (this.pad.isEmpty) {
      this.#dropWaiting();
      this.#reset(); // a sample or upload picked on an empty pad: back to nothing
    } else {
      this.#sendPad({ said: `Undo: back to the pad before ${kept.replacedBy}. `, failed: () => {
        put(now);
        if (!this.#ahead) this.#caughtUp(); // no ask left armed for what is shown again
        this.#replaced.push(kept);
        this.#syncUndo();
        if (this.current) this.#refreshShifts(this.current); // the lab of what is shown again
        this.#relink(); // a change of the settings meanwhile (a review: it was not written)
      } });
    }
    this.#syncUndo();
    this.#keepFocus();
  }

  /** The upload or sample the pad holds with no stroke over it, else null. */
  get #bareLoad() {
    return this.pad.canUndo ? null : this.#loaded;
  }

  /** The line under the samples for what the pad holds: `loaded`'s (a drawing put back over
   * a sample is no sample: found by a test, its line stayed), else a drawing's size. */
  #sayPad(loaded) {
    if (loaded) this.#setPicked(loaded.picked ?? '', loaded.label, loaded.index);
    else this.#sayDrawn();
  }

  /**
   * Send the drawing on the pad after an Undo. An upload or sample alone is sent as the
   * image it came from, not as the pad redrawn from its 28x28 view, which preprocessing
   * would crop, scale and centre again (a review saw avg's answer for sample #18 flip from
   * 5 to 3 after a stroke and an undo). Where nudges are in place (put back with what a
   * Clear, upload or sample replaced), the input as the last one moved it is sent, and its
   * numbers shown again; `failed()` is called if the answer does not come. Resolves once
   * it is shown or has failed. `source`: 'again' where the pad is sent again (#askAboutPad).
   */
  #sendPad({ failed = null, source = 'undo', said = '' } = {}) {
    const loaded = this.#bareLoad;
    const nudged = this.#moves.at(-1) ?? null;
    let done;
    const answered = new Promise((resolve) => { done = resolve; });
    this.#push({
      source, what: 'the drawing', failed, quiet: Boolean(nudged), done, said,
      // unanswered, the pad stays as it is, ahead of the maps, unless `failed` puts it back
      showsPad: true, askAgain: !failed,
      makeBody: async () => nudged?.after ?? loaded?.body ?? this.#padBody(),
      then: (current) => {
        if (loaded) current.label = loaded.label;
        this.#sayPad(loaded);
        if (nudged) {
          current.label = nudged.label;
          this.#showMoves(current.result);
        } else {
          // no nudge in place: none said (a page review: a sample nudged, moved back, then
          // taken back by Undo left "Nudge undone", and the sample's answers for a screen
          // reader, beside the drawing put back)
          this.nudge.clear();
        }
        this.#refreshShifts(current);
      },
    });
    return answered;
  }

  /**
   * Found by a review: Undo after two nudges took back the last stroke, dropped both nudges
   * without a word, and left the nudge numbers of an input no longer shown. It takes back
   * the last nudge: the input before it is sent again (the pad was not moved), and the
   * table shows the numbers of the nudge before it, if one is still in place, else none.
   */
  async #unnudge() {
    // taken off the stack once its input is shown: a request that fails or is dropped
    // leaves the nudge in place, and the stack as the input shown
    const index = this.#moves.length - 1;
    const back = this.#moves[index];
    this.generation += 1;
    await new Promise((resolve) => this.#push({
      source: 'undo', what: 'the input before the nudge', done: resolve, quiet: true,
      // the pad as it stands, moved: shown once answered (a third review: an Undo of a
      // Clear dropped for it left the pad counted as ahead, and asked about again)
      showsPad: true,
      makeBody: async () => back.body,
      then: (current) => {
        this.#moves.length = index;
        this.#syncUndo();
        this.#keepFocus();
        current.label = back.label;
        // a sample's line, which an Undo of a Clear dropped for this one did not put back
        const loaded = this.#bareLoad;
        if (loaded) this.#sayPad(loaded);
        // the nudge still in place, if any, shows its numbers again (found by a review: the
        // table went blank while the line said the input was still moved)
        this.#showMoves(current.result, true);
        this.#refreshShifts(current);
      },
    }));
  }

  /** The nudge panel for the nudges in place, after an Undo: the last one's numbers (none
   * where none is left), how far they move the input, and what the networks say of it
   * (`result`, the input shown); `undone`: said as an Undo's outcome. */
  #showMoves(result, undone = false) {
    const last = this.#moves.at(-1);
    if (last) this.nudge.showChange(last.dir, last.shifts, false);
    else this.nudge.clearNumbers();
    this.nudge.setOffset(...this.offset, undone, this.predictions.sentence(result), this.#lostInk);
    if (last) this.predictions.writeBrief(byId('nudge-pred'), result, 'now ');
    this.#briefUnderPad(result);
  }

  /** The input is the drawing's, unmoved: no nudge to take back, none said, no numbers. */
  #unmove() {
    this.#moves = [];
    this.nudge.clear();
    this.#syncUndo();
    // a new sample's or upload's answers were written under the pad before this, with the
    // last input's nudges (a review)
    if (this.current) this.#briefUnderPad(this.current.result);
  }

  /** Send an upload or a sample digit and put what the model saw on the pad;
   * `picked` is the line shown under the samples once it is there, or a function of the
   * answer that gives it (an upload's, which says whether it held ink),
   * `label` the sample's MNIST label, which the shift lab holds the predictions against, and
   * `index` its place in MNIST's test set; `strokes`: the drawing that gave these levels, put
   * on the pad in their place (`#keepStrokes`), so that it is as drawn and Undo takes back
   * its strokes. `opening`: what the page's address holds, shown as it opens: the page's
   * start, which Undo does not take back (a student's review: Undo on a teacher's link
   * emptied the pad and the address, and nothing brought the digit back). */
  load(data, type, what, picked = '', label = null, index = null, strokes = null, { opening = false } = {}) {
    // not mid-stroke: its answer would put the sample under a stroke still being drawn, which
    // then went as a picture, re-cropped (a third review); Ctrl+Z waits likewise
    if (this.pad.drawing) return;
    // a stroke's update on its way or waiting, which this drops (not a page already behind,
    // whose asks are armed: a fourth review)
    const drops = this.#ahead && !this.#askAgain.timer && !this.#asking;
    this.generation += 1;
    const body = strokes ? { data, type, strokes, points: App.#points(strokes) } : { data, type };
    // named as a screen reader hears it after an Undo (`what` is the error messages')
    const name = index !== null ? `MNIST test digit #${index}` : what === UPLOADED ? 'the upload' : what;
    const token = { name };
    // Undo cancels it, though not the page's start (a review: Undo while a link's digit
    // was on its way emptied the pad and left the address naming the digit)
    this.#supersede(opening ? null : token);
    this.#syncUndo();
    this.#push({
      source: 'upload', what,
      // a file chosen: as upload.js makes it, once (the body is kept, and sent again as made)
      makeBody: async () => {
        if (data instanceof File && body.data === data) Object.assign(body, await uploadBody(data, this.config.upload));
        return body;
      },
      // a stroke's update it dropped is sent at once, not 3 s later (a third review)
      failed: () => { if (drops && this.#ahead && !this.pad.isEmpty) this.#askAboutPad(); },
      done: () => {
        if (this.#loading !== token) return;
        this.#loading = null;
        this.#syncUndo();
      },
      then: (current) => {
        current.label = label;
        // strokes put back are Undo's to take back, one by one; an empty pad kept under them
        // left Undo enabled once they were gone, doing nothing (a review)
        if (!strokes && !opening) this.#keep(name);
        // `picked`: the line's words, or a function of the answer that gives them
        const said = typeof picked === 'function' ? picked(current.result) : picked;
        this.#loaded = { body, label, picked: said, index };
        this.#padVersion += 1; // the pad holds what is shown
        this.#shownVersion = this.#padVersion;
        this.#caughtUp();
        if (strokes) {
          this.pad.restore({ strokes, base: null });
          this.#sayDrawn(); // "Drawn small: ..." as before the page opened again (a review)
        } else {
          this.pad.setBase(current.result.input);
          this.#setPicked(said, label, index);
        }
        this.#unmove();
        this.#refreshShifts(current);
      },
    });
  }

  /**
   * Start from a real MNIST test digit shipped with the page ({index, label, pixels}:
   * `index` its place in MNIST's test set; one of the config's samples, or of the digits max
   * and avg answer differently), sent as its pixels (JSON, used as they are): sent as an
   * image, it is prepared again like a drawing, which crops faint pixels off 2 of the 10
   * samples (and, when the server centred on 13.5, moved 7 by a pixel and changed what the
   * networks answered: max's 82.6% for #18 read 98.6%). `opening`: as load's.
   */
  pickDigit({ index, label, pixels }, { opening = false } = {}) {
    const grey = base64Bytes(pixels);
    // what the networks should say: MNIST's own label, to hold their predictions against
    this.load(pixelsJson(grey), 'application/json', `the sample ${label}`,
      `MNIST test digit #${index}: labelled ${label}.`, label, index, null, { opening });
  }

  /** What the pad holds, said where it is seen: the line under the samples, MNIST's label
   * boxed under the bars, and the digit marked in the list of those max and avg answer
   * differently (none of them for a drawing or an upload). */
  #setPicked(text, label = null, index = null, { drawnOver = false } = {}) {
    this.#picked = index;
    setText(byId('picked'), text); // a live region: the same words written again are spoken again
    // the sample on the pad marked among the ten, as in the list of disagreements (a keyboard
    // review: only the line under them said which it was)
    for (const button of document.querySelectorAll('.digit-pick')) {
      if (index !== null && button.dataset.digit === String(index)) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
    this.predictions.markLabel(label, { hold: drawnOver });
    this.disagree?.mark(index);
  }

  /** Move the model's input one pixel; show how much each layer changed for that move,
   * brought into the sidebar's view unless `reveal` is false. */
  nudgeBy(dir, still = null, { reveal = true } = {}) {
    // counted against the epoch they were asked in: a stroke, Clear, upload or sample since
    // makes them moot (found by a review: an Undo after a Clear was taken for a nudge)
    const epoch = this.#epoch;
    if (this.#nudging.epoch !== epoch) this.#nudging = { epoch, asked: [] };
    const nudging = this.#nudging;
    const asked = { landed: false, settled: false, claimed: false };
    nudging.asked = [...nudging.asked.filter((n) => !n.settled), asked];
    const group = byId('nudge');
    this.#nudgesOut += 1;
    const slow = setTimeout(() => group.setAttribute('aria-busy', 'true'), NUDGE_WAIT_MS);
    // the shift lab it asks for first unanswered: nothing is lost, and it may be pressed
    // again, as for any request left unanswered (a page review); not said of a nudge that a
    // stroke, Clear, upload or sample since has made moot (a review of that)
    this.#nudges = this.#nudges.then(() => this.#nudge(dir, still, asked, reveal)).catch((err) => {
      if (epoch === this.#epoch) this.#showError(err, 'the nudge', { again: true });
    })
      .finally(() => {
        asked.settled = true;
        clearTimeout(slow);
        this.#nudgesOut -= 1;
        if (this.#nudgesOut) return;
        group.setAttribute('aria-busy', 'false');
        // the line under the buttons, a live region, says where the last nudge shown left
        // the input once no other is on its way (a keyboard review: six quick nudges were
        // six long messages, spoken one after another for seconds)
        this.nudge.sayDue();
      });
    return this.#nudges;
  }

  /** `still()`, asked once what comes before it is shown: false drops the nudge (a link's
   * nudges, for the digit it named alone). `asked.landed` says that its input was shown. */
  async #nudge(dir, still, asked, reveal) {
    if (this.pad.drawing) return;
    await this.maps.idle();
    if (still && !still()) return;
    // the drawing on the pad, not the last one the server answered for (a review: after an
    // outage, a nudge moved the drawing from before it, and its answer cleared the warning)
    if (this.#ahead) {
      await this.#askAboutPad();
      if (this.pad.drawing) return;
      if (this.#ahead) {
        // said even where the banner was dismissed: the nudge was asked for (a second review)
        this.#notice('Not nudged: the maps are not yet for the drawing on the pad, and a nudge moves what they show. '
          + 'Try again once they are.', { behind: true });
        return;
      }
    }
    const current = this.current;
    if (!current) {
      this.nudge.say('Draw a digit (or pick one) first: there is nothing to nudge yet.');
      return;
    }
    const generation = this.generation;
    const shifts = await this.#refreshShifts(current); // for the input before the move
    if (!shifts || generation !== this.generation || this.current !== current) return;
    this.nudge.showChange(dir, shifts, reveal);
    this.predictions.holdWrongLine();
    const [dx, dy] = UI.nudges[dir];
    const moved = shiftPixels(current.result.input, dx, dy);
    const lost = inked(current.result.input) - inked(moved);
    const body = { data: pixelsJson(moved), type: 'application/json' };
    await new Promise((resolve) => {
      this.#push({
        source: 'nudge', what: 'the nudged input', done: resolve, quiet: true, showsPad: true,
        makeBody: async () => body,
        then: (next) => {
          next.label = current.label; // the same digit, moved
          asked.landed = true;
          // the input copied: it is a view into the whole answer (wire.js), which each nudge
          // kept alive, about 79 kB, and the Undo history with it (a long-session review)
          this.#moves.push({ body: current.body, before: current.result.input.slice(), after: body, label: current.label, dx, dy, dir, shifts, lost });
          this.#syncUndo();
          // said once no other nudge is on its way (nudgeBy), as things stood now
          const said = [...this.offset, false, this.predictions.sentence(next.result), this.#lostInk, this.nudge.verdict];
          const epoch = this.#epoch;
          this.nudge.sayLater(() => {
            if (epoch !== this.#epoch) return;
            this.nudge.setOffset(...said);
            // after the line, which clears it where the input is back in place
            this.predictions.writeBrief(byId('nudge-pred'), next.result, 'now ');
          });
          this.#briefUnderPad(next.result);
          this.#refreshShifts(next);
        },
      });
    });
  }

  // --- requests ----------------------------------------------------------------------------
  #push(job) {
    job.generation = this.generation;
    const replaced = this.maps.push(job);
    replaced?.done?.();
  }

  #dropWaiting() {
    this.maps.drop()?.done?.();
    this.shiftQueue.drop()?.resolve(null);
  }

  async #runMaps(job) {
    let saidWaiting = false;
    let waiting = 0;
    try {
      if (job.generation !== this.generation) return;
      const sentTime = performance.now();
      const version = this.#padVersion; // the pad the body is made of
      const body = await job.makeBody();
      const encodedTime = performance.now();
      if (job.generation !== this.generation) return;
      // counted from the request, not from the body's making: a phone's photo made smaller
      // (upload.js) took seconds, said to be the server's (a review)
      waiting = setTimeout(() => {
        // not over any other message, such as the line that says the maps are behind the pad
        if (job.generation === this.generation && this.error.hidden) {
          this.#notice(WAITING_TEXT);
          saidWaiting = true;
        }
      }, WAITING_MS);
      const [result, transport] = await this.#maps(job, body);
      const receivedTime = performance.now();
      if (job.generation !== this.generation) return;
      this.#keys += 1;
      this.current = { key: this.#keys, body, result };
      if (job.showsPad) this.#shownVersion = version;
      if (!this.#ahead) this.#caughtUp();
      // a catch-up clears what it answers (the maps behind the pad, the waiting), not an
      // error about something else, such as an upload refused meanwhile (a third review)
      if (job.source !== 'again' || this.#catchUpSays) this.#clearError();
      else this.#sayAnswering();
      this.#paint(result);
      const paintedTime = performance.now();
      document.dispatchEvent(new CustomEvent('fm:painted', {
        detail: {
          pointerTime: job.pointerTime ?? null, sentTime, encodedTime, receivedTime, paintedTime,
          source: job.source, serverTiming: result.serverTiming, transport,
          arrivedTime: result.arrivedTime ?? null,
        },
      }));
      document.body.dataset.transport = transport;
      if (job.then) {
        // a settled input (only the updates while a stroke is drawn have no `then`); a
        // `quiet` job's predictions are said in the nudge panel's line, and what an Undo took
        // back alone here (a review: an Undo that cancelled a sample with nudges in place
        // said nothing, the nudge line being the same as before)
        if (job.quiet) this.predictions.hush(job.said);
        else this.predictions.announce(result, job.said);
        // far below the pad: redrawn once an input settles
        this.fields.show(result.input);
        this.pooling.show(result);
        job.then(this.current);
        this.#relink();
      }
    } catch (err) {
      if (job.generation === this.generation) {
        job.failed?.();
        if (job.askAgain && err instanceof ApiError && (err.unanswered || err.status === 503)) {
          // (where the maps already show the pad, as after an Undo back to them, nothing is
          // behind: nothing to say)
          if (this.#ahead) this.#fallBehind(err);
        } else {
          this.#showError(err, job.what, { again: true });
        }
      }
    } finally {
      clearTimeout(waiting);
      // nothing came of this job (dropped for a newer input, or an Undo cancelled it): its
      // notice goes with it (a review: it stayed up with nothing on its way)
      if (saidWaiting) this.#unsayWaiting();
      job.done?.();
    }
  }

  /** The pad holds what the server gave no answer for (`err`): said once a stroke (or
   * whatever began this generation), not at each failed update or ask, nor again once
   * dismissed (role=alert speaks each; with a busy server's answers between failures it
   * showed and cleared at every pointer move: a second review). The pad is asked about
   * again once the maps are idle. */
  #fallBehind(err) {
    this.predictions.awaiting();
    if (this.#behindSaid === this.generation) return;
    // nor over another message, such as an upload's failure, which would go unread (a
    // fourth review); the asks go on all the same
    if (!this.error.hidden && !this.#catchUpSays) return;
    this.#behindSaid = this.generation;
    // a 503's own words (retry after Retry-After) would contradict the retrying said here
    const why = err.unanswered ? err.message : 'the server is busy';
    this.#say(`The maps are not for the drawing on the pad: ${why}. The drawing stays, and the maps `
      + 'catch up once the server answers: it is asked again every few seconds.', err.status, { count: false, behind: true });
  }

  /** The pad is not what the maps show: an update for it is on its way or waits, or, read
   * when the maps are idle, none came of it. */
  get #ahead() {
    return this.#padVersion !== this.#shownVersion;
  }

  /** The banner says what a catch-up answers: the maps behind the pad, or the waiting. */
  get #catchUpSays() {
    return Boolean(this.said?.behind || this.said?.text === WAITING_TEXT);
  }

  #unsayWaiting() {
    if (this.said?.text === WAITING_TEXT) this.#clearError();
  }

  /** Send the pad again after the next of ASK_AGAIN_MS, unless it is shown by then (a
   * stroke, a nudge or an Undo sends it too). One ask is pending at a time, and only asks
   * are counted: each failed update of a stroke would have pushed the first to 10 s (a
   * review). */
  #askLater() {
    if (this.#askAgain.timer || this.#asking) return;
    const delay = ASK_AGAIN_MS[Math.min(this.#askAgain.tries, ASK_AGAIN_MS.length - 1)];
    const timer = setTimeout(async () => {
      this.#askAgain.tries += 1;
      // after whatever is on its way or waits (an Undo), which it would otherwise replace;
      // still pending meanwhile, so that the maps falling idle do not arm a second one
      await this.maps.idle();
      if (this.#askAgain.timer !== timer) return; // caught up meanwhile
      this.#askAgain.timer = 0;
      // shown since; or the stroke being drawn sends it, and its end asks again if need be
      if (!this.#ahead || this.pad.drawing) return;
      if (this.live && !this.live.ready) this.live.open();
      this.#askAboutPad();
    }, delay);
    this.#askAgain.timer = timer;
  }

  /** The pad is shown, or emptied: nothing to ask about. */
  #caughtUp() {
    clearTimeout(this.#askAgain.timer);
    this.#askAgain = { timer: 0, tries: 0 };
  }

  /** The pad as it stands, sent again (as an Undo sends it: a sample as itself, nudges in
   * place); one at a time: resolves when it is shown or has failed. */
  #askAboutPad() {
    this.#asking ??= this.#sendPad({ source: 'again' }).finally(() => { this.#asking = null; });
    return this.#asking;
  }

  /** The maps for a job's body and the transport that brought them: drawings go over the
   * live socket when it is open, everything else (and drawings without it) as a POST. */
  async #maps(job, body) {
    if (job.source === 'pad' && this.live) {
      if (this.live.ready) {
        try {
          return [await this.live.send(body.data), 'websocket'];
        } catch (err) {
          if (err instanceof ApiError) throw err; // the server refused this drawing
          // the socket is gone: this drawing goes by POST, and the next stroke reconnects
        }
      }
    }
    return [await postFeaturemaps(this.config.api, this.models, body), 'http'];
  }

  /** The shift lab's answer for `current` (asked once per input); null if superseded. */
  #refreshShifts(current) {
    if (this.#shifts?.key === current.key) return this.#shifts.promise;
    const promise = new Promise((resolve, reject) => {
      const replaced = this.shiftQueue.push({ current, resolve, reject });
      replaced?.resolve(null);
    });
    this.#shifts = { key: current.key, promise };
    this.lab.loading();
    // failed, or dropped before it ran (null): not kept as the input's numbers, or every
    // later nudge of it would do nothing (found by a review)
    const forget = () => {
      if (this.#shifts?.promise === promise) this.#shifts = null;
    };
    promise.then((shifts) => { if (shifts === null) forget(); }, forget);
    return promise;
  }

  async #runShifts({ current, resolve, reject }) {
    if (this.current !== current) {
      resolve(null);
      return;
    }
    try {
      const shifts = await postShifts(this.config.api, this.shiftModels, current.body);
      if (this.current === current) {
        this.lab.show(shifts, current.result.input, current.label, this.offset);
        // its own failure, for an input before, is past (a review: it stayed up once a
        // catch-up had asked for the lab again and got it)
        if (this.said?.what === 'the shift lab') this.#clearError();
      }
      resolve(shifts);
    } catch (err) {
      if (this.current === current) {
        this.lab.failed();
        this.#showError(err, 'the shift lab');
      }
      reject(err);
    }
  }

  // --- views ---------------------------------------------------------------------------------
  #paint(result) {
    this.grid.paint(result, this.lut, this.norm);
    for (const view of this.inputViews) paintGray(view, result.input);
    this.input.dataset.painted = 'true';
    this.predictions.show(result);
    this.#briefUnderPad(result);
    this.inspector.update(result, this.norm);
    if (this.hover) this.tracer.show(this.hover, result);
  }

  /** The answers in a line under the pad, shown in one column only. The pad shows the
   * input unmoved, so the nudges in place are said before them (a review: a link with &dx=1
   * gave the moved input's answers under the unmoved sample); written again as they change. */
  #briefUnderPad(result) {
    const [dx, dy] = this.offset;
    const lead = dx || dy ? `moved ${movedBy(dx, dy)}: ` : '';
    this.predictions.writeBrief(byId('pad-pred'), result, lead);
    this.dock.answer((line) => this.predictions.writeBrief(line, result, lead));
  }

  /** Networks trained from one seed began from the same filters: their conv1 maps look
   * alike, which reads as if the layers were shared unless the page says why. */
  static #sameStart(shown) {
    const seeds = new Set(shown.map((m) => m.seed));
    // beyond 2**53 two different seeds can read as one number here: say nothing then
    if (shown.length < 2 || seeds.size !== 1 || !Number.isSafeInteger(shown[0].seed)) return;
    const note = byId('same-start');
    const names = shown.map((m) => m.name);
    note.querySelector('summary').textContent = `Why do ${names.join('\'s and ')}'s conv1 maps look alike?`;
    note.querySelector('p').textContent = `${names.join(' and ')} were trained from the same seed: they began `
      + 'from the same random filters and saw the images in the same order. Training moved conv1\'s filters least: '
      + 'most stay close to the random filters they began as, where conv2\'s and conv3\'s grew about three to four times '
      // 'some', not 'a few': 4 of 32 for avg, 11 for strided, by the cosine of their filters
      // (a teacher's review)
      + 'as large and turned away from theirs. So most conv1 maps look alike, though some channels drifted apart; '
      + (shown.every((m) => m.layers.some((l) => l.kind === 'pool'))
        // pool1 pools these alike maps: a student's review found its grids alike too, under
        // words saying they differ
        // a science review: "they part" was too strong; over 500 test digits a third of conv2's
        // and conv3's channels of one number still correlate above 0.7 (conv1: 28 of 32)
        ? 'pool1 pools these alike maps, each network its own way, so they still look much alike; from conv2 on '
          + 'they drift further apart: many channels of one number still respond alike, but not reliably.'
        : 'after conv1 the maps differ, as each downsamples its own way (or not at all), and the later filters '
          + 'have drifted apart.')
      + App.#sparser(shown);
    note.hidden = false;
  }

  /** Where one of `shown` computes conv1 at every second position (strided), that its maps
   * are the smaller for it, not unlike: a teacher's review found the note silent on why
   * strided's look alike but half the size. */
  static #sparser(shown) {
    const convs = shown.map((m) => m.layers.find((l) => l.name === 'conv1'));
    const most = Math.max(...convs.map((c) => c.shape[1]));
    const dense = shown[convs.findIndex((c) => c.shape[1] === most)];
    return shown.map((m, i) => {
      const { shape: [, h, w], reads } = convs[i];
      if (h === most) return '';
      const stride = reads?.stride ?? 2;
      return ` ${m.name}'s conv1 computes its filters at every ${stride === 2 ? 'second' : `${stride}th`} position only, so its `
        + `maps are ${h}x${w} where ${dense.name}'s are ${most}x${most}.`;
    }).join('');
  }

  /** In one column (page.css) the nudge panel comes after the maps it changes, and on a
   * tablet held upright the input the networks see does too, just after them: under the pad
   * it pushed conv1's maps a screen below it, out of sight while drawing (a teacher's
   * review). They are moved in the document, not by CSS order, so that Tab and a screen
   * reader meet them where they are seen; on a wide page they go back to the sidebar, the
   * input under the pad and the nudges under the input. */
  static #placePanels() {
    const draw = byId('draw-panel');
    const seen = byId('seen-panel');
    const nudge = byId('nudge-panel');
    const sidebar = draw.parentElement;
    const maps = byId('maps').closest('section');
    const oneColumn = window.matchMedia(UI.oneColumn);
    const tall = window.matchMedia(UI.tallColumn);
    const place = () => {
      const active = document.activeElement;
      const focused = seen.contains(active) || nudge.contains(active) ? active : null;
      if (tall.matches) maps.after(seen, nudge);
      else if (oneColumn.matches) {
        draw.after(seen);
        maps.after(nudge);
      } else {
        draw.after(seen);
        sidebar.append(nudge);
      }
      // a moved element loses focus: give it back, and bring it into view where it now is
      focused?.focus({ preventScroll: true });
      focused?.scrollIntoView({ block: 'nearest' });
    };
    oneColumn.addEventListener('change', place);
    tall.addEventListener('change', place);
    place();
  }

  /** The hover tip sits at the window's foot: where the pointer is there, page.css puts it
   * at the top, off the maps hovered (found by a review at 768x1024). */
  static #placeTip() {
    const tip = byId('hover-tip');
    byId('maps').addEventListener('pointermove', (e) => {
      tip.toggleAttribute('data-top', e.clientY > window.innerHeight - TIP_ROOM);
    }, { passive: true });
    // body[data-mouse-on-maps] while the pointer is on the maps or the enlarged channel,
    // for page.css: the tip shows only then (the unit an open channel traces stays traced
    // when the pointer leaves, and the tip stayed up over the sidebar, over the very readout
    // it repeats: a student's review at 1366x768), and the sidebar's hints step aside then,
    // as a hovered unit's readout may reach them (#sidebarHints). The panel lies inside the
    // maps' element while a channel is enlarged: leaving it for a map is no leaving of the
    // maps, which then fire no enter. (A finger's tap leaves as it lifts.)
    const areas = '#maps, #inspector';
    for (const area of document.querySelectorAll(areas)) {
      area.addEventListener('pointerenter', () => document.body.toggleAttribute('data-mouse-on-maps', true));
      area.addEventListener('pointerleave', (e) => {
        if (!e.relatedTarget?.closest?.(areas)) document.body.toggleAttribute('data-mouse-on-maps', false);
      });
    }
  }

  /** Two columns on a short screen: the sidebar scrolls on its own, and neither its first
   * screen nor the nudge panel says the other is there. A button over the sidebar's top
   * goes back up to the pad while it is scrolled out of view, one over its foot down to the
   * nudge panel while that is below (found by a review at 1280x720 and 1366x768: scrolled
   * down to the nudges, the sidebar kept the pad out of sight, the page scrolled or not). */
  static #sidebarHints() {
    const sidebar = byId('pad').closest('.sidebar');
    const up = byId('to-pad');
    const down = byId('to-nudge');
    const update = () => {
      const box = sidebar.getBoundingClientRect();
      const scrolls = sidebar.scrollHeight > sidebar.clientHeight + 1;
      const pad = byId('pad').getBoundingClientRect();
      const nudge = byId('nudge-h').getBoundingClientRect();
      const { top, bottom } = inWindow(box);
      up.hidden = !scrolls || pad.bottom > top + 40;
      down.hidden = !scrolls || nudge.top < bottom - 24;
      // not over the input the networks see, which a window 600 px tall cuts at the bar as
      // the page opens (a review at 1024x600: it covered the lower half); once the input is
      // scrolled clear of the foot, the bar leads on down
      const input = byId('input28').getBoundingClientRect();
      down.toggleAttribute('data-over-input', input.top < bottom && input.bottom > bottom - down.offsetHeight);
      // inside its edges and clear of its scrollbar, where one shows (a review)
      for (const hint of [up, down]) {
        hint.style.left = `${box.left + sidebar.clientLeft + 1}px`;
        hint.style.width = `${sidebar.clientWidth - 2}px`;
      }
      up.style.top = `${top}px`;
      down.style.top = `${bottom}px`;
    };
    up.addEventListener('click', () => sidebar.scrollTo({ top: 0 }));
    down.addEventListener('click', () => {
      // the heading just under the button that leads back up
      sidebar.scrollBy({ top: byId('nudge-h').getBoundingClientRect().top - inWindow(sidebar.getBoundingClientRect()).top - 40 });
    });
    // (both step aside while the pointer is on the maps: page.css, by #placeTip's attribute)
    // a click would focus a button that then hides, leaving the focus on <body>
    for (const hint of [up, down]) hint.addEventListener('mousedown', (e) => e.preventDefault());
    sidebar.addEventListener('scroll', update, { passive: true });
    window.addEventListener('scroll', update, { passive: true });
    const resized = new ResizeObserver(update); // the sidebar, and what it holds as it fills
    // (the moved panels by name: where the page loads in one column they may be after the maps)
    for (const node of new Set([sidebar, ...sidebar.children, byId('seen-panel'), byId('nudge-panel')])) {
      resized.observe(node);
    }
    window.addEventListener('resize', update);
    update();
  }

  /** A map (or any element) the enlarged channel covers is uncovered: by docking the panel
   * on the other side (wide pages) or, where it spans the page (phones), by scrolling the
   * map up clear of it. */
  #uncover(map) {
    this.#uncovered = map;
    if (!map) return;
    const gap = () => {
      const box = map.getBoundingClientRect();
      const panel = this.inspector.root.getBoundingClientRect();
      return boxesMeet(box, panel) ? box.bottom - panel.top : 0;
    };
    if (gap() > 0) this.inspector.dock(this.#sideAwayFrom(map));
    const covered = gap();
    if (covered <= 0) return;
    // up clear of the panel, but not past its own top (a tall table would leave the screen),
    // nor under the banner and, for a map, the maps' pinned head (page.css's scroll margins;
    // an accessibility review at 200% zoom: each map Tab reached went under the head); and
    // not at all where the panel leaves no room above it, as when it fills the window
    const style = getComputedStyle(document.documentElement);
    const inset = (parseFloat(style.getPropertyValue('--banner-h')) || 0)
      + (map.closest('#maps') ? parseFloat(style.getPropertyValue('--head-h')) || 0 : 0);
    const box = map.getBoundingClientRect();
    if (this.inspector.root.getBoundingClientRect().top - inset < Math.min(box.height, 48)) return;
    const before = window.scrollY;
    // scrolled since the last of these: what came before is the reader's, not to be undone
    const earlier = this.#stillUncovered() ? this.#uncoverScroll.by : 0;
    window.scrollBy(0, Math.min(covered + 8, Math.max(0, box.top - inset - 8)));
    this.#uncoverScroll = { map, top: map.getBoundingClientRect().top, by: earlier + window.scrollY - before };
  }

  /** Whether the map last scrolled clear of the enlarged channel is where that left it: by
   * its place in the window, not the page's scroll, which the browser's scroll anchoring
   * moves as the page above grows (a review: the readout's lines for the tapped unit). */
  #stillUncovered() {
    const scrolled = this.#uncoverScroll;
    return Boolean(scrolled) && Math.abs(scrolled.map.getBoundingClientRect().top - scrolled.top) < 1;
  }

  /** The enlarged channel closed: the page scrolled back as far as it was scrolled to keep
   * its maps clear of it, unless the reader has scrolled since (a phone review: closing
   * pool2's channel left the page 472 px further down than where it was tapped). */
  #scrollBack() {
    if (this.#stillUncovered()) window.scrollBy(0, -this.#uncoverScroll.by);
    this.#uncoverScroll = null;
  }

  /** Where the enlarged channel docks to leave `element` in view: the side where it covers
   * less of its width, each tried in turn (no paint happens between; on a phone, where it
   * spans the page, both cover it all and it stays). */
  #sideAwayFrom(element) {
    const box = element.getBoundingClientRect();
    const stay = this.inspector.root.dataset.side ?? 'right';
    const covers = (side) => {
      this.inspector.dock(side);
      const panel = this.inspector.root.getBoundingClientRect();
      return Math.max(0, Math.min(box.right, panel.right) - Math.max(box.left, panel.left));
    };
    const other = stay === 'left' ? 'right' : 'left';
    const [here, there] = [covers(stay), covers(other)];
    return there < here ? other : stay;
  }

  /** Undo is offered only while there is a nudge, a stroke, or a Clear, upload or sample to
   * take back, or an upload or sample on its way to cancel. */
  #syncUndo() {
    byId('undo').disabled = !this.pad.canUndo && !this.#moves.length && !this.#canRestore && !this.#loading;
    this.dock.undoButton.disabled = byId('undo').disabled;
    this.nudge.undoButton.disabled = !this.#moves.length;
  }

  /** Whether Undo's next step is to put back what a Clear, upload or sample replaced. */
  get #canRestore() {
    return this.#replaced.length > 0 && !this.pad.canUndo && !this.#moves.length;
  }

  /** After an Undo: a button that disabled under the focus drops it to the page (found by a
   * review), so the keyboard goes on from what is beside it, Clear or the nudge pad. Only
   * here: a stroke also disables them, and the focus must not scroll away mid-stroke. */
  #keepFocus() {
    const undo = byId('undo');
    const here = this.nudge.undoButton;
    if (undo.disabled && document.activeElement === undo) byId('clear').focus({ preventScroll: true });
    if (here.disabled && document.activeElement === here) byId('nudge').focus({ preventScroll: true });
  }

  /** Back to an empty pad, said in the live region unless `said` is false (the page's
   * start). */
  #reset({ said = true } = {}) {
    this.#shownVersion = this.#padVersion; // an empty pad is shown as empty: nothing to send again
    this.#caughtUp();
    this.#loaded = null;
    this.#unmove();
    byId('pad-pred').textContent = '';
    this.dock.answer((line) => { line.textContent = ''; });
    this.#setPicked('');
    this.current = null;
    this.#shifts = null;
    this.grid.clear();
    for (const view of this.inputViews) paintGray(view, null);
    delete this.input.dataset.painted;
    this.predictions.clear({ said });
    this.lab.clear();
    this.fields.show(null);
    this.pooling.show(null);
    this.inspector.update(null, this.norm);
    this.tracer.clear();
    this.#clearError();
    this.#relink();
  }

  #hover(hit) {
    this.hover = hit;
    if (hit && this.current) this.tracer.show(hit, this.current.result);
    else this.tracer.clear();
  }

  /** `again`: what failed (a nudge, an Undo, an upload or sample) can be asked for again,
   * and, unanswered, is said so (a review: an Undo of a Clear that got no answer left the
   * pad blank, and the drawing seemed lost). */
  #showError(err, what, { again = false } = {}) {
    const detail = err instanceof ApiError || err instanceof Error ? err.message : String(err);
    const status = err instanceof ApiError ? err.status : 0;
    const retry = again && err instanceof ApiError && err.unanswered;
    // a file that is no picture, said in a student's words (a student's review: "this body
    // is sent as image/png, but its bytes begin as none of them"; an accessibility review:
    // the server's words after them made 50 words that gave the formats twice), naming what
    // it is where the server can (an SVG drawing, a BMP image)
    // (a review: an .npy, a torch.save file and base64 text got the sentence of a text file;
    // the server names them, and what they are for)
    if (status === 415 && what === UPLOADED) {
      const named = /this (?:body|file part) is (an? [^:;,]+?)(?:: |, and )/.exec(detail);
      const next = /featuremaps\/batch/.test(detail) ? ' Arrays of images go to the REST API\'s batch endpoint, POST /api/v1/featuremaps/batch.'
        : /base64/.test(detail) ? ' Decode it first (base64 -d), then choose the picture it gives.' : '';
      const it = named?.[1].replace(/ \(such as ([^()]+)\)$/, ', such as $1'); // no (( ))
      this.#say(`That file is not a picture the networks can read${it ? ` (it is ${it})` : ''}: `
        + `choose a PNG, JPEG, WebP or GIF, or another picture this browser shows.${next}`, status, { what });
      return;
    }
    this.#say(status && !err.unanswered
      ? `The server could not use ${what}: ${detail}`
      : `Something went wrong with ${what}: ${detail}${retry ? '. Nothing is lost: try again once it answers.' : ''}`,
    status, { what, unanswered: retry });
  }

  /** An answer came: a message that the server gave no answer (unreachable, or past
   * GIVE_UP_MS) for something to ask for again, which a catch-up does not answer (a sample,
   * an upload), says that it answers now, and stays till read (a teacher's review: "cannot
   * be reached" stayed up over maps that were coming again). */
  #sayAnswering() {
    if (this.said?.unanswered) this.#say(`The server answers now, but ${this.said.what} got no answer: try it again.`, 'notice');
  }

  /** `behind`: the notice is about the pad being ahead of the maps, and goes once they
   * catch up. */
  #notice(text, { behind = false } = {}) {
    this.#say(text, 'notice', { behind });
  }

  // The same message again while the banner still shows it is counted ("(2nd time)"): the
  // text changes, so a screen reader announces the alert again (role=alert speaks changes
  // only), and a sighted user sees that the retry was read and failed too.
  #say(text, status, { count = true, behind = false, what = null, unanswered = false } = {}) {
    const again = !this.error.hidden && this.said?.text === text;
    // a message each failed update repeats (the server unreachable while a stroke is drawn)
    // stays as it is: counted, it climbed with every pointer move and was spoken each time
    if (again && !count) return;
    this.said = { text, times: again ? this.said.times + 1 : 1, behind, what, unanswered };
    this.errorText.textContent = again ? `${text} (${ordinal(this.said.times)} time)` : text;
    this.error.dataset.status = status;
    this.error.hidden = false;
  }

  #clearError() {
    this.error.hidden = true;
    this.errorText.textContent = '';
    this.said = null;
    delete this.error.dataset.status;
  }
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' })[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** The masthead's Projector view toggle (page.css's html[data-view="projector"]), wired
 * before the networks load: it needs the config alone. The choice is kept by this browser
 * for a year in a cookie, which the server reads as it renders the page; links do not
 * carry it, so a class opening the teacher's link gets the usual page. Views that paint
 * on the panel's colours hear 'fm:view'. */
function wireView(config) {
  const projector = byId('projector');
  projector.addEventListener('click', () => {
    const on = projector.getAttribute('aria-pressed') !== 'true';
    projector.setAttribute('aria-pressed', String(on));
    if (on) document.documentElement.dataset.view = 'projector';
    else delete document.documentElement.dataset.view;
    document.cookie = `${config.viewCookie}=${on ? 'projector' : ''}; max-age=${on ? 31536000 : 0}; SameSite=Lax`;
    document.dispatchEvent(new CustomEvent('fm:view'));
    // a phone offers it only while it is on: turned off, the focus goes on to Copy link
    if (!projector.getClientRects().length) byId('copy-link').focus();
  });
}

/** The page cannot be built: `text` in the message bar, and the drawing panel left inert,
 * its pad without a hint (page.css, body[data-failed]). */
function cannotStart(text) {
  byId('error-text').textContent = text;
  byId('error').hidden = false;
  document.body.dataset.failed = 'true';
}

async function start() {
  const config = readConfig(document);
  wireView(config);
  let catalogue;
  try {
    catalogue = await fetchModels(config.api);
  } catch (err) {
    cannotStart(`The page could not load the networks' description: ${err.message}`);
    return;
  }
  if (!config.models.some((n) => catalogue.models.some((m) => m.name === n))) {
    cannotStart('This server has neither the max nor the avg network loaded, so there is nothing to show.');
    return;
  }
  new App(config, catalogue);
}

start();
