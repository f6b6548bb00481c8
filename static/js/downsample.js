// "Why downsample?": the variants side by side (shapes, parameters, receptive field,
// accuracy, shift consistency), and the source article's argument recomputed from the
// API's own numbers.

import { UI } from './config.js';
import { el, keyboardScroll, percent, thousands } from './dom.js';
import { cornerFields } from './geometry.js';

const hwc = ([c, h, w]) => `${h} x ${w} x ${c}`;
const count = (shape) => shape.reduce((a, b) => a * b, 1);
const ordinal = (n) => ({ 2: 'second', 3: 'third', 4: 'fourth' }[n] ?? `${n}th`);
const NO_LEAD = 0.2; // points (20 digits of 10,000): a gap this small is read as no lead (`ties`)
// whether a gap of `points` is that small; the slack keeps a gap of exactly 0.2 points
// within, whatever the floats
const noLead = (points) => points <= NO_LEAD + 1e-9;

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

/** The network that leads a row, where every one of `models` has a value. */
function leader(models, key) {
  if (models.length < 2 || models.some((m) => m[key] == null)) return null;
  return models.reduce((best, m) => (m[key] > best[key] ? m : best));
}

/** The widest gap between `models` in the rows `keys` name, in points. */
function widestGap(models, keys = ['test_accuracy', 'valid_accuracy']) {
  const spread = (key) => {
    const values = models.map((m) => m[key]).filter((v) => v != null);
    return values.length > 1 ? Math.max(...values) - Math.min(...values) : 0;
  };
  return Math.max(...keys.map(spread)) * 100;
}

/** What the accuracy and consistency gaps can be read as: each network was trained once, so
 * how far another training seed would move them is not measured (README, "What this says").
 * Up to NO_LEAD, 0.2 points (20 digits), the page calls a lead small (the note on the digits
 * max and avg answer differently reads their split by its sign test instead:
 * app/ml/disagree.py). Found by a teacher's review: the
 * page read max's test-set lead as "at least as good", where the validation set, which chose
 * nothing in training, puts max last: a lead one held-out set gives and the other takes back
 * is said to be so. */
function ties(models) {
  const widest = widestGap(models);
  const test = leader(models, 'test_accuracy');
  const valid = leader(models, 'valid_accuracy');
  const turned = test && valid && test !== valid
    ? ` The most accurate is ${test.name} on the test set but ${valid.name} on the validation set, a second 10,000 `
      + 'digits that training neither learned from nor was tuned on.'
    : '';
  // consistency's gap, read apart where it is wider: a median over draws of shifts, whose
  // lead may hold from draw to draw, but of one training run each all the same
  const steadier = widestGap(models, ['shift_consistency']);
  if (noLead(widest) && noLead(steadier)) {
    return `Each network was trained once, and no two here differ by more than ${Math.max(widest, steadier).toFixed(2)} points `
      + `in any accuracy or consistency row.${turned} How far another training seed would move them is not measured here, `
      + 'so these numbers do not show one network to be better: a lead this small may be the seed\'s.';
  }
  const steady = noLead(steadier) ? '' : widestSteadiness(models, steadier);
  return noLead(widest)
    ? `Each network was trained once, and no two here differ by more than ${widest.toFixed(2)} points in either `
      + `accuracy row.${turned} How far another training seed would move them is not measured here, so these `
      + `numbers do not show one network to be more accurate: a lead this small may be the seed's.${steady}`
    : `Each network was trained once: how far another training seed would move these numbers is not measured here.${turned}${steady}`;
}

/** The consistency row's widest gap, `points` wide, and in how many draws of shifts its
 * leader led (where the cards hold the draws): what that rules out, the luck of the shifts,
 * and what it does not (a teacher's review), after `ties` has said each was trained once. */
function widestSteadiness(models, points) {
  const measured = models.filter((m) => m.shift_consistency != null);
  const top = leader(measured, 'shift_consistency');
  const low = measured.reduce((worst, m) => (m.shift_consistency < worst.shift_consistency ? m : worst));
  const gap = ` The consistency row's widest gap is ${top.name} over ${low.name} by ${points.toFixed(2)} points`;
  const vs = drawsAgainst(top, low);
  if (vs === null) return `${gap}.`;
  return vs.ahead === vs.draws
    ? `${gap}, ahead in all ${vs.draws} draws of shifts: for these trained networks and these 10,000 digits that is not the `
      + 'luck of the shifts, though another training seed might move it.'
    : `${gap}, ahead in ${vs.ahead} of the ${vs.draws} draws of shifts.`;
}

/** Draw by draw, how often network `a`'s shift consistency was above `b`'s, below it, and
 * level with it (both measured on the same shifts in each draw); null unless both hold the
 * same number of draws, two or more. */
export function drawsAgainst(a, b) {
  const [x, y] = [a?.shift_consistency_draws ?? [], b?.shift_consistency_draws ?? []];
  if (x.length < 2 || x.length !== y.length) return null;
  const ahead = x.filter((c, i) => c > y[i]).length;
  const behind = x.filter((c, i) => c < y[i]).length;
  return { ahead, behind, level: x.length - ahead - behind, draws: x.length };
}

/** What the draws of shifts behind the consistency row say: how many there were, how far
 * one draw moves a figure, and, draw by draw, max against each other network (a teacher's
 * review: the cards' one draw was avg's best, and a draw moves each figure as much as the
 * gaps; a later one: said after the medians, that read as if the medians were that noisy,
 * and max's wins alone hid its losses); '' where the cards hold no draws. */
function drawsSaid(models) {
  const counts = models.map((m) => m.shift_consistency_draws?.length ?? 0);
  const draws = counts[0];
  // (and each with its figure, the median: a hand-edited card may hold draws alone)
  if (!(draws > 1) || counts.some((n) => n !== draws) || models.some((m) => m.shift_consistency == null)) return '';
  const spread = Math.max(...models.map((m) => Math.max(...m.shift_consistency_draws) - Math.min(...m.shift_consistency_draws))) * 100;
  // and how far one draw lies from the figure shown, its network's median: about half the
  // spread (a science review: "one draw moves a figure by up to" the spread overstated it)
  const off = Math.max(...models.map((m) => Math.max(...m.shift_consistency_draws
    .map((c) => Math.abs(c - m.shift_consistency))))) * 100;
  const max = models.find((m) => m.name === 'max');
  const against = (m) => {
    const { ahead, behind, level } = drawsAgainst(max, m);
    if (ahead === draws) return `ahead of ${m.name} in all ${draws}`;
    if (behind === draws) return `behind ${m.name} in all ${draws}`;
    return [`ahead of ${m.name} in ${ahead}`, behind && `behind in ${behind}`, level && `level in ${level}`].filter(Boolean).join(', ');
  };
  const others = models.filter((m) => m !== max);
  const byDraw = max && others.length
    ? ` Every network got the same shifts in a draw, so the fair comparison is draw by draw: max was ${others.map(against).join('; ')}.`
    : '';
  return `Each figure is the median of ${draws} draws of those random shifts; the small figures under it are the lowest and `
    + `the highest of the ${draws}. One network's draws lie up to ${spread.toFixed(2)} points apart, one draw up to ${off.toFixed(2)} from its figure.${byDraw}`;
}

/** Where the cards hold no draws of shifts, or not all alike: what their figures are. */
function oneDraw(models) {
  const drawn = models.filter((m) => (m.shift_consistency_draws?.length ?? 0) > 1).map((m) => m.name);
  const moves = 'moves a network\'s figure by a few tenths of a point, as much as the gaps between them.';
  return drawn.length
    ? `${drawn.join(', ')}'s figure${drawn.length > 1 ? 's are medians' : ' is the median'} of several draws of those shifts, the others' one draw: a single draw ${moves}`
    : `Each figure is one draw of those shifts: another draw ${moves}`;
}

/** How far a training digit's centre could move in x or y: the shift is drawn before the
 * digit is scaled and turned (app/ml/train.py's augment), which carry it along, so it reaches
 * shift x the largest scale x (cos + sin) of the largest turn (found by a review: "up to 2.5
 * px" undersold training shifts that reach 3.3 px, beside a lab of 3 and 4 px shifts; a later
 * review: said plainly, 3.3 px oversold them, as few come near it, so it is said as rare). */
function reach({ shift_px: shift, rotate_deg: turn, scale }) {
  const t = Math.min(((turn ?? 0) * Math.PI) / 180, Math.PI / 4); // cos + sin peaks at 45°
  return shift * (scale?.[1] ?? 1) * (Math.cos(t) + Math.sin(t));
}

/** How far the networks' training digits were shifted at random, from their cards: "2.5
 * px", or "1 to 2.5 px", in x and in y, then how far that carried a rare digit once scaled
 * and turned (drawn uniformly, most moved far less: 2.5% of them 2.5 px or more along an
 * axis, in two million draws of train.py's augmentation); null unless every one of
 * `models` says. */
export function trainingShifts(models) {
  const augmentations = models.map((m) => m.augmentation ?? null);
  if (!models.length || augmentations.some((a) => a?.shift_px == null)) return null;
  const shifts = augmentations.map((a) => a.shift_px);
  const low = Math.min(...shifts);
  const high = Math.max(...shifts);
  const drawn = low === high ? `${high} px` : `${low} to ${high} px`;
  const far = Math.max(...augmentations.map(reach));
  const each = `${drawn} in x and in y`;
  return far < high + 0.05 ? each : `${each} (scaled and turned with it, a rare digit moved up to about ${far.toFixed(1)} px along one axis)`;
}

/** The shifts the networks were trained on, and what nopool's consistency shows: found by a
 * review, a student credited pooling alone with the shift lab's all-yellow grids. How much
 * the training shifts give was never measured (no network here was trained without them),
 * so only the facts are said, and the comparison where nopool and max are both here. */
function learnedShifts(models) {
  const upTo = trainingShifts(models);
  if (upTo === null) return '';
  const { max, nopool } = Object.fromEntries(models.map((m) => [m.name, m]));
  // about as consistent, where the gap is as small as `ties` reads a lead (a teacher's review:
  // the two figures alone understated it)
  let compared = '';
  if (max?.shift_consistency != null && nopool?.shift_consistency != null) {
    const [none, pooled] = [percent(nopool.shift_consistency, 2), percent(max.shift_consistency, 2)];
    compared = ', and pooling is not the only source of this tolerance: nopool, which never downsamples, '
      + (noLead(Math.abs(nopool.shift_consistency - max.shift_consistency) * 100)
        ? `is about as consistent as max (${none} against ${pooled})` : `keeps ${none} against max's ${pooled}`);
  }
  return ` ${models.length > 1 ? 'Every network here was' : 'This network was'} trained on digits shifted at `
    + `random by up to ${upTo}${compared}.`;
}

/** The table's answer in two sentences, before it (found by a student's review: the page
 * "never gave a clear answer", which sat paragraphs down in the article's box): what max
 * pooling buys against no downsampling, from the served networks; null unless both are here. */
function lead(models) {
  const { max, nopool } = Object.fromEntries(models.map((m) => [m.name, m]));
  if (!max || !nopool) return null;
  const what = (m) => {
    const last = m.layers[m.layers.length - 1];
    const s = last.receptive_field.size;
    const accuracy = m.test_accuracy == null ? '' : `, ${percent(m.test_accuracy, 2)} right on the test set`;
    return `its last conv sees ${s}x${s} px and hands ${thousands(count(last.shape))} values to `
      + `Dense(${m.dense[0].units}): ${thousands(m.params)} parameters in all${accuracy}`;
  };
  // the two accuracies side by side read as a win for max (a student's review: the bold
  // line, read alone, argued the opposite of the page's own conclusion): said where the note
  // under the table says no network is shown better, of every network there (a review)
  const close = noLead(widestGap(models))
    ? ' Their accuracies are too close for one training run each to rank them (under the table).' : '';
  return el('p', { id: 'why-lead' }, el('strong', { text: 'In short: ' }),
    `without downsampling (nopool), ${what(nopool)}; with max pooling, ${what(max)}. `
    + `Each unit of a later layer sees more of the digit, for far fewer parameters.${close}`);
}

/** The article's reason for max pooling over a strided convolution, with the two networks'
 * first layers (found by a review: the box gave its reason against the mean only, and the
 * article names both); null unless both networks are here. `figure`: the figure below
 * (pooling.js) is shown, and computes the stride on one of the input's maps. */
function whyStrided(models, figure) {
  const { max, strided } = Object.fromEntries(models.map((m) => [m.name, m]));
  if (!max || !strided) return null;
  const side = (layer) => `${layer.shape[1]}x${layer.shape[2]}`;
  const [conv, pool] = max.layers;
  const [first] = strided.layers;
  const sets = [['test_accuracy', 'test set'], ['valid_accuracy', 'validation set']]
    .filter(([key]) => max[key] != null && strided[key] != null);
  const scores = sets.map(([key, set]) => `max ${percent(max[key], 2)}, strided ${percent(strided[key], 2)} on the ${set}`).join('; ');
  const close = sets.every(([key]) => noLead(Math.abs(max[key] - strided[key]) * 100)); // as `ties` reads them
  let verdict = '';
  if (sets.length) {
    verdict = close
      ? ` Whether that makes max more accurate, these networks cannot tell: ${scores}.`
      : ` Each trained once: ${scores}.`;
  }
  const { kernel: k, stride } = pool.reads;
  const win = `${k}x${k}`;
  return el('p', { id: 'why-strided' }, 'Why the article prefers max pooling to a strided convolution: a convolution of '
    + `stride ${first.reads.stride} computes its filter at every ${ordinal(first.reads.stride)} position only, so it reads `
    + `sparser windows of the input. The strided network's ${first.name} computes ${side(first)} units a channel; max's `
    + `${conv.name} computes all ${side(conv)}, and its ${pool.name} keeps the strongest of each ${win} (stride ${stride}), `
    + `${side(pool)} again. A stroke that lies between two of strided's positions is read off-centre, by windows that hold `
    + `only part of it; max computed the window centred on it too, and its pool keeps that response where it is the `
    + `strongest of its ${win}.${figure ? ' The figure below does both on one of your maps.' : ''}`
    + verdict);
}

/** `shown`: the names of the networks whose maps the page shows; `seen`, `pooling`: the
 * figures of fields.js (after the lead) and pooling.js (at the end of the article's argument). */
export function renderDownsample(root, models, shown = [], { seen = null, pooling = null } = {}) {
  const names = [];
  for (const m of models) for (const l of m.layers) if (!names.includes(l.name)) names.push(l.name);
  const head = el('tr', {}, el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'measure' })), ...models.map((m) => el('th', { scope: 'col', dataset: { variant: m.name } }, el('strong', { text: m.name }), el('br'), m.title)));
  const rows = [];
  const row = (label, cells, cls = '') => rows.push(el('tr', { class: cls }, el('th', { scope: 'row', text: label }), ...cells.map((c) => el('td', { class: 'num' }, ...[c].flat()))));
  // a name like model_no_max_pool may break after its underscores, where a narrow column needs it
  // (no lookbehind in the split: Safari before 16.4 would refuse the whole module, and the page)
  const breakable = (text) => text.split('_').flatMap((part, i, all) => (i < all.length - 1 ? [`${part}_`, el('wbr')] : [part]));
  // PyTorch's name, as the server gives it, and the book's, as the summary below writes it
  // (a teacher's review: MaxPool2d here, MaxPooling2D there, read as two layers)
  row('downsampling', models.map((m) => [breakable(m.downsampling),
    UI.kerasNamed.includes(m.name) ? [el('br'), el('small', { text: `Keras: ${UI.kerasPool[m.name]}` })] : []]), 'text-row');
  for (const name of names) {
    row(`${name} output`, models.map((m) => {
      const layer = m.layers.find((l) => l.name === name);
      return layer ? hwc(layer.shape) : '—';
    }));
  }
  row('values into Dense(64)', models.map((m) => thousands(count(m.layers[m.layers.length - 1].shape))));
  row('parameters', models.map((m) => thousands(m.params)));
  // what the last conv sees, and where pools pad past the image, how the edge cuts it: the
  // cell says that its size is the inner units', on a line of its own (the table stays
  // narrow), and the note under the table gives the corners
  const fields = models.map((m) => {
    const last = m.layers[m.layers.length - 1];
    const [least, most] = cornerFields(last);
    return { net: m.name, layer: last.name, size: last.receptive_field.size, least, most, side: last.shape[1] };
  });
  // of a 3x3 map (every network's last conv here but nopool's), only the centre unit is inner
  row('last conv sees', fields.map(({ size, least, side }) => (least < size
    ? [`${size}x${size} px`, el('br'), el('small', { text: side === 3 ? 'centre unit' : 'inner units' })]
    : `${size}x${size} px`)));
  row('test accuracy', models.map((m) => (m.test_accuracy == null ? 'not measured' : percent(m.test_accuracy, 2))));
  row('validation accuracy', models.map((m) => (m.valid_accuracy == null ? 'not measured' : percent(m.valid_accuracy, 2))));
  row('shift consistency', models.map((m) => {
    if (m.shift_consistency == null) return 'not measured yet';
    const draws = m.shift_consistency_draws ?? [];
    return draws.length > 1
      // muted and named on hover: on a phone, as large as the median, it read as a second figure
      ? [percent(m.shift_consistency, 2), el('br'), el('small', {
        class: 'draws', title: `the lowest and the highest of ${draws.length} draws of shifts`,
        text: `${(Math.min(...draws) * 100).toFixed(2)}–${(Math.max(...draws) * 100).toFixed(2)}`,
      })]
      : percent(m.shift_consistency, 2);
  }));

  const np = noPoolConv3(models);
  const values = count(np.shape);
  const dense = UI.articleDense;
  const weights = values * dense + dense;
  // 15.86M: to one decimal it would read 15.9M beside the article's 15.8M, which cuts the
  // same figure short (found by a teacher's review: a student saw a contradiction)
  const millions = (weights / 1e6).toFixed(2);
  const pooled = models.find((m) => m.name === 'max') ?? models[0];
  const pooledLast = pooled.layers[pooled.layers.length - 1];
  const pooledValues = count(pooledLast.shape);
  // the field grows with the pools' stride, not with what their windows keep: said where
  // another pooling network's last conv sees as far (a student's review: the article's
  // framing credits max, and nothing on the page said avg's grows alike)
  const pool = pooled.layers.find((l) => l.kind === 'pool');
  const alike = pool ? models.filter((m) => m !== pooled && m.layers.some((l) => l.kind === 'pool')
    && m.layers[m.layers.length - 1].receptive_field.size === pooledLast.receptive_field.size).map((m) => m.name) : [];
  const sameField = alike.length
    ? ` ${alike.join(' and ')}'s ${pooledLast.name} ${alike.length > 1 ? 'see' : 'sees'} as far: the field grows with the pools' stride, `
      + `each window ${pool.reads.stride} units from the next, whatever the window keeps; what ${pooled.name} changes is which value it keeps.`
    : '';
  const dense1 = pooled.dense[0];
  const where = np.derivedFrom
    ? `${np.derivedFrom}'s convolutions replayed without its pooling (the nopool network isn't loaded on this server)`
    : 'the nopool network';
  const fact = (name, text) => el('strong', { dataset: { fact: name }, text });
  const source = (text) => el('span', { class: 'source', text });
  const origin = np.derivedFrom ? `replayed ${np.name}` : `nopool ${np.name}`;
  const measured = models.find((m) => m.name === 'nopool');
  const verdict = measured && measured.test_accuracy != null
    ? el('p', {}, `Yet nopool, trained here, reaches ${percent(measured.test_accuracy, 2)} on the test set (the table above): `
      + `its Dense layer reads all ${thousands(values)} values and puts the pieces together itself, at the price of `
      + `${thousands(measured.params)} parameters. Downsampling's gain is size, and a last conv that sees most of the digit.`)
    : null;
  const article = el('div', { class: 'article', id: 'article-numbers' },
    el('h3', { text: 'The argument of the article this tool grew from, recomputed from this server\'s networks' }),
    el('p', { class: 'note' }, 'The article: the max-pooling section of François Chollet\'s Deep Learning with Python '
      + '(1st edition, chapter 5), whose model these networks are; its model_no_max_pool, with Dense(64) like the others, is nopool here.'),
    el('p', {}, `Without any downsampling (${where}):`),
    el('ul', {},
      el('li', {}, `the third conv's units see only a `, fact('field', `${np.field}x${np.field}`),
        ' window of the input: a piece of a stroke, not a digit ', source(`${origin} receptive field size`)),
      el('li', {}, 'its output is ', fact('shape', `${np.shape[1]}x${np.shape[2]}x${np.shape[0]}`), ' = ',
        fact('values', thousands(values)), ' values per image ', source(`${origin} output shape`)),
      el('li', {}, `a Dense(${dense}) on that, the article's example (these networks use Dense(${dense1.units})), would need `,
        fact('weights', `${thousands(values)} x ${dense} + ${dense} = ${thousands(weights)}`),
        ' parameters, about ', fact('millions', `${millions}M`), ` (the article: ${UI.articleMillions}) `, source(`${dense} weights per value, plus ${dense} biases`))),
    verdict,
    // the Dense layer by its Keras form, as the table names it (a review: its name, dense1,
    // is seen only in the model summary, far below)
    el('p', {}, `With ${pooled.name} pooling, ${pooledLast.name} sees ${pooledLast.receptive_field.size}x${pooledLast.receptive_field.size} `
      + `pixels, most of the 20 px digit, and hands ${pooledLast.shape[1]}x${pooledLast.shape[2]}x${pooledLast.shape[0]} = `
      + `${thousands(pooledValues)} values to its Dense(${dense1.units}): ${thousands(pooledValues)} x ${dense1.units} + ${dense1.units} = `
      + `${thousands(dense1.params)} parameters; ${thousands(pooled.params)} in the whole network.${sameField}`),
    // found by a teacher's review: the page never gave the article's reason for max. It
    // points at max's and avg's maps where both are shown; else at the figure below, which
    // a later teacher's review found left without its reason when avg was not beside max
    el('p', { id: 'why-max' }, 'Why the article prefers max to the mean: a map records where its pattern is present, '
      + 'and the telling part is the strongest presence in each window, which max keeps and the mean dilutes with the '
      + `weaker units around it. ${['max', 'avg'].every((n) => shown.includes(n))
        ? 'The ranges under the maps illustrate it once there is ink (as they must: max keeps each window\'s largest value by definition, so this is no evidence that max is better): max\'s pool1 tops out at exactly its conv1\'s highest '
          + 'value, avg\'s pool1 below its own conv1\'s, as the share under each pool\'s maps says (compare each pool with the conv above it, not across: avg\'s conv1 runs '
          + 'hotter than max\'s).'
        : `${pooling ? 'The figure below shows it on one map' : 'Put avg beside max to see it in the ranges under their maps'} (as it must: max keeps each window's largest value by definition, so this is no evidence that max is better).`} `
      + 'Whether that makes max more accurate, these networks cannot tell (the table above).'),
    whyStrided(models, pooling !== null) ?? '');
  const cuts = fields.filter((f) => f.least < f.size).map(({ net, layer, least, most }) => `${net}'s pools pad past the `
    + `image's edge, which cuts its outer units' fields short: its corner ${layer} units see `
    + `${most > least ? `${least} to ${most} px a side` : `${least}x${least}`}. `);
  const cut = cuts.length ? `Last conv sees: the input pixels that can change one unit of it. ${cuts.join('')}`.trim() : '';
  // one paragraph a topic: one of 190 words was too long to read on a projector (a
  // teacher's review)
  const defined = el('div', { class: 'note table-notes' }, ...[cut,
    'Shift consistency: the share of the 10,000 test digits whose predicted class '
    + `stays the same under two random shifts of up to 3 px in x and y (Zhang, 2019). ${drawsSaid(models) || oneDraw(models)}`,
    // its own paragraph: with the draws' counts, one of 150 words was long again on a phone
    'The shift lab asks a similar question of your digit alone, not the same one: the share of its 81 shifts, of up '
    + 'to 4 px, that keep its unshifted prediction.' + learnedShifts(models), ties(models)].filter(Boolean).map((text) => el('p', { text: text.trim() })));
  // on a phone only max and avg fit: nopool, which the article's argument is about, is out of view
  const hint = el('p', { class: 'note scroll-hint', hidden: true, 'aria-hidden': 'true' },
    `The table scrolls sideways: all ${models.length} networks are in it →`);
  if (pooling) article.append(pooling); // the reasons for max, on one map
  root.replaceChildren(lead(models) ?? '', seen ?? '', hint, keyboardScroll(el('div', { class: 'scroll', role: 'region', 'aria-labelledby': 'compare-caption' },
    el('table', { class: 'compare' },
      el('caption', { id: 'compare-caption', class: 'visually-hidden', text: `The ${models.length} networks side by side: shapes, parameters, receptive field, accuracy and shift consistency` }),
      el('thead', {}, head), el('tbody', {}, ...rows))), hint), defined, article);
}
