// The page's constants in one place, and the server's config block read from the page.

export const UI = Object.freeze({
  oneColumn: '(max-width: 860px)', // page.css's one-column layout
  // one column on a tablet held upright (768x1024) or a window as narrow and tall: page.css
  // puts the pad's tools beside it, and the input the networks see goes after the maps
  // (main.js), so that conv1's maps share a screen with the pad
  tallColumn: '(min-width: 601px) and (max-width: 860px) and (min-height: 501px)',
  // where page.css docks the enlarged channel across the window's foot, its map beside its
  // words: a phone on its side, and a tablet held upright
  dockedAcross: '(max-height: 500px) and (min-width: 560px) and (max-width: 860px), '
    + '(min-width: 601px) and (max-width: 860px) and (min-height: 800px)',
  padSize: 280, // drawing pad, canvas pixels (CSS scales it to the screen)
  sendSize: 112, // side of the PNG sent while drawing: the model sees a 20 px box anyway
  background: '#000', // MNIST: light ink on dark
  ink: '#fff',
  brushes: Object.freeze([
    { name: 'thin', width: 14 },
    { name: 'medium', width: 22 },
    { name: 'thick', width: 32 },
  ]),
  defaultBrush: 'medium',
  gap: 1, // empty canvas pixels between the channels of a layer
  // where every layer's grid is 8 channels across: a phone, and any touch screen, where
  // 16 of a deep layer's channels across a column were 16-24 px targets for a finger
  eightAcross: '(max-width: 480px), (pointer: coarse)',
  toScale: '(min-width: 601px) and (pointer: fine)', // where page.css offers maps drawn to scale
  hover: '(hover: hover)', // a pointer that can hover (page.css's .hover-only); else touch
  // channels per row of a layer's grid: big maps 8 across, small ones 16; `narrow` (on a
  // phone or a touch screen, `eightAcross`, and drawn to scale: mapgrid.js) every layer 8
  // across, since 16 of a deep layer's channels across half a 390 px screen were about
  // 10 px each, too small to see or tap, and on a tablet 16 to 24 (laid out again when
  // the window crosses it)
  columns: (shape, narrow = false) => (narrow || shape[1] >= 13 ? 8 : 16),
  shiftCell: 24, // a shift-lab heat map's cell, in drawing units (its canvas holds more pixels: shiftlab.js)
  // every variant in the order the page lists them (the API lists them as loaded)
  variants: Object.freeze(['max', 'avg', 'strided', 'nopool', 'blurmax']),
  shiftExtra: Object.freeze(['blurmax']), // the shift lab's networks beside those shown, when loaded
  // what the pooling of each variant does to a window (null: neither a max nor a mean)
  poolOp: Object.freeze({ max: 'max', avg: 'mean', blurmax: null }),
  // a pool row's note on what each network's pooling keeps (mapgrid.js layerNote)
  poolSays: Object.freeze({
    max: 'max keeps the largest',
    avg: 'avg the mean',
    // in steps said in words, not strides (a teacher's review: "the largest of each 2x2
    // window at stride 1, blurred 3x3 at stride 2" was hard to read out to a class)
    blurmax: 'blurmax first takes the largest of each 2x2 window one unit apart, then blurs 3x3 and keeps every second unit',
  }),
  // a layer's outline in "What one unit sees" (fields.js), the same in every network, bright
  // on the input's black
  fieldColours: Object.freeze({
    conv1: '#ff4f6d', pool1: '#ffd166', conv2: '#7fd3ff', pool2: '#d9a6ff', conv3: '#6ee68f',
  }),
  kerasPool: Object.freeze({ max: 'MaxPooling2D', avg: 'AveragePooling2D', blurmax: 'MaxBlurPool2D' }),
  kerasNamed: Object.freeze(['max', 'avg']), // whose pooling Keras itself has (not blurmax's)
  // fixed weights each channel of a pool holds, not learned and not in the params (blurmax's
  // 3x3 blur; a science review: the summary's "Non-trainable params: 0" left them unsaid)
  fixedPerChannel: Object.freeze({ blurmax: 9 }),
  // conv1's role shows in its maps and weights; deeper ones are the usual reading, which no
  // page here checks (a teacher's review found them stated as fact)
  convRole: Object.freeze({
    conv1: 'edges and stroke pieces',
    conv2: 'usually read as corners, curves and line ends built from conv1\'s stroke pieces',
    conv3: 'usually read as larger parts of a digit',
  }),
  // ...where a unit sees enough of a digit for that: a conv3 whose units see fewer input px
  // on a side (nopool's 7x7) is read as pieces of strokes (a science review: beside nopool,
  // "larger parts of a digit" was said of both, and the article box says "a piece of a
  // stroke, not a digit" of that layer)
  partsFrom: 10,
  // each scale's legend: what every student needs, then the rest in a disclosure under it
  // (`more`; a teacher's review: six lines of it kept all of conv1 off a 1280x720 projector's
  // first screen)
  legend: Object.freeze({
    // "within its own channel": found by a review, a channel peaking at 0.03 was as yellow
    // as one peaking at 7.7, under words that read as strength across channels
    channel: Object.freeze({
      lead: 'Each small square is one channel\'s map; each cell one unit. Colour shows how strongly a unit '
        + 'responds within its own channel: dark purple is that channel\'s lowest value, yellow its highest, however '
        + 'weak (the range under each layer spans all its channels).',
      more: 'Conv maps come after ReLU, so 0 is no response: dark purple is 0 unless the whole channel responds. '
        + 'A square lit everywhere but on the strokes is a filter that responds to empty paper and is switched off by ink. '
        + 'Values travel as 256 levels a channel: the readout\'s ± is half a level.',
      label: 'More on the colours: zeros, empty paper, the readout\'s ±',
    }),
    // what to compare stays in the lead (a review: folded, the warning was behind a label that
    // named only zeros and the ±)
    layer: Object.freeze({
      lead: 'Each small square is one channel\'s map; each cell one unit. One scale for the whole layer: dark '
        + 'purple is the layer\'s lowest value, yellow its highest (the range is under each layer), so weak '
        + 'channels stay dark. Each layer of each network has its own scale, so compare brightness within one '
        + 'network\'s layer, not between layers or networks.',
      more: 'Conv maps come after ReLU: 0 means no response. Values travel as 256 levels a channel: the readout\'s ± is '
        + 'half a level.',
      label: 'More on the colours: zeros, the readout\'s ±',
    }),
  }),
  articleDense: 512, // the article's hypothetical Dense layer on the un-pooled maps
  articleMillions: '15.8M', // what the article writes for that layer's parameters
  // a network the shift lab runs beside the two shown, in plain words (else its title and
  // downsampling from /api/v1/models)
  plain: Object.freeze({
    blurmax: 'max pooling designed to make its maps steadier under shifts (Zhang, 2019); it takes the max of every 2x2 window '
      + 'without skipping any, then blurs with a fixed 3x3 filter and keeps every second unit',
  }),
  nudges: Object.freeze({
    left: Object.freeze([-1, 0]),
    right: Object.freeze([1, 0]),
    up: Object.freeze([0, -1]),
    down: Object.freeze([0, 1]),
  }),
  arrowKeys: Object.freeze({ ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' }),
  // a grid's keys (maps, enlarged channel, shift lab; geometry.stepCell): the arrows, and as in
  // ARIA's grids Home and End to the row's ends, Page Up and Down to the column's (a review:
  // End on a focused map scrolled the page 4,592 px away from it)
  gridKeys: Object.freeze({
    ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down',
    Home: 'home', End: 'end', PageUp: 'top', PageDown: 'bottom',
  }),
});

/** The JSON config block the server renders into the page (api base, models, colormap...). */
export function readConfig(doc) {
  const node = doc.getElementById('config');
  return JSON.parse(node.textContent);
}
