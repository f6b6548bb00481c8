// The drawing pad: pointer events (mouse, touch, pen) with pointer capture, strokes that
// can be undone, an optional base image (an uploaded or picked digit), and the PNG that is
// sent to the server. Light ink on dark, like MNIST. A second, smaller canvas can mirror it
// and take strokes too (`mirror`: the pad docked in a corner while the maps are read).

import { UI } from './config.js';
import { encodeGreyPng } from './png.js';

/** A 28x28 canvas of the uint8 levels `q`, grey and opaque: an image under the strokes. */
export function baseCanvas(q) {
  const base = document.createElement('canvas');
  base.width = 28;
  base.height = 28;
  const ctx = base.getContext('2d');
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i += 1) {
    image.data.set([q[i], q[i], q[i], 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
  return base;
}

/** The uint8 levels a `baseCanvas` holds (opaque: read back exactly). */
export function baseLevels(base) {
  const { data } = base.getContext('2d').getImageData(0, 0, 28, 28);
  const q = new Uint8Array(784);
  for (let i = 0; i < 784; i += 1) q[i] = data[i * 4];
  return q;
}

export class DrawingPad {
  #canvas;
  #ctx;
  #small;
  #smallCtx;
  #strokes = [];
  #base = null; // canvas holding a 28x28 image drawn under the strokes
  #active = null; // {id, touch, stroke, rect, surface}
  #onInk;
  #mirror = null; // {canvas, ctx, shown}: a second surface that shows the pad and takes ink
  #held = new Set(); // fingers down that draw nothing: those of a stroke taken back, till lifted

  /** `onInk(phase, timeStamp)` is called with 'start', 'move' and 'end' as ink is laid, and
   * with 'cancel' instead of 'end' for a stroke to be taken back (a second finger's, a
   * swipe off the docked pad): it is the pad's last stroke. */
  constructor(canvas, onInk) {
    this.#canvas = canvas;
    canvas.width = UI.padSize;
    canvas.height = UI.padSize;
    this.#ctx = canvas.getContext('2d');
    this.#onInk = onInk;
    this.width = UI.brushes.find((b) => b.name === UI.defaultBrush).width;
    this.#small = document.createElement('canvas');
    this.#small.width = UI.sendSize;
    this.#small.height = UI.sendSize;
    this.#smallCtx = this.#small.getContext('2d', { willReadFrequently: true });
    this.#listen(canvas);
    // a second finger while one draws, wherever it lands (on the docked pad, a pinch's
    // second finger mostly lands off it: a review), is a pinch or a two-finger scroll, not
    // a digit's stroke: the first finger's is taken back (a phone review: a pinch drew a bar
    // across a sample), and no finger draws again until all are lifted
    window.addEventListener('pointerdown', (e) => {
      if (e.pointerType !== 'touch' || e.pointerId === this.#active?.id) return;
      if (this.#active?.touch) this.#takeBack(e.timeStamp);
      if (this.#held.size || this.#active) this.#held.add(e.pointerId);
    }, { capture: true });
    // a finger lifted wherever it is, on the pad or off it; none is down on a page left
    for (const type of ['pointerup', 'pointercancel']) {
      window.addEventListener(type, (e) => this.#held.delete(e.pointerId), { capture: true });
    }
    window.addEventListener('pagehide', () => this.#held.clear());
    this.render();
  }

  /** Take strokes on `canvas` too, and show the pad on it while `shown` (`showMirror`): any
   * size, its pointer mapped to the pad's own pixels. */
  mirror(canvas) {
    canvas.width = UI.padSize;
    canvas.height = UI.padSize;
    this.#mirror = { canvas, ctx: canvas.getContext('2d'), shown: false };
    this.#listen(canvas);
  }

  /** Whether the mirror is on screen: copied to at every change while it is, not at all
   * while it is not. */
  showMirror(shown) {
    if (!this.#mirror) return;
    this.#mirror.shown = shown;
    this.#copy();
  }

  #listen(canvas) {
    canvas.addEventListener('pointerdown', (e) => this.#down(e));
    // pointerrawupdate (where the browser has it) arrives as soon as the pointer moves, not
    // aligned to the next animation frame like pointermove: the drawing reaches the server sooner
    const moveEvent = 'onpointerrawupdate' in window ? 'pointerrawupdate' : 'pointermove';
    canvas.addEventListener(moveEvent, (e) => this.#move(e));
    canvas.addEventListener('pointerup', (e) => this.#up(e));
    canvas.addEventListener('pointercancel', (e) => this.#up(e));
    canvas.addEventListener('lostpointercapture', (e) => this.#up(e));
  }

  /** The pad's pixels onto the mirror, where it is shown (clear where the pad is: its hint,
   * page.css, shows through). */
  #copy() {
    const mirror = this.#mirror;
    if (!mirror?.shown) return;
    mirror.ctx.clearRect(0, 0, UI.padSize, UI.padSize);
    mirror.ctx.drawImage(this.#canvas, 0, 0);
  }

  get isEmpty() {
    return this.#strokes.length === 0 && this.#base === null;
  }

  /** Whether there is a stroke to undo (a base image, an upload or a sample, is not one). */
  get canUndo() {
    return this.#strokes.length > 0;
  }

  get drawing() {
    return this.#active !== null;
  }

  clear() {
    this.#strokes = [];
    this.#base = null;
    this.#active = null;
    this.render();
  }

  /** What the pad holds, for `restore` to put back (a stroke never changes once drawn: a
   * copy of the list will do). */
  snapshot() {
    return { strokes: [...this.#strokes], base: this.#base };
  }

  restore({ strokes, base }) {
    this.#strokes = [...strokes];
    this.#base = base;
    this.#active = null;
    this.render();
  }

  /** The longest side, in pad pixels, of the ink the strokes lay, brush width and all; null
   * with no strokes, or over a base image (an upload or sample: its own size is kept). */
  inkSpan() {
    if (this.#base || !this.#strokes.length) return null;
    let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const { width, points } of this.#strokes) {
      for (const [x, y] of points) {
        left = Math.min(left, x - width / 2);
        right = Math.max(right, x + width / 2);
        top = Math.min(top, y - width / 2);
        bottom = Math.max(bottom, y + width / 2);
      }
    }
    const size = this.#canvas.width;
    const side = (lo, hi) => Math.min(size, hi) - Math.max(0, lo);
    return Math.max(side(left, right), side(top, bottom));
  }

  /** Remove the last stroke; true if there was one. */
  undo() {
    if (!this.#strokes.length) return false;
    this.#strokes.pop();
    this.render();
    return true;
  }

  /** Put a 28x28 uint8 image under the drawing (clears the strokes). */
  setBase(q) {
    this.#base = baseCanvas(q);
    this.#strokes = [];
    this.render();
  }

  /** Redraw everything: background, base image, strokes. An empty pad is left clear, so
   * that what it is for, under it (page.css), shows through until ink comes. */
  render() {
    const ctx = this.#ctx;
    const size = this.#canvas.width;
    if (this.isEmpty && !this.#active) {
      ctx.clearRect(0, 0, size, size);
      this.#copy();
      return;
    }
    ctx.fillStyle = UI.background;
    ctx.fillRect(0, 0, size, size);
    if (this.#base) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.#base, 0, 0, size, size);
    }
    for (const stroke of this.#strokes) drawStroke(ctx, stroke, 0);
    this.#copy();
  }

  /** The pad scaled down to UI.sendSize, as greyscale PNG bytes (what the model is sent),
   * inside a 1 px frame of the pad's black paper. The server reads an image whose border is
   * mostly light as dark ink on light paper and inverts it (preprocess.invert_if_light, for
   * uploads); the frame keeps a drawing that fills the pad to its edges light ink on black
   * (a review: a scribble over the whole pad reached the networks as its negative). */
  png() {
    const ctx = this.#smallCtx;
    const size = UI.sendSize;
    ctx.fillStyle = UI.background;
    ctx.fillRect(0, 0, size, size);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'medium';
    ctx.drawImage(this.#canvas, 1, 1, size - 2, size - 2);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    const grey = new Uint8Array(size * size);
    for (let i = 0; i < grey.length; i += 1) grey[i] = rgba[i * 4]; // white ink: R = G = B
    return encodeGreyPng(grey, size, size);
  }

  #point(e) {
    const rect = this.#active.rect;
    const scale = this.#canvas.width / rect.width;
    return [(e.clientX - rect.left) * scale, (e.clientY - rect.top) * scale];
  }

  #down(e) {
    // (a touch while one draws, or after a stroke taken back, is held: the window's listener
    // in the constructor runs first; a pen or mouse never is)
    if (this.#active || (e.pointerType === 'mouse' && e.button !== 0)
        || (e.pointerType === 'touch' && this.#held.has(e.pointerId))) return;
    e.preventDefault();
    const surface = e.currentTarget;
    surface.setPointerCapture(e.pointerId);
    const stroke = { width: this.width, points: [] };
    this.#active = { id: e.pointerId, touch: e.pointerType === 'touch', stroke,
      rect: surface.getBoundingClientRect(), surface };
    stroke.points.push(this.#point(e));
    this.#strokes.push(stroke);
    // the first ink on an empty pad lays its paper too, over the hint
    if (this.#strokes.length === 1 && !this.#base) this.render();
    else {
      drawStroke(this.#ctx, stroke, 0);
      this.#copy();
    }
    this.#onInk('start', e.timeStamp);
  }

  #move(e) {
    if (!this.#active || e.pointerId !== this.#active.id) return;
    const { stroke, rect, surface } = this.#active;
    if (this.#active.touch && surface !== this.#canvas && strayed(e, rect)) {
      // a swipe begun on the pad docked in a corner that runs on far past it is the page's
      // scroll, where a thumb scrolls, not a stroke (a phone review: it drew a bar across a
      // sample): taken back, and the page follows the finger from where it began
      const [, y0] = stroke.points[0];
      this.#takeBack(e.timeStamp);
      followFinger(e, rect.top + y0 * rect.height / this.#canvas.height);
      return;
    }
    const from = stroke.points.length - 1;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) stroke.points.push(this.#point(ev));
    drawStroke(this.#ctx, stroke, from);
    this.#copy();
    this.#onInk('move', e.timeStamp);
  }

  /** End the stroke being drawn and have it taken back at once (its last phase is 'cancel',
   * not 'end'): its finger draws nothing more until it is lifted. */
  #takeBack(timeStamp) {
    const { id } = this.#active;
    this.#held.add(id);
    this.#up({ pointerId: id, timeStamp }, 'cancel');
  }

  #up(e, phase = 'end') {
    if (!this.#active || e.pointerId !== this.#active.id) return;
    const { surface } = this.#active;
    this.#active = null;
    if (surface.hasPointerCapture(e.pointerId)) surface.releasePointerCapture(e.pointerId);
    // redraw from the stroke list: drawn piece by piece, the joins blend slightly differently,
    // and the finished drawing should be the same pixels that undo will later redraw
    this.render();
    this.#onInk(phase, e.timeStamp);
  }
}

/** Whether pointer event `e` lies farther outside `rect` than half its width: no stroke
 * on a pad of that size overshoots it so far. */
function strayed(e, rect) {
  const reach = rect.width / 2;
  return e.clientX < rect.left - reach || e.clientX > rect.right + reach
    || e.clientY < rect.top - reach || e.clientY > rect.bottom + reach;
}

/** Scroll the page with the finger of pointer event `e` until it is lifted, from `fromY`
 * (where it touched): a touch begun where the browser may not pan (`touch-action: none`)
 * is not scrolled by the browser. */
function followFinger(e, fromY) {
  let y = fromY;
  const id = e.pointerId;
  const move = (ev) => {
    if (ev.pointerId !== id) return;
    window.scrollBy({ top: y - ev.clientY, behavior: 'instant' });
    y = ev.clientY;
  };
  const end = (ev) => {
    if (ev.pointerId !== id) return;
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', end);
    window.removeEventListener('pointercancel', end);
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', end);
  window.addEventListener('pointercancel', end);
  move(e);
}

/** Draw a stroke from point `from` on (a dot when it has a single point). */
function drawStroke(ctx, stroke, from) {
  const pts = stroke.points;
  ctx.strokeStyle = UI.ink;
  ctx.fillStyle = UI.ink;
  ctx.lineWidth = stroke.width;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  if (pts.length === 1) {
    ctx.beginPath();
    ctx.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(pts[from][0], pts[from][1]);
  for (let i = from + 1; i < pts.length; i += 1) ctx.lineTo(pts[i][0], pts[i][1]);
  ctx.stroke();
}
