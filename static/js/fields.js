// "What one unit sees, layer by layer", in Why downsample?: for each network, the unit of its
// last conv nearest the input's centre and, in each layer below, the middle one of the units
// it reads, with the input pixels that can change each (its receptive field) outlined on the
// input shown. A pool (or a stride-2 conv) doubles the step between units, so the 3x3 conv
// after it reaches twice as far: the article's point, drawn on the user's own digit (asked
// for by a teacher's review: the page showed one field at a time, on hover, never the nesting).

import { UI } from './config.js';
import { el } from './dom.js';
import { fieldSpan, windowSpan } from './geometry.js';
import { paintGray } from './paint.js';

const SIDE = 28;
const SCALE = 10; // canvas pixels per input pixel: five outlines fit side by side in one
const LINE = 2; // canvas pixels; each layer's outline lies inside its field's border pixels

/**
 * Per layer of `info` (a /api/v1/models entry), first to last: {name, span: [lo, hi]}, the
 * input rows (and, the maps being square, columns) one chain of units sees: the unit of the
 * last layer whose field's centre is nearest the input's (the first of two as near; a
 * strided conv3's 4 x 4 has no middle unit), then in each layer below the middle unit of the
 * window it reads, so that each field holds the one before it.
 */
export function centreChain(info) {
  const chain = [];
  const last = info.layers.at(-1);
  const off = (i) => Math.abs(last.receptive_field.start + i * last.receptive_field.jump - (SIDE - 1) / 2);
  let unit = 0;
  for (let i = 1; i < last.shape[1]; i += 1) if (off(i) < off(unit)) unit = i;
  for (let i = info.layers.length - 1; i >= 0; i -= 1) {
    const layer = info.layers[i];
    chain[i] = { name: layer.name, span: fieldSpan(layer.receptive_field, unit) };
    const [lo, hi] = windowSpan(layer.reads, unit, i > 0 ? info.layers[i - 1].shape[1] : SIDE);
    unit = Math.floor((lo + hi) / 2);
  }
  return chain;
}

const side = ([lo, hi]) => hi - lo + 1;

export class FieldFigures {
  #levels = el('canvas', { width: SIDE, height: SIDE }); // the input, scaled up from here

  /** `models`: the /api/v1/models entries, in the order of Why downsample?'s table. */
  constructor(models) {
    this.figures = models.map((info) => {
      const chain = centreChain(info);
      const canvas = el('canvas', { class: 'field-canvas', width: SIDE * SCALE, height: SIDE * SCALE,
        'aria-hidden': 'true' });
      const items = chain.map(({ name, span }) => {
        const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
        swatch.style.borderColor = UI.fieldColours[name];
        return el('li', { dataset: { layer: name } }, swatch, `${name} ${side(span)}x${side(span)}`);
      });
      const figure = el('figure', { class: 'field-fig', dataset: { variant: info.name } },
        el('figcaption', {}, el('strong', { text: info.name }), el('br'), info.title),
        canvas, el('ul', { class: 'field-list', 'aria-label': `${info.name}: what one unit of each layer sees, in input px` }, items));
      return { canvas, chain, figure };
    });
    this.root = el('div', { class: 'fields', id: 'fields' },
      el('h3', { text: 'What one unit sees, layer by layer' }),
      // short sentences: found by a review, students stalled on one that nested two asides
      el('p', { class: 'note' }, 'For each network, one unit of its last conv is picked: the one nearest the '
        + 'input\'s centre. Working back to conv1, each layer\'s picked unit is the middle one of the units that the picked unit of the layer after it reads (a '
        + '2x2 pool window has no middle: its top-left one). Outlined on the input shown are the pixels that can '
        + 'change each picked unit: its receptive field. A 3x3 conv '
        + 'widens the view by two units of the layer it reads, a 2x2 pool by one (blurmax\'s pool, a 2x2 max '
        + 'and then a 3x3 blur, by three), counted in that layer\'s spacing on the input; each pool or stride-2 '
        + 'conv doubles the spacing. So in max, conv1 adds 2 px to the input\'s 1, pool1 1 px, conv2 2 x 2 = 4, '
        + 'pool2 2 and conv3 2 x 4 = 8, giving 3, 4, 8, 10 and 18.'),
      el('div', { class: 'field-row' }, this.figures.map((f) => f.figure)));
    this.show(null);
  }

  /** Draw the fields over `levels`, the 28x28 input shown (null: an empty pad). */
  show(levels) {
    paintGray(this.#levels, levels);
    for (const { canvas, chain } of this.figures) {
      const ctx = canvas.getContext('2d');
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(this.#levels, 0, 0, canvas.width, canvas.height);
      ctx.lineWidth = LINE;
      // the widest outside, each next one LINE further in: where two fields share an edge,
      // both outlines show, side by side within its border pixels
      chain.slice().reverse().forEach(({ name, span }, depth) => {
        const inset = depth * LINE + LINE / 2;
        ctx.strokeStyle = UI.fieldColours[name];
        const size = side(span) * SCALE - 2 * inset;
        ctx.strokeRect(span[0] * SCALE + inset, span[0] * SCALE + inset, size, size);
      });
    }
  }
}
