// What an upload sends. A picture the server reads is sent as it is, unless it is larger
// than the server would look at: a phone's photo (a 12 MP JPEG is 3 to 6 MB) was refused
// at the upload limit, and a picture over `maxSide` on a side is reduced by the server, by a
// whole factor, to at most that before it is prepared (app/ml/preprocess.py `_shrink`). Such
// a picture, and one the browser can read but the server cannot (a BMP, an AVIF), is drawn
// by the browser at the size the server would reduce it to and sent as a PNG; the browser's
// resampling is not the server's box filter, so thin strokes may come out a little
// different from the same file sent to the API. A file the browser cannot read as a
// picture goes as it is, for the server to say what it is. `maxSide` and `maxBytes` (the
// server's upload limit) come in the page's config block (app/api/routes/page.py).

/** The types the server reads as pictures. */
const READ = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

/** {data, type} to send for the file `file`. */
export async function uploadBody(file, { maxSide, maxBytes }) {
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
    if (READ.has(file.type) && Math.max(width, height) <= maxSide && file.size <= maxBytes) return asIs;
    const factor = Math.ceil(Math.max(width, height) / maxSide); // 1 for a small BMP
    const png = await drawnAsPng(bitmap, Math.ceil(width / factor), Math.ceil(height / factor));
    return png ? { data: png, type: 'image/png' } : asIs;
  } catch {
    return asIs; // the browser could not draw it (a review): the server says what it can
  } finally {
    bitmap.close();
  }
}

/** `bitmap` drawn at `width` x `height`, as a PNG Blob (null if the browser gives none). */
async function drawnAsPng(bitmap, width, height) {
  // a browser without OffscreenCanvas (Safari before 16.4) draws on a canvas of the page
  const canvas = typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d');
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  return canvas.convertToBlob ? canvas.convertToBlob({ type: 'image/png' })
    : new Promise((resolve) => { canvas.toBlob(resolve, 'image/png'); });
}
