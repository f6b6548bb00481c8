// The MNIST test digits that max and avg answer differently (static/digits/max-avg.json,
// written by scripts/make_disagreements.py and offered by the server only with the weights it
// was measured on), fetched the first time their disclosure opens and laid out in three
// groups, each digit a button that loads it as a sample digit is loaded.

import { el } from './dom.js';
import { paintGray } from './paint.js';
import { base64Bytes } from './wire.js';

// Under each digit, MNIST's label and the wrong answer(s), so that the list reads without
// a tooltip (a phone has none, and a class looks at a projector, not at a hover).
const GROUPS = [
  { key: 'max', says: (n) => `max right, avg wrong: ${n}`, legend: "label → avg's answer",
    under: (d) => `${d.label}→${d.avg}` },
  { key: 'avg', says: (n) => `avg right, max wrong: ${n}`, legend: "label → max's answer",
    under: (d) => `${d.label}→${d.max}` },
  { key: 'neither', says: (n) => `neither right: ${n}`, legend: "label → max's/avg's",
    under: (d) => `${d.label}→${d.max}/${d.avg}` },
];

/** Which group a digit of the file falls in. */
export function groupOf(digit) {
  if (digit.max === digit.label) return 'max';
  if (digit.avg === digit.label) return 'avg';
  return 'neither';
}

/** "MNIST test digit #18, a 3: max says 3, avg says 5" */
function described(digit) {
  return `MNIST test digit #${digit.index}, ${digit.label === 8 ? 'an' : 'a'} ${digit.label}: `
    + `max says ${digit.max}, avg says ${digit.avg}`;
}

/** The button of `all` in the nearest row below `from` (`down`) or above it, nearest across. */
function nearestRow(from, all, down) {
  const here = from.getBoundingClientRect();
  const centre = (r) => r.left + r.width / 2;
  let best = null;
  for (const button of all) {
    const r = button.getBoundingClientRect();
    const gap = down ? r.top - here.bottom : here.top - r.bottom;
    if (gap < -2) continue; // in this row, or the other way
    const score = [Math.round(gap), Math.abs(centre(r) - centre(here))];
    if (!best || score[0] < best.score[0] || (score[0] === best.score[0] && score[1] < best.score[1])) {
      best = { button, score };
    }
  }
  return best?.button ?? null;
}

export class DisagreeList {
  #details;
  #box;
  #status;
  #said; // the live region: what came of the list's loading, said once
  #back;
  #slot = el('div', { class: 'back-slot', hidden: true }); // its place under the answers
  // the digit picked, at the button's start (a student's review: on a phone the pick brings
  // the answers up, and the pad that shows the digit is screens above them)
  #thumb = el('canvas', { class: 'back-digit', width: 28, height: 28 });
  #src;
  #onPick;
  #request = null; // the list's digits, once asked for
  #digits = new Map(); // index -> {digit, button}, once fetched
  #count = ''; // the status line while no listed digit is on the pad
  #current = null; // index of the listed digit on the pad, or null

  #absent; // what to add to a picked digit's line where avg is not shown, or ''

  /** `offer`: the config's `disagree` ({src, ...}); `onPick(digit, byPointer)` loads a
   * picked digit (`byPointer`: clicked or tapped, not chosen from the keyboard); `absent`:
   * a sentence for a digit's line where one of the two is not shown beside max (a review:
   * with a strided conv beside max, the list's avg answers pointed at no maps). */
  constructor(details, offer, onPick, absent = '') {
    this.#absent = absent;
    this.#details = details;
    this.#box = details.querySelector('#disagree-groups');
    this.#status = details.querySelector('#disagree-status');
    this.#said = details.querySelector('#disagree-said');
    this.#src = offer.src;
    this.#onPick = onPick;
    details.addEventListener('toggle', () => {
      if (details.open) this.#fetch().catch(() => {}); // said in the list
      if (!details.open) this.#hideBack();
    });
    // A click goes up to the maps, 3,000 px and more above: this leads back down to the digit
    // picked, until the list is in view again (found by a review: looking at several digits
    // meant a long scroll back after each).
    this.#back = document.getElementById('to-list');
    this.#back.addEventListener('mousedown', (e) => e.preventDefault()); // it hides as it is used
    this.#back.addEventListener('click', () => this.#return());
    this.#back.prepend(this.#thumb);
    new IntersectionObserver(([entry]) => {
      if (entry.isIntersecting) this.#hideBack();
    }).observe(this.#box);
    // placed again as the page scrolls or the window is resized, from where things are (an
    // observer reports nothing for a jump past its target, as a pick's scroll or a fling)
    window.addEventListener('scroll', () => this.#placeBack(), { passive: true });
    window.addEventListener('resize', () => this.#placeBack(), { passive: true });
    // and as the ten as numbers open or close, which let the maps' head scroll or pin it
    // (predictions.js, in the disclosure's own listener, after this one: a frame later); the
    // button stayed in the corner of a head gone by until the next scroll (a review)
    document.addEventListener('toggle', (e) => {
      if (e.target instanceof Element && e.target.matches('.pred-all')) requestAnimationFrame(() => this.#placeBack());
    }, { capture: true });
    // One Tab stop for the list, the arrow keys within it (an accessibility review: 51 Tab
    // stops stood between its summary and the rest of the page): the stop is the digit put
    // on the pad last, or one focused since (within the list, the focus leads), else the first
    this.#box.addEventListener('keydown', (e) => this.#key(e));
    this.#box.addEventListener('focusin', (e) => {
      if (e.target.classList?.contains('disagree-pick')) this.#rove(e.target);
    });
  }

  /** Make `button` the list's one Tab stop. */
  #rove(button) {
    for (const { button: b } of this.#digits.values()) b.tabIndex = b === button ? 0 : -1;
  }

  /** Left and Right go to the digit before or after (across groups), Up and Down to the
   * nearest one in the row above or below as laid out, Home and End to the first and last. */
  #key(e) {
    const from = e.target;
    if (!from.classList?.contains('disagree-pick') || e.altKey || e.ctrlKey || e.metaKey) return;
    const all = [...this.#digits.values()].map(({ button }) => button);
    const at = all.indexOf(from);
    let to = null;
    if (e.key === 'ArrowLeft') to = all[at - 1];
    else if (e.key === 'ArrowRight') to = all[at + 1];
    else if (e.key === 'Home') to = all[0];
    else if (e.key === 'End') to = all.at(-1);
    else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') to = nearestRow(from, all, e.key === 'ArrowDown');
    else return;
    e.preventDefault(); // the page does not scroll
    if (!to) return;
    this.#rove(to);
    to.focus();
  }

  /** The list's digits, asked for once (again after a failure), and laid out as they come. */
  #fetch() {
    if (this.#request) return this.#request;
    this.#say('Loading the digits…');
    this.#request = (async () => {
      const response = await fetch(this.#src);
      if (!response.ok) throw new Error(`${response.status}`);
      const { digits } = await response.json();
      this.#show(digits);
      this.#count = `${digits.length} digits, in three groups.`;
      // with the sentence on avg's absence that each pick's line shows, as it is not spoken
      this.#said.textContent = `${this.#count}${this.#absent && ` ${this.#absent}`}`;
      this.mark(this.#current);
      return digits;
    })().catch((err) => {
      this.#request = null; // the next opening asks again
      this.#say(`The digits could not be loaded (${err.message}): close this and open it again to retry.`);
      throw err;
    });
    return this.#request;
  }

  /** The listed digit at MNIST test `index` ({index, label, pixels, max, avg}), or undefined
   * (a link names it: link.js). */
  async find(index) {
    return (await this.#fetch()).find((d) => d.index === index);
  }

  /** A line in place of the digits, in the status line too, and said. */
  #say(text) {
    this.#box.replaceChildren(el('p', { class: 'note', text }));
    this.#status.textContent = text;
    this.#said.textContent = text;
  }

  #show(digits) {
    const parts = [];
    for (const group of GROUPS) {
      const members = digits.filter((d) => groupOf(d) === group.key);
      if (!members.length) continue;
      // each row a group named by its line, which a screen reader says as the arrow keys
      // enter it (an accessibility review: the 51 were one run, the groups unsaid)
      const id = `disagree-group-${group.key}`;
      parts.push(el('p', { class: 'note disagree-group', id }, [
        group.says(members.length),
        el('span', { class: 'disagree-key', text: ` (under each: ${group.legend})` })]),
      el('div', { class: 'digit-row', role: 'group', 'aria-labelledby': id },
        members.map((d) => this.#button(d, group.under(d)))));
    }
    this.#box.replaceChildren(...parts);
    this.#rove(this.#digits.get(this.#current)?.button ?? this.#digits.values().next().value?.button);
  }

  /** `under`: the short line under the digit ("3→5"; its label says it in words). */
  #button(digit, under) {
    const words = described(digit);
    const canvas = el('canvas', { width: 28, height: 28, 'aria-hidden': 'true' });
    paintGray(canvas, base64Bytes(digit.pixels));
    const button = el('button', {
      type: 'button', class: 'disagree-pick', 'aria-label': words, title: words, 'aria-describedby': 'disagree-keys',
      dataset: { index: digit.index, label: digit.label },
    }, [canvas, el('span', { class: 'said', 'aria-hidden': 'true', text: under })]);
    button.addEventListener('click', (e) => {
      button.dataset.seen = ''; // marked, so that a walk through the list knows where it was
      // and said, where the underline is not seen (a keyboard review)
      button.setAttribute('aria-label', `${words} (seen)`);
      const byPointer = e.detail > 0; // detail 0: Enter or Space
      this.#onPick(digit, byPointer);
      if (byPointer) this.#showBack(digit);
    });
    this.#digits.set(digit.index, { digit, button });
    return button;
  }

  /** The digit at MNIST test `index` is on the pad now (null: none of the list): it is
   * outlined (aria-current), and the visible line says what it is and what the two answered,
   * which a phone, without tooltips, showed nowhere (not spoken: #picked and the
   * predictions say a pick). */
  mark(index) {
    this.#current = index;
    const here = this.#digits.get(index);
    for (const { button } of this.#digits.values()) {
      if (button !== here?.button) button.removeAttribute('aria-current');
    }
    if (!here) {
      this.#status.textContent = this.#count;
      // nothing to lead back to: it covered the maps, pointing at a digit gone (a review)
      this.#hideBack();
      return;
    }
    here.button.setAttribute('aria-current', 'true');
    // Tab into the list lands on it, unless the focus is in the list already
    if (!this.#box.contains(document.activeElement)) this.#rove(here.button);
    this.#status.textContent = `On the pad: ${described(here.digit)}.${this.#absent && ` ${this.#absent}`}`;
  }

  /** Show the way back down to the list: in the maps' sticky head, in the corner over the
   * layers' names, where it covers nothing (a teacher's review: floating at the window's
   * foot it covered a map's caption), where it can (#placeBack). */
  #showBack(digit) {
    paintGray(this.#thumb, base64Bytes(digit.pixels));
    this.#back.hidden = false;
    this.#placeBack();
  }

  #hideBack() {
    this.#back.hidden = true;
    this.#slot.hidden = true;
  }

  /** Where the head sticks: in its corner while the maps reach more than a head's height
   * below the window's top (a review: held in the head, the button went out of view with
   * it, past the maps, on the way down to the list) and the head shows the corner (not
   * under 1100 px); else floating at the window's foot. Where the head scrolls with the
   * page (a phone, a short screen): in a line of its own under the answers until that line
   * is scrolled past, and then floating, the line keeping its height (a phone review:
   * floating as the pick brought the maps' heading up, it covered the answer picked, avg's
   * on a phone on its side). */
  #placeBack() {
    if (this.#back.hidden) return;
    const head = document.querySelector('.maps-head');
    if (head === null) return;
    const corner = head.querySelector('.layer-head');
    const sticky = getComputedStyle(head).position === 'sticky';
    if (this.#slot.parentElement !== head) head.append(this.#slot);
    this.#slot.hidden = sticky;
    let home = document.body;
    if (sticky) {
      const mapsInView = head.parentElement.getBoundingClientRect().bottom > 240;
      if (mapsInView && getComputedStyle(corner).display !== 'none') home = corner;
    } else if (this.#slot.getBoundingClientRect().bottom > 0) home = this.#slot;
    if (this.#back.parentElement !== home) home.append(this.#back);
    this.#back.classList.toggle('in-flow', home !== document.body);
  }

  /** Back down to the list, at the digit on the pad (or the list's start), focused. */
  #return() {
    this.#hideBack();
    const target = this.#digits.get(this.#current)?.button ?? this.#details;
    target.scrollIntoView({ block: 'center' });
    target.focus({ preventScroll: true });
  }
}
