// A model summary in the shape of Keras's model.summary(): layer (type), output shape with
// the batch dimension as None and channels last, parameter count.

import { UI } from './config.js';
import { el, keyboardScroll, thousands } from './dom.js';

/** Rows [name (type), output shape, params] of a /api/v1/models entry, Keras style. */
export function summaryRows(model) {
  const rows = model.layers.map((l) => {
    const type = l.kind === 'conv' ? 'Conv2D' : (UI.kerasPool[model.name] ?? 'Pooling2D');
    const [c, h, w] = l.shape;
    return [`${l.name} (${type})`, `(None, ${h}, ${w}, ${c})`, l.params];
  });
  const last = model.layers[model.layers.length - 1].shape;
  rows.push(['flatten (Flatten)', `(None, ${last[0] * last[1] * last[2]})`, 0]);
  for (const d of model.dense) rows.push([`${d.name} (Dense)`, `(None, ${d.units})`, d.params]);
  return rows;
}

export function renderSummary(root, models) {
  root.replaceChildren(...models.map((m) => {
    const rows = summaryRows(m);
    // .scroll: on a phone the table is a little wider than the screen; its edge says so
    return keyboardScroll(el('figure', { class: 'summary scroll', dataset: { net: m.name } },
      el('figcaption', { text: `Model: "${m.name}"` }),
      el('table', { class: 'keras' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Layer (type)' }), el('th', { scope: 'col', text: 'Output Shape' }), el('th', { scope: 'col', class: 'num', text: 'Param #' }))),
        el('tbody', {}, ...rows.map(([name, shape, params]) => el('tr', {}, el('th', { scope: 'row', text: name }), el('td', { text: shape }), el('td', { class: 'num', text: thousands(params) })))),
        el('tfoot', {},
          el('tr', {}, el('td', { colspan: 3, dataset: { total: m.params }, text: `Total params: ${thousands(m.params)}` })),
          el('tr', {}, el('td', { colspan: 3, text: `Trainable params: ${thousands(m.params)}` })),
          el('tr', {}, el('td', { colspan: 3, text: 'Non-trainable params: 0' }))))));
  }));
  // a pool Keras does not have is named in its style, and said to be no Keras layer where
  // its network is shown (a review: the remark stood on the page without it)
  const unnamed = models.filter((m) => UI.kerasPool[m.name] && !UI.kerasNamed.includes(m.name));
  if (unnamed.length) {
    const fixed = (m) => {
      const each = UI.fixedPerChannel[m.name];
      if (!each) return '';
      const channels = m.layers.filter((l) => l.kind === 'pool').reduce((n, l) => n + l.shape[0], 0);
      const side = Math.sqrt(each);
      return ` Its fixed ${side}x${side} blur, the same ${each} weights in each of its ${channels} pool channels `
        + `(${thousands(channels * each)} in all), is not learned and not counted in the params.`;
    };
    root.append(el('p', { class: 'note', text: unnamed.map((m) => `${UI.kerasPool[m.name]}, ${m.name}'s pool, is no built-in Keras layer.${fixed(m)}`).join(' ') }));
  }
}
