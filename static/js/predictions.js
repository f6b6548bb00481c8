// Each network's prediction, and its ten probabilities as a bar per digit.

import { answerPercent, el, probability, setText } from './dom.js';

const BLANK_NOTE = 'The input is blank (no ink found), so this is a guess about nothing.';

export class Predictions {
  #views = new Map();

  #announcer;
  #last = null; // the result shown, for a table of numbers opened later
  #label = null; // MNIST's label of the digit shown (a sample or a listed test digit), or null
  #room = false; // whether the wrong-answer line takes its room now
  #hold = false; // keep that room as it is while the input is nudged (holdWrongLine)

  /**
   * `nets`: the /api/v1/models entries of the networks shown; `placeFor(name)`: the element
   * each network's prediction goes into (the head of its column of maps); `announcer`: a
   * live region that `announce` writes the predictions into, for screen readers; `names`:
   * {network: a node heading its column in place of its name and title} (main.js's choice
   * of the network beside the first).
   */
  constructor(nets, placeFor, announcer, names = {}) {
    this.#announcer = announcer;
    for (const net of nets) {
      const top = el('p', { class: 'pred-top', text: 'no drawing yet' });
      const blank = el('p', { class: 'pred-blank', hidden: true, text: BLANK_NOTE });
      const wrong = el('p', { class: 'pred-wrong', hidden: true });
      const bars = [];
      const list = el('ol', { class: 'bars', start: 0, 'aria-label': `${net.name}: probability of each digit` });
      for (let d = 0; d < 10; d += 1) {
        const fill = el('span', { class: 'fill' });
        const item = el('li', { dataset: { digit: d } }, el('span', { class: 'track' }, fill), el('span', { class: 'digit', text: d }));
        list.append(item);
        bars.push({ item, fill });
      }
      // the ten as numbers, on demand: written only while open (a text change costs a layout
      // pass, at every update while drawing); 0-4 and 5-9 side by side, to keep the sticky
      // head of the maps short
      const cells = [];
      const heads = [];
      const pair = (d) => {
        const head = el('th', { scope: 'row', text: d });
        const cell = el('td', { class: 'num', dataset: { digit: d }, text: '–' });
        heads[d] = head;
        cells[d] = cell;
        return [head, cell];
      };
      const numbers = el('table', { class: 'pred-numbers' },
        el('caption', { class: 'visually-hidden', text: `${net.name}: probability of each digit` }),
        el('tbody', {}, ...Array.from({ length: 5 }, (_, r) => el('tr', {}, ...pair(r), ...pair(r + 5)))));
      // named for its network where it is read alone (two controls of one name: a review)
      const all = el('details', { class: 'pred-all' },
        el('summary', {}, 'all ten as numbers', el('span', { class: 'visually-hidden', text: ` for ${net.name}` })), numbers);
      all.addEventListener('toggle', () => {
        if (all.open && this.#last) this.#fill(this.#views.get(net.name), this.#last.models[net.name]);
        // open, the numbers nearly double the head pinned over the maps (a student's review:
        // 225 px of an 800 px window, hiding a layer as the maps scrolled under it): while
        // any are, it scrolls with the maps (page.css). Unpinned while the maps were
        // scrolled, it fell back to its place screens above, the numbers and the control
        // just used with it (a review): the page scrolls to keep that control where it was.
        const summary = all.querySelector('summary');
        const before = summary.getBoundingClientRect().top;
        document.body.toggleAttribute('data-numbers-open',
          [...this.#views.values()].some((view) => view.all.open));
        const moved = summary.getBoundingClientRect().top - before;
        if (Math.abs(moved) > 1) window.scrollBy({ top: moved, behavior: 'instant' });
      });
      const box = el('div', { class: 'pred', dataset: { net: net.name } },
        // the name and title in one box, which a touch screen's taller head centres (page.css)
        el('h3', {}, names[net.name] ?? el('span', {}, el('strong', { text: net.name }), ` · ${net.title}`)), top, blank, wrong, list, all);
      placeFor(net.name).append(box);
      this.#views.set(net.name, { box, top, blank, wrong, bars, all, cells, heads });
    }
  }

  show(result) {
    this.#last = result;
    // no ink survived preprocessing (an empty or uniform image): the networks still answer,
    // often confidently, for an all-zero input; say so beside the number
    const { blank } = result;
    // a sample's answer that is not its MNIST label, said under it, as the input changes
    // (found by a student's review: sample #18, a 3 avg reads as 5, looked like a broken
    // page; a line under the samples went stale after a nudge and pushed the sidebar); where
    // one network's is said, the others keep its line empty, so that the bars stay level
    // (a teacher's review: they looked broken on a projector); while the input is nudged the
    // line keeps the room it had, so that a nudge that mends an answer does not move every
    // map under the pointer (a review: by 23 px on a projector)
    const off = (net) => this.#label !== null && !blank && net && net.prediction !== this.#label;
    const room = [...this.#views.keys()].some((name) => off(result.models[name]))
      || (this.#hold && this.#room);
    this.#room = room;
    for (const [name, view] of this.#views) {
      const net = result.models[name];
      if (!net) continue;
      if (view.blank.hidden === blank) view.blank.hidden = !blank;
      const said = off(net) ? `wrong: MNIST's label is ${this.#label}` : '';
      if (view.wrong.textContent !== said) view.wrong.textContent = said;
      if (view.wrong.hidden === room) view.wrong.hidden = !room;
      const p = net.probabilities;
      const percent = answerPercent(p[net.prediction]);
      const top = `${net.prediction} ${percent}`;
      if (view.shown !== top) {
        // text changes cost a layout pass: only when the words change
        view.shown = top;
        view.box.dataset.prediction = net.prediction;
        view.top.replaceChildren('predicts ', el('strong', { class: 'digit-big', text: net.prediction }), ` ${percent}`);
      }
      view.bars.forEach((bar, d) => {
        bar.fill.style.transform = `scaleY(${p[d]})`;
        // the value goes in attributes (read by screen readers and on hover), not in text
        const label = `${d}: ${probability(p[d], 2)}${d === this.#label ? ', MNIST\'s label' : ''}`;
        bar.item.title = label;
        bar.item.setAttribute('aria-label', label);
        bar.item.classList.toggle('top', d === net.prediction);
      });
      if (view.all.open) this.#fill(view, net);
    }
  }

  /** Box MNIST's `label` (or nothing, for null) under each network's bars: next to the
   * answers, where a sample's label under the pad is screens away on a narrow page (found
   * by a review: a digit picked from the list showed two answers and no way to tell which
   * was right). */
  markLabel(label, { hold = false } = {}) {
    // a new input (App.#setPicked): the line follows its answers again, shown anew where a
    // nudge held it, though the label be the same (a review: two 7s in turn). `hold`: the
    // input is the one on the pad drawn over, not a new one: the line keeps its room, now
    // empty, as for a nudge (a review: the maps moved up 22 px as a stroke began over #18)
    const held = this.#hold;
    this.#hold = hold;
    if (label === this.#label) {
      if (held && !hold && this.#last) this.show(this.#last);
      return;
    }
    this.#label = label;
    for (const view of this.#views.values()) {
      view.bars.forEach((bar, d) => bar.item.classList.toggle('label', d === label));
    }
    if (this.#last) this.show(this.#last); // the bars' labels say it too
  }

  /** The input is about to be nudged: the wrong-answer line keeps the room it has until the
   * next new input (`markLabel`), whatever the nudged input's answers. */
  holdWrongLine() {
    this.#hold = true;
  }

  /** The open table of numbers: each digit's probability, the predicted one marked. */
  #fill(view, net) {
    if (!net) return;
    view.cells.forEach((cell, d) => {
      setText(cell, probability(net.probabilities[d], 2));
      cell.classList.toggle('top', d === net.prediction);
      view.heads[d].classList.toggle('top', d === net.prediction);
    });
  }

  /** [name, prediction, its probability as written] of each network shown in `result`. */
  #answers(result) {
    return [...this.#views.keys()].filter((name) => result.models[name]).map((name) => {
      const net = result.models[name];
      return [name, net.prediction, answerPercent(net.probabilities[net.prediction])];
    });
  }

  /** Each network's answer in one short line into `target`, after `lead`, for where the
   * column heads are out of sight (one column: under the pad, in the nudge panel):
   * "max 7 (>99.9%) · avg 7 (98.2%)". Written only when the words change. */
  writeBrief(target, result, lead = '') {
    const parts = this.#answers(result);
    const text = lead + parts.map(([name, digit, p]) => `${name} ${digit} (${p})`).join(' · ');
    if (target.textContent === text) return;
    // each network's answer kept together where it fits a line (a review: "avg 7" above
    // its "(>99.9%)"), and wrapped where it does not (page.css `.brief-one`)
    target.replaceChildren(lead, ...parts.flatMap(([name, digit, p], i) => [
      i ? ' · ' : '', el('span', { class: 'brief-one' }, `${name} `, el('strong', { text: digit }), ` (${p})`)]));
  }

  /** Put a settled input's predictions into the live region, in one sentence: called for a
   * stroke's end, an upload, a sample or an undo, not for the many updates while a stroke is
   * drawn, which would talk over the user, nor for a nudge (`hush`). `lead`: what came
   * before them, where it is not heard otherwise (what an Undo took back). */
  announce(result, lead = '') {
    this.#announcer.textContent = lead + this.sentence(result);
  }

  /** The predictions in one sentence, as `announce` says them: "max predicts 7 (>99.9%);
   * avg predicts 7 (98.2%)." */
  sentence(result) {
    const said = this.#answers(result).map(([name, digit, p]) => `${name} predicts ${digit} (${p})`);
    return `${said.join('; ')}.${result.blank ? ` ${BLANK_NOTE}` : ''}`;
  }

  /** Empty the live region, saying nothing but `lead` (what an Undo took back): a nudge's
   * own line says its predictions (a review: a screen reader heard two messages per nudge),
   * and the next announcement, the same words or not, is then a change that is read. */
  hush(lead = '') {
    this.#announcer.textContent = lead.trim();
  }

  /** The pad holds a drawing the server has not answered: where no answer is shown (after
   * a Clear), the columns say so, not "no drawing yet", and the live region's "The pad is
   * empty" goes (a page review: both stayed beside a drawing while the server was down).
   * The next answer, or a Clear, writes them again. */
  awaiting() {
    if (this.#last !== null) return;
    this.#announcer.textContent = '';
    for (const view of this.#views.values()) view.top.textContent = 'waiting for the server';
  }

  /** Back to no drawing. `said`: whether to say so in the live region (a Clear, an Undo
   * back to an empty pad), where it was emptied and a screen reader heard nothing of it (an
   * accessibility review); not as the page opens; `lead` what is said before it. */
  clear({ said = false, lead = '' } = {}) {
    this.#last = null;
    this.#room = false;
    this.#hold = false;
    this.#announcer.textContent = said ? `${lead}The pad is empty: no predictions.` : '';
    for (const view of this.#views.values()) {
      view.wrong.hidden = true;
      delete view.box.dataset.prediction;
      view.shown = null;
      view.top.textContent = 'no drawing yet';
      view.blank.hidden = true;
      view.cells.forEach((cell, d) => {
        cell.textContent = '–';
        cell.classList.remove('top');
        view.heads[d].classList.remove('top');
      });
      for (const bar of view.bars) {
        bar.fill.style.transform = 'scaleY(0)';
        bar.item.removeAttribute('aria-label');
        bar.item.title = '';
        bar.item.classList.remove('top');
      }
    }
  }
}
