// Painting feature maps: a layer's channels are written into one small canvas's ImageData,
// one canvas pixel per map unit; CSS scales it up with smoothing off (image-rendering:
// pixelated). Nothing here knows about HTTP or the page's state.

import { cellOrigin, gridLayout } from './geometry.js';
import { layerRange } from './wire.js';

const images = new WeakMap(); // canvas -> its reusable ImageData

function imageFor(ctx, width, height) {
  let image = images.get(ctx.canvas);
  if (!image || image.width !== width || image.height !== height) {
    image = ctx.createImageData(width, height); // transparent: the gaps show the page behind
    images.set(ctx.canvas, image);
  }
  return image;
}

/** Size a layer canvas for its grid of channels; returns the layout (see geometry.js). */
export function sizeLayerCanvas(canvas, shape, columns, gap) {
  const layout = gridLayout(shape, columns, gap);
  if (canvas.width !== layout.width) canvas.width = layout.width;
  if (canvas.height !== layout.height) canvas.height = layout.height;
  return layout;
}

/** Paint every channel of `layer` (or just `only`, into a canvas of one map). */
export function paintLayer(canvas, layer, layout, lut, norm, only = null) {
  const ctx = canvas.getContext('2d');
  const image = imageFor(ctx, layout.width, layout.height);
  const pixels = new Uint32Array(image.data.buffer);
  const [channels, h, w] = layer.shape;
  const q = layer.q;
  const { lo, hi } = layerRange(layer);
  const span = hi - lo;
  const first = only ?? 0;
  const last = only ?? channels - 1;
  for (let c = first; c <= last; c += 1) {
    const { x, y } = only === null ? cellOrigin(layout, c) : { x: 0, y: 0 };
    let src = c * h * w;
    if (norm === 'channel') {
      // per channel, q already is the colour level (q/255 spans the channel's low..high)
      for (let r = 0; r < h; r += 1) {
        let dst = (y + r) * layout.width + x;
        for (let col = 0; col < w; col += 1) pixels[dst++] = lut[q[src++]];
      }
    } else {
      // per layer: level = (value - lo) / span * 255 with value = low + q/255 * (high - low)
      const offset = span > 0 ? ((layer.low[c] - lo) / span) * 255 + 0.5 : 0;
      const slope = span > 0 ? (layer.high[c] - layer.low[c]) / span : 0;
      for (let r = 0; r < h; r += 1) {
        let dst = (y + r) * layout.width + x;
        for (let col = 0; col < w; col += 1) {
          pixels[dst++] = lut[Math.min(255, (offset + slope * q[src++]) | 0)];
        }
      }
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** Paint a 28x28 uint8 image in grey (the model's input: 0 black, 255 white). */
export function paintGray(canvas, q, side = 28) {
  const ctx = canvas.getContext('2d');
  const image = imageFor(ctx, side, side);
  const data = image.data;
  for (let i = 0; i < side * side; i += 1) {
    const v = q ? q[i] : 0;
    data[i * 4] = v;
    data[i * 4 + 1] = v;
    data[i * 4 + 2] = v;
    data[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/** Each channel of a layer canvas as an empty square where its map will be, before a
 * drawing and after Clear (a first-visit review: the rows were blank gaps, and "32 maps of
 * 26 x 26" was not seen until something was drawn): the colour scale's low end, faint,
 * which shows on the dark page and the projector's light one alike. */
export const EMPTY_TILE = 'rgb(68 1 84 / 30%)';

export function paintEmpty(canvas, layout) {
  blank(canvas);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = EMPTY_TILE;
  for (let c = 0; c < layout.channels; c += 1) {
    const { x, y } = cellOrigin(layout, c);
    ctx.fillRect(x, y, layout.w, layout.h);
  }
}

/** Make a canvas fully transparent (an empty map). */
export function blank(canvas) {
  canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
  images.delete(canvas);
}
