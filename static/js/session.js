// The tab's sessionStorage, which carries a few things across a reload (the strokes, the
// address a reload should ask for, the focus after a network is chosen). Where the browser
// refuses it (site data blocked: reading `sessionStorage` itself throws) or it is full, the
// page goes on without them (a review: with site data blocked the page never started).

/** The text kept under `key`, taken: it is removed as it is read. null: none, or refused. */
export function takeKept(key) {
  try {
    const text = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
    return text;
  } catch {
    return null;
  }
}

/** Keep `text` under `key` for the page as it opens again in this tab; false where refused. */
export function keep(key, text) {
  try {
    sessionStorage.setItem(key, text);
    return true;
  } catch {
    return false;
  }
}

/** Forget what `key` holds (nothing where refused). */
export function forget(key) {
  try {
    sessionStorage.removeItem(key);
  } catch {
    // nothing could have been kept
  }
}
