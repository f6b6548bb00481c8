// What an upload sends. A picture the server reads is sent as it is, unless it is larger
// than the server would look at: a phone's photo (a 12 MP JPEG is 3 to 6 MB) was refused
// at the upload limit, and anything over MAX_SIDE on a side is box-reduced to it before the
// server prepares it (app/ml/preprocess.py). Such a picture, and one the browser can read
// but the server cannot (a BMP, an AVIF), is drawn to MAX_SIDE and sent as a PNG. A file
// the browser cannot read as a picture goes as it is, for the server to say what it is.

/** The largest side the server prepares a picture at (preprocess.MAX_SIDE). */
export const MAX_SIDE = 512;
/** A picture over this many bytes is sent made smaller, whatever its size in pixels: the
 * server's upload limit is 2 MiB by default, and a PNG of MAX_SIDE is well under this. */
const SENT_UNDER_BYTES = 1 << 20;
/** The types the server reads as pictures. */
const READ = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

/** {data, type} to send for the file `file`. */
export async function uploadBody(file) {
  const asIs = { data: file, type: READ.has(file.type) ? file.type : 'application/octet-stream' };
  let bitmap;
  try {
    // turned upright by its EXIF orientation, as the server turns what it is sent
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return asIs; // no picture to this browser (a PDF, HEIC, a text): the server names it
  }
  try {
    const { width, height } = bitmap;
    if (READ.has(file.type) && Math.max(width, height) <= MAX_SIDE && file.size <= SENT_UNDER_BYTES) return asIs;
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    const size = [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
    // a browser without OffscreenCanvas (Safari before 16.4) draws on a canvas of the page
    const canvas = typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(...size)
      : Object.assign(document.createElement('canvas'), { width: size[0], height: size[1] });
    const context = canvas.getContext('2d');
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, ...size);
    const png = canvas.convertToBlob ? await canvas.convertToBlob({ type: 'image/png' })
      : await new Promise((resolve) => { canvas.toBlob(resolve, 'image/png'); });
    return png ? { data: png, type: 'image/png' } : asIs;
  } finally {
    bitmap.close();
  }
}
