// The nudge control: move the model's input one pixel and read, per layer, how much each
// network's maps changed (the shift lab's per-layer `change`, for the input before the move).

import { UI } from './config.js';
import { el, fmt, inWindow, layerTable } from './dom.js';

const ARROWS = { left: '←', right: '→', up: '↑', down: '↓' };

/** A cell's note for a layer whose units are one pixel apart: its change once its maps are
 * moved along with the input (0: it only moved). Empty for other layers. */
export function movedAlong(value) {
  return value === undefined || value === null ? '' : `moved along with the input, it changes by ${fmt(value)}`;
}

/** Layer `i` of a network's /shifts layers as a pool beside the conv before it, for `dir`:
 * { pooled, before, conv } (their changes and the conv's name), or null where it is no pool
 * or either change is missing. What the table's shares and the live line's verdict compare. */
function poolPair(layers, i, dir) {
  const [layer, conv] = [layers[i], layers[i - 1]];
  if (!conv || !layer.name.startsWith('pool')) return null;
  const [pooled, before] = [layer.change?.[dir], conv.change?.[dir]];
  return pooled == null || before == null ? null : { pooled, before, conv: conv.name };
}

/** A pool's change over that of the conv before it in its own network, with the conv's
 * name ({ ratio, conv }), or null where that is not a pool, either change is missing or the
 * conv's is 0. */
export function poolShare(layers, name, dir) {
  const pair = poolPair(layers, layers.findIndex((l) => l.name === name), dir);
  return pair && pair.before ? { ratio: pair.pooled / pair.before, conv: pair.conv } : null;
}

/** The table's lesson in one sentence, for the live line: whether each pooling layer changed
 * less than the conv before it, naming those that did not. Empty where no pool compares. */
export function poolVerdict(shifts, nets, dir) {
  const pooling = new Set(); // the networks with a pool to compare
  const against = [];
  for (const net of nets) {
    const layers = shifts.models[net]?.layers ?? [];
    layers.forEach((layer, i) => {
      const pair = poolPair(layers, i, dir);
      if (!pair) return;
      pooling.add(net);
      if (pair.pooled >= pair.before) against.push(`${net} ${layer.name} (${fmt(pair.pooled)}; ${pair.conv} ${fmt(pair.before)})`);
    });
  }
  if (!pooling.size) return '';
  // beside strided or nopool, whose pools it speaks of (a teacher's review: "each pooling
  // layer" read as if the second network had some)
  const without = nets.filter((n) => !pooling.has(n) && shifts.models[n]);
  const rule = without.length
    ? `In ${[...pooling].join(' and ')}, each pooling layer changed less than the conv before it (${without.join(' and ')} ${without.length > 1 ? 'have' : 'has'} none)`
    : 'Each pooling layer changed less than the conv before it';
  return against.length ? `${rule}, but for ${against.join(' and ')}.` : `${rule}.`;
}

/** "2 px right and 1 px up": how far nudges moved the input (not both 0). */
export function movedBy(dx, dy) {
  return [[dx, 'right', 'left'], [dy, 'down', 'up']]
    .filter(([d]) => d !== 0)
    .map(([d, plus, minus]) => `${Math.abs(d)} px ${d > 0 ? plus : minus}`)
    .join(' and ');
}

/** A pool's change over its conv's, to two places, or to as many more as it takes not to
 * read 1 where it is not: a student read "×1.00" (0.874 of 0.878) as no change beside "each
 * pooling layer changed less than the conv before it". */
export function shareText(ratio) {
  for (let digits = 2; digits < 6; digits += 1) {
    const text = fmt(ratio, digits);
    if (ratio === 1 || Number(text) !== 1) return text;
  }
  return fmt(ratio, 6);
}

export class NudgePanel {
  #cells = new Map(); // `${net}/${layer}` -> td
  #verdict = ''; // poolVerdict of the numbers shown
  #due = null; // the line to write once no other nudge is on its way (sayLater)
  #undoneInRow = 0; // nudges taken back one after another, with nothing else between

  constructor({ pad, table, status, prediction }, nets, layers, onNudge, onUndo) {
    this.nets = nets;
    this.status = status;
    this.prediction = prediction; // the answers for the nudged input (main.js; one column only)
    this.table = table;
    for (const button of pad.querySelectorAll('button[data-dir]')) {
      button.addEventListener('click', () => onNudge(button.dataset.dir));
    }
    this.undoButton = pad.querySelector('.undo-nudge'); // enabled by main.js while a nudge is in place
    this.undoButton.addEventListener('click', () => onUndo());
    pad.addEventListener('keydown', (e) => {
      const dir = UI.arrowKeys[e.key];
      if (!dir) return;
      e.preventDefault();
      onNudge(dir);
    });
    // the direction on a line of its own: a caption that rewrapped would move the buttons
    // under it from under the pointer
    this.direction = el('span', { class: 'direction' });
    this.caption = el('caption', {}, 'Change of each layer\'s maps', el('br'), this.direction);
    const { head, body } = layerTable(layers, nets, this.#cells);
    // each cell: its number, then room for a pool's share, kept on every row so that the
    // numbers of a column keep one right edge and nothing moves when the shares appear
    for (const td of this.#cells.values()) td.append(el('span', { class: 'share' }));
    table.replaceChildren(this.caption, el('thead', {}, head), body);
  }

  /** A cell's number, and beside it `share` (poolShare's, or null), which its title and
   * spoken words say in words (the × alone would be read as a product); `title`: the cell's
   * title where it has no share. */
  #setCell(td, text, share, title = '') {
    td.firstChild.textContent = text;
    const room = td.lastChild;
    if (!share) {
      room.replaceChildren();
      td.title = title;
      return;
    }
    const times = shareText(share.ratio);
    room.replaceChildren(el('span', { 'aria-hidden': 'true', text: `×${times}` }),
      el('span', { class: 'visually-hidden', text: `, ${times} of ${share.conv}'s change` }));
    td.title = `×${times}: ${times} times ${share.conv}'s change`;
  }

  /** Show `shifts` (a /api/v1/shifts answer for the input before the nudge) for `dir`;
   * `reveal`: bring the numbers into the sidebar's view (a nudge asked for them; an Undo,
   * which shows those of the nudge still in place, did not, and its button must stay put). */
  showChange(dir, shifts, reveal = true) {
    // the last nudge's, from the input before it (found by a student's review: after two
    // nudges right, 'a one-pixel nudge right' beside 'moved 2 px right' left that unclear)
    this.direction.textContent = `for the last nudge, 1 px ${dir} ${ARROWS[dir]}`;
    this.table.dataset.dir = dir;
    for (const [key, td] of this.#cells) {
      const [net, layer] = key.split('/');
      const layers = shifts.models[net]?.layers ?? [];
      const entry = layers.find((l) => l.name === layer);
      const value = entry ? entry.change[dir] : null;
      // beside a pool, its change over its conv's: the share of it the pool kept
      const share = entry ? poolShare(layers, layer, dir) : null;
      this.#setCell(td, entry ? fmt(value) : '–', share, movedAlong(entry?.change_shifted_back?.[dir]));
      td.dataset.value = value ?? '';
    }
    this.#verdict = poolVerdict(shifts, this.nets, dir);
    if (reveal) this.#reveal();
  }

  /** The numbers are what a nudge asked for: where none of them shows in the sidebar (its
   * buttons reached from the keyboard, scrolled to the top), the sidebar scrolls them into
   * view; it alone, so that the maps stay put, and only then, so that the buttons stay under
   * the pointer from one click to the next. */
  #reveal() {
    const box = this.table.closest('.sidebar');
    if (!box || box.scrollHeight <= box.clientHeight) return; // one column: the page scrolls
    const table = this.table.getBoundingClientRect();
    const { top, bottom } = inWindow(box.getBoundingClientRect());
    if (table.bottom > top && table.top < bottom) return;
    box.scrollBy({ top: table.top < top ? table.top - top - 8 : table.bottom - bottom + 8 });
  }

  /** Say how far the input is moved (nothing while it is not), and, after Undo, that a
   * nudge was taken back; after a nudge, what its numbers show of the pools (a screen reader
   * hears the lesson without walking the table). A live line: what does not change from one
   * nudge to the next is in the help under it, not here (found by a review: it was read out
   * at every nudge). Undos one after another are counted: after two, "Nudge undone" read
   * as if one had been (a teacher's review). `lesson`: the numbers' verdict, as it was when
   * the nudge landed where the line is written later (App.nudgeBy). */
  setOffset(dx, dy, undone = false, answers = '', lost = 0, lesson = this.#verdict) {
    this.#due = null; // a line still to come is past
    this.#undoneInRow = undone ? this.#undoneInRow + 1 : 0;
    const count = this.#undoneInRow;
    const said = count === 1 ? 'Nudge undone: ' : count > 1 ? `${count} nudges undone: ` : '';
    // `answers`: the networks' predictions for the input now, read after the line but not
    // shown in it (they are beside the buttons), so that a nudge is one message to a screen
    // reader, not two (a review)
    const line = (text) => this.status.replaceChildren(text,
      ...(answers ? [el('span', { class: 'visually-hidden', text: ` ${answers}` })] : []));
    // ink moved off the edge is gone for good (a phone review: a 7 nudged 5 px down lost its
    // foot, and the line said only how far it had moved)
    const gone = lost > 0 ? `; ${lost} inked pixel${lost === 1 ? '' : 's'} went off the edge` : '';
    // after an Undo, 'now': the nudges before the one undone (found by a teacher's review:
    // "Nudge undone: the input is moved 1 px right" read as if the Undo had moved it, and a
    // later review found "still" read as if the Undo had changed nothing)
    const input = said ? `${said}the input is now` : 'The input is';
    const verdict = lesson ? ` ${lesson}` : ''; // none once cleared
    if (dx === 0 && dy === 0) {
      // after a nudge that moved it back (its answers given), what the numbers of that nudge
      // show, said as theirs: the input is as it was (a teacher's review: there and back,
      // the line went blank)
      const last = !undone && answers && lesson
        ? ` For the last nudge, ${lesson[0].toLowerCase()}${lesson.slice(1)}` : '';
      if (lost > 0) line(`${input} back in place (zero fill${gone}).${last}`);
      else if (undone) line(`${said}the input is back where it was.`);
      else line(answers ? `The input is back where it was.${last}` : '');
      this.prediction.textContent = '';
      return;
    }
    line(`${input} moved ${movedBy(dx, dy)} (zero fill${gone}).${verdict}`);
  }

  /** What the numbers shown say of the pools, for a line written later. */
  get verdict() {
    return this.#verdict;
  }

  /** `write` the line once `sayDue` is called (App.nudgeBy: once no other nudge is on its
   * way), unless the line is written otherwise before then. */
  sayLater(write) {
    this.#due = write;
  }

  sayDue() {
    const write = this.#due;
    this.#due = null;
    write?.();
  }

  /** `text` in the line under the buttons, where a nudge's outcome is said: why a nudge
   * did nothing (a review: said in the page's banner, which pushed the page, and the
   * buttons from under the pointer, 60 px down). The next outcome or Clear replaces it. */
  say(text) {
    this.#due = null;
    this.status.replaceChildren(text);
    // in view, where it is under the window's foot (a phone review: the buttons at the
    // foot, the answer below them, and nothing seemed to happen); the nudge did nothing,
    // so the buttons moving up a line costs no click
    const box = this.status.getBoundingClientRect();
    if (box.bottom > window.innerHeight) this.status.scrollIntoView({ block: 'nearest' });
  }

  /** No numbers, no nudge said: the input is the drawing's, unmoved. */
  clear() {
    this.clearNumbers();
    this.setOffset(0, 0);
  }

  /** The table's numbers and their verdict gone, the line under them left as it is (an Undo
   * that takes back the last nudge says so next). */
  clearNumbers() {
    this.#verdict = '';
    this.direction.textContent = 'for a one-pixel nudge (press an arrow)';
    delete this.table.dataset.dir;
    for (const td of this.#cells.values()) {
      this.#setCell(td, '–', null);
      delete td.dataset.value;
    }
  }
}
