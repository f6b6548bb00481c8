// The nudge control: move the model's input one pixel and read, per layer, how much each
// network's maps changed (the shift lab's per-layer `change`, for the input before the move).

import { UI } from './config.js';
import { el, fmt, layerTable } from './dom.js';

const ARROWS = { left: '←', right: '→', up: '↑', down: '↓' };

/** A cell's note for a layer whose units are one pixel apart: its change once its maps are
 * moved along with the input (0: it only moved). Empty for other layers. */
export function movedAlong(value) {
  return value === undefined || value === null ? '' : `moved along with the input, it changes by ${fmt(value)}`;
}

export class NudgePanel {
  #cells = new Map(); // `${net}/${layer}` -> td

  constructor({ pad, table, status }, nets, layers, onNudge) {
    this.status = status;
    this.table = table;
    for (const button of pad.querySelectorAll('button[data-dir]')) {
      button.addEventListener('click', () => onNudge(button.dataset.dir));
    }
    pad.addEventListener('keydown', (e) => {
      const dir = UI.arrowKeys[e.key];
      if (!dir) return;
      e.preventDefault();
      onNudge(dir);
    });
    this.caption = el('caption', { text: 'Change of each layer\'s maps for a one-pixel nudge' });
    const { head, body } = layerTable(layers, nets, this.#cells);
    table.replaceChildren(this.caption, el('thead', {}, head), body);
  }

  /** Show `shifts` (a /api/v1/shifts answer for the input before the nudge) for `dir`. */
  showChange(dir, shifts) {
    this.caption.textContent = `Change of each layer's maps, input nudged one pixel ${dir} ${ARROWS[dir]}`;
    this.table.dataset.dir = dir;
    for (const [key, td] of this.#cells) {
      const [net, layer] = key.split('/');
      const entry = shifts.models[net]?.layers.find((l) => l.name === layer);
      const value = entry ? entry.change[dir] : null;
      td.textContent = entry ? fmt(value) : '–';
      td.dataset.value = value ?? '';
      td.title = movedAlong(entry?.change_shifted_back?.[dir]);
    }
    this.#reveal();
  }

  /** The numbers are what a nudge asked for: on a short screen they start below the
   * sidebar's fold, where a click seemed to change nothing. */
  #reveal() {
    this.table.scrollIntoView({ block: 'nearest' });
  }

  /** Say how far the input is moved (nothing while it is not). */
  setOffset(dx, dy) {
    if (dx === 0 && dy === 0) {
      this.status.textContent = '';
      return;
    }
    const moves = [[dx, 'right', 'left'], [dy, 'down', 'up']]
      .filter(([d]) => d !== 0)
      .map(([d, plus, minus]) => `${Math.abs(d)} px ${d > 0 ? plus : minus}`);
    this.status.textContent = `The input is moved ${moves.join(' and ')} (zero fill). `
      + 'A new stroke, sample or upload starts again from an unmoved input.';
    this.#reveal(); // the line above the numbers may have pushed them down
  }

  clear() {
    this.caption.textContent = 'Change of each layer\'s maps for a one-pixel nudge';
    delete this.table.dataset.dir;
    for (const td of this.#cells.values()) {
      td.textContent = '–';
      td.title = '';
      delete td.dataset.value;
    }
    this.setOffset(0, 0);
  }
}
