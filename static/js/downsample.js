// "Why downsample?": the variants side by side (shapes, parameters, receptive field,
// accuracy, shift consistency), and the source article's argument recomputed from the
// API's own numbers.

import { UI } from './config.js';
import { el, percent, thousands } from './dom.js';

const hwc = ([c, h, w]) => `${h} x ${w} x ${c}`;
const count = (shape) => shape.reduce((a, b) => a * b, 1);

/**
 * conv3 of the network without any downsampling: the nopool variant's own entry when the
 * server has it, else replayed from another variant's convolutions with the pooling left out.
 */
export function noPoolConv3(models) {
  const nopool = models.find((m) => m.name === 'nopool');
  if (nopool) {
    const conv3 = nopool.layers[nopool.layers.length - 1];
    return { shape: conv3.shape, field: conv3.receptive_field.size, derivedFrom: null, name: conv3.name };
  }
  const source = models.find((m) => m.layers.some((l) => l.kind === 'pool')) ?? models[0];
  let size = 28;
  let field = 1;
  let jump = 1;
  let last = null;
  for (const layer of source.layers.filter((l) => l.kind === 'conv')) {
    const { kernel, padding } = layer.reads;
    size = size + 2 * padding - kernel + 1; // stride 1: no downsampling anywhere
    field += (kernel - 1) * jump;
    last = { shape: [layer.shape[0], size, size], field, derivedFrom: source.name, name: layer.name };
  }
  return last;
}

export function renderDownsample(root, models) {
  const names = [];
  for (const m of models) for (const l of m.layers) if (!names.includes(l.name)) names.push(l.name);
  const head = el('tr', {}, el('th', { scope: 'col', text: '' }), ...models.map((m) => el('th', { scope: 'col', dataset: { variant: m.name } }, el('strong', { text: m.name }), el('br'), m.title)));
  const rows = [];
  const row = (label, cells, cls = '') => rows.push(el('tr', { class: cls }, el('th', { scope: 'row', text: label }), ...cells.map((c) => el('td', { class: 'num' }, c))));
  row('downsampling', models.map((m) => m.downsampling), 'text-row');
  for (const name of names) {
    row(`${name} output`, models.map((m) => {
      const layer = m.layers.find((l) => l.name === name);
      return layer ? hwc(layer.shape) : '—';
    }));
  }
  row('values into Dense(64)', models.map((m) => thousands(count(m.layers[m.layers.length - 1].shape))));
  row('parameters', models.map((m) => thousands(m.params)));
  row('last conv sees', models.map((m) => {
    const s = m.layers[m.layers.length - 1].receptive_field.size;
    return `${s} x ${s} px`;
  }));
  row('test accuracy', models.map((m) => (m.test_accuracy == null ? 'not measured' : percent(m.test_accuracy, 2))));
  row('shift consistency', models.map((m) => (m.shift_consistency == null ? 'not measured yet' : percent(m.shift_consistency, 1))));

  const np = noPoolConv3(models);
  const values = count(np.shape);
  const dense = UI.articleDense;
  const weights = values * dense + dense;
  const millions = Math.floor(weights / 1e5) / 10;
  const pooled = models.find((m) => m.name === 'max') ?? models[0];
  const pooledLast = pooled.layers[pooled.layers.length - 1];
  const pooledValues = count(pooledLast.shape);
  const source = np.derivedFrom
    ? ` (the nopool network isn't loaded on this server, so this replays ${np.derivedFrom}'s convolutions with its pooling left out)`
    : ' (the nopool network, from this server)';
  const article = el('div', { class: 'article', id: 'article-numbers' },
    el('h3', { text: 'The article\'s argument, recomputed' }),
    el('p', {}, 'Without downsampling', source, ', the third conv\'s units see only a ',
      el('strong', { dataset: { fact: 'field' }, text: `${np.field}x${np.field}` }), ' window of the input: too little of a digit to recognise it. Its output is ',
      el('strong', { dataset: { fact: 'shape' }, text: `${np.shape[1]}x${np.shape[2]}x${np.shape[0]}` }), ' = ',
      el('strong', { dataset: { fact: 'values' }, text: thousands(values) }), ' values per image, and a Dense(', String(dense), ') on that would need ',
      el('strong', { dataset: { fact: 'weights' }, text: `${thousands(values)} x ${dense} + ${dense} = ${thousands(weights)}` }),
      ' weights, about ', el('strong', { dataset: { fact: 'millions' }, text: `${millions}M` }), '.'),
    el('p', {}, `With ${pooled.name} pooling, ${pooledLast.name} sees ${pooledLast.receptive_field.size}x${pooledLast.receptive_field.size} pixels, almost the whole 20 px digit, and hands only `,
      `${pooledLast.shape[1]}x${pooledLast.shape[2]}x${pooledLast.shape[0]} = ${thousands(pooledValues)} values to the dense layers; the whole network has ${thousands(pooled.params)} parameters.`));
  root.replaceChildren(el('div', { class: 'scroll' }, el('table', { class: 'compare' }, el('thead', {}, head), el('tbody', {}, ...rows))), article);
}
