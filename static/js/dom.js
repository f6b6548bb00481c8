// Tiny DOM helpers: build elements without innerHTML, position marks over canvases.

import { ROUNDING } from './wire.js';

/** el('p', {class: 'x', dataset: {net: 'max'}}, 'text', child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The rows of the window a box (a DOMRect) is seen in: until the page scrolls, the sidebar
 * starts under the masthead and runs past the window's foot. */
export function inWindow(box) {
  return { top: Math.max(box.top, 0), bottom: Math.min(box.bottom, window.innerHeight) };
}

/** Whether two boxes (DOMRects) share any area: edges that only touch do not. */
export function boxesMeet(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** Set a node's text only when it changes: a same-text write still costs a layout pass. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Hold `node` at the tallest height it has had: text that grows and shrinks as the pointer
 * moves over the maps would otherwise move what lies after it (or, for a panel docked at the
 * window's foot, what lies above it) at every step. It grows when a longer text than any
 * before needs the room, and then stays; a change of the window's width, or release(),
 * starts again from its own height (not of its height alone: a phone's browser changes
 * that as its address bar hides and shows, at every scroll), as does a change of any of
 * `layouts`, media queries under which page.css lays the node out otherwise (a height
 * crossing one: found by a review, a panel held at its tallest docked at a side kept that
 * height, 748 px, once docked across the foot). `onGrow()` is told each time it grew;
 * `active()` says whether to hold now (not while the node is hidden).
 */
export class HeightHold {
  #held = 0;

  constructor(node, { onGrow = () => {}, active = () => true, layouts = [] } = {}) {
    this.node = node;
    this.onGrow = onGrow;
    this.active = active;
    // after whatever changed the node's content, before the next paint
    new ResizeObserver(() => this.#hold()).observe(node);
    let width = window.innerWidth;
    window.addEventListener('resize', () => {
      if (window.innerWidth !== width) this.release();
      width = window.innerWidth;
    });
    for (const query of layouts) window.matchMedia(query).addEventListener('change', () => this.release());
  }

  #hold() {
    if (!this.active()) return;
    const height = this.node.getBoundingClientRect().height;
    if (height > this.#held) {
      this.#held = height;
      this.node.style.minHeight = `${height}px`;
      this.onGrow();
    }
  }

  release() {
    this.#held = 0;
    this.node.style.minHeight = '';
  }

  /** Hold no more than `px`, the room the node has now; the whole height held comes back
   * where the room allows it again (the enlarged channel as the page scrolls to and from
   * the masthead). */
  cap(px) {
    if (this.#held) this.node.style.minHeight = `${Math.min(this.#held, px)}px`;
  }
}

/** Place `mark` over canvas pixels {x, y, w, h} of a canvas `width` x `height` pixels. */
export function placeMark(mark, rect, width, height) {
  mark.style.left = `${(rect.x / width) * 100}%`;
  mark.style.top = `${(rect.y / height) * 100}%`;
  mark.style.width = `${(rect.w / width) * 100}%`;
  mark.style.height = `${(rect.h / height) * 100}%`;
  mark.hidden = false;
}

/** Numbers as the page writes them. */
export function fmt(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  const text = Number(value).toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text; // a value that rounds to 0 is 0, not -0.00
}

/** A value read from the 8-bit maps, with how far it can be from the network's own
 * (`wire.halfStep`): "1.083 ±0.021", or "0.370" alone where that is under the last digit. */
export function fmtRead(value, half, digits = 3) {
  const within = Number.isFinite(half) ? fmt(half, digits) : '0';
  return Number(within) === 0 ? fmt(value, digits) : `${fmt(value, digits)} ±${within}`;
}

/** Where a value a pool keeps, computed from its window's values (`kept`), and the pool
 * unit's own (`shown`), both read from 8-bit maps, differ as written: " (the unit shows
 * 0.210, rounded to 256 levels a channel)"; else ''. The trace and the enlarged channel
 * say it alike. */
export function roundingAside(kept, shown) {
  return fmt(kept) === fmt(shown) ? '' : ` (the unit shows ${fmt(shown)}, ${ROUNDING})`;
}

/** An inclusive range [a, b] of rows or columns as the page writes it: "4–6", or "4". */
export function span([a, b]) {
  return a === b ? `${a}` : `${a}–${b}`;
}

/** A probability as a percentage with `digits` decimals, never 0% or 100%: a softmax gives
 * neither, and "100.00%" beside nine "0.00%" told learners otherwise. Within one step of
 * either end it reads "<0.01%" or ">99.99%". */
export function probability(p, digits = 1) {
  const step = 10 ** -digits / 100;
  if (p < step) return `<${percent(step, digits)}`;
  if (p > 1 - step) return `>${percent(1 - step, digits)}`;
  return percent(p, digits);
}

/** A network's answer as its head says it, to one decimal, rounded from the two decimals
 * that "all ten as numbers" under it shows (a teacher's review: 99.449% headed 99.4% over the
 * table's 99.45%, which a class rounds to 99.5); in whole hundredths and tenths of a percent,
 * so that no binary fraction tips a 5 down. The bounds are probability()'s. The shift lab's
 * cells say theirs so too (a later review: its unshifted cell said 82.6% under a head's
 * 82.7%, for one and the same answer). */
export function answerPercent(p) {
  if (p < 0.001 || p > 0.999) return probability(p);
  const tenths = Math.round(Math.round(p * 1e4) / 10);
  return `${(tenths / 10).toFixed(1)}%`;
}

/** "= 43.2%", or "> 99.9%" and "< 0.1%" where probability() writes a bound: "p = >99.9%"
 * reads as nonsense. */
export function equalsProbability(p, digits = 1) {
  const text = probability(p, digits);
  return /^[<>]/.test(text) ? `${text[0]} ${text.slice(1)}` : `= ${text}`;
}

export function percent(value, digits = 1) {
  return `${(value * 100).toFixed(digits)}%`;
}

/** "a" or "an" before a number read aloud: an 8, an 11, an 18, an 80 (reviews found "a 11 x
 * 11" and "the digit is a 8"). */
export function article(n) {
  return /^(11|18)$|^8/.test(String(n)) ? 'an' : 'a';
}

export function thousands(n) {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A table with a row per layer and a column per network, every cell '–' until filled.
 * Returns the header row and the body; `cells` receives each cell under "net/layer".
 */
export function layerTable(layers, nets, cells) {
  const head = el('tr', {}, el('th', { scope: 'col', text: 'layer' }),
    ...nets.map((n) => el('th', { scope: 'col', class: 'num', text: n })));
  const body = el('tbody');
  for (const layer of layers) {
    const row = el('tr', {}, el('th', { scope: 'row', text: layer }));
    for (const net of nets) {
      const td = el('td', { class: 'num', dataset: { net, layer }, text: '–' });
      cells.set(`${net}/${layer}`, td);
      row.append(td);
    }
    body.append(row);
  }
  return { head, body };
}

/**
 * A box whose content may be wider than it (a table on a phone, or at 400% zoom): while it
 * scrolls sideways it is in the tab order, so that a keyboard reaches the columns out of view
 * (arrow keys scroll a focused box), and `hint`, if given, shows (a faint edge alone went
 * unseen: a review). The caller names it. Returns the box.
 */
export function keyboardScroll(box, hint = null) {
  const update = () => {
    const sideways = box.scrollWidth > box.clientWidth;
    if (sideways) box.tabIndex = 0;
    else box.removeAttribute('tabindex');
    if (hint && hint.hidden === sideways) hint.hidden = !sideways;
  };
  const observer = new ResizeObserver(update);
  observer.observe(box);
  if (box.firstElementChild) observer.observe(box.firstElementChild); // its content's width
  return box;
}

/** The least width the message banner is narrowed to beside the masthead's buttons (px). */
const BANNER_BESIDE_MIN = 240;

/**
 * At the page's start the message banner lies over the masthead; where it has room beside
 * the masthead's buttons it stops short of them while they are on screen, so that "Copy
 * link" and "Projector view" can still be clicked (two reviews: they lay under it until it
 * was dismissed). Scrolled past them, where there is no room, or where narrowed it would
 * reach below the masthead (a long message on a phone), it spans the page again. Placed
 * again as the page scrolls or resizes, as the buttons change size (the projector view) and
 * as the message changes.
 */
export function besideTools(banner, tools) {
  const masthead = tools.closest('header');
  const span = () => {
    if (!banner.style.right) return;
    banner.style.left = '';
    banner.style.right = '';
  };
  const place = () => {
    if (banner.hidden) {
      span();
      return;
    }
    const box = tools.getBoundingClientRect();
    const left = Math.max(8, masthead.getBoundingClientRect().left);
    if (box.bottom <= 0 || box.left - 8 - left < BANNER_BESIDE_MIN) {
      span();
      return;
    }
    banner.style.left = `${left}px`;
    banner.style.right = `${window.innerWidth - box.left + 8}px`;
    if (banner.getBoundingClientRect().height > masthead.getBoundingClientRect().height) span();
  };
  window.addEventListener('scroll', place, { passive: true });
  window.addEventListener('resize', place);
  document.addEventListener('fm:view', place);
  new ResizeObserver(place).observe(tools);
  new MutationObserver(place).observe(banner, {
    attributes: true, attributeFilter: ['hidden'], childList: true, characterData: true, subtree: true,
  });
  place();
}

/**
 * The page's sticky parts stack instead of covering each other: the message banner on top,
 * the maps' head under it. Their heights go to CSS (--banner-h, --head-h), which moves the
 * head and the sidebar down by the banner and scrolls a focused map clear of both.
 */
export function stackSticky(banner, head) {
  const root = document.documentElement;
  const update = () => {
    const bannerH = banner.hidden ? 0 : banner.getBoundingClientRect().height;
    const headH = getComputedStyle(head).position === 'sticky' ? head.getBoundingClientRect().height : 0;
    root.style.setProperty('--banner-h', `${Math.ceil(bannerH)}px`);
    root.style.setProperty('--head-h', `${Math.ceil(headH)}px`);
  };
  const observer = new ResizeObserver(update);
  observer.observe(banner);
  observer.observe(head);
  update();
}
