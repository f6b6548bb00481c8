// Talking to the featuremaps API. Every failure becomes an ApiError whose message is the
// server's own sentence ({"detail": ...}) or a plain description of what went wrong.

// fflate (MIT, vendored): inflating an answer takes it under a millisecond where the
// browser's DecompressionStream took 3 to 6 (docs/speed.md), in steps that each wait for
// the main thread
import { gunzipSync } from '../vendor/fflate/browser.js';
import { decodeFeaturemaps } from './wire.js';

export const BINARY_TYPE = 'application/x-featuremaps';

export class ApiError extends Error {
  /** `unanswered`: no answer came from the app (the server unreachable, silent for
   * GIVE_UP_MS, or down behind a proxy: PROXY_UNANSWERED), which asking again later may
   * mend; `status` is then 0, or the proxy's. */
  constructor(message, status, unanswered = false) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.unanswered = unanswered;
  }
}

// a proxy's answers for a server behind it that is down (502) or silent (504): the app
// never answers these itself, and they are mended, like a refused connection, by asking
// again later (a second review: behind nginx a stopped server was "Bad Gateway (8th time)")
const PROXY_UNANSWERED = new Set([502, 504]);

async function errorFrom(response) {
  if (PROXY_UNANSWERED.has(response.status)) {
    const said = [response.status, response.statusText].filter(Boolean).join(' ');
    return new ApiError(`the server cannot be reached through its proxy (${said})`, response.status, true);
  }
  let detail = '';
  try {
    const body = await response.json();
    detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  } catch {
    detail = response.statusText || 'no explanation given';
  }
  return new ApiError(detail, response.status);
}

// a request the server never answers is given up: the nudges and Undos queued behind one
// would otherwise wait for good (found by a review). The server's own limit is 10 s.
const GIVE_UP_MS = 30_000;

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(GIVE_UP_MS) });
  } catch (err) {
    if (err.name === 'TimeoutError') {
      throw new ApiError(`the server did not answer within ${GIVE_UP_MS / 1000} s`, 0, true);
    }
    // the browser's own words ("Failed to fetch") told a student nothing (a review); they
    // are in its console
    throw new ApiError('the server cannot be reached (it may have stopped, or the network is down)', 0, true);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** GET /api/v1/models: {device, models: [...]} */
export async function fetchModels(base) {
  const response = await send(`${base}/models`, { headers: { Accept: 'application/json' } });
  return response.json();
}

/** GET /api/v1/models/{model}/filters/{layer}?channel=: one conv channel's weights and bias. */
export async function fetchFilters(base, model, layer, channel) {
  const url = `${base}/models/${model}/filters/${layer}?channel=${channel}`;
  const response = await send(url, { headers: { Accept: 'application/json' } });
  return response.json();
}

/**
 * POST /api/v1/featuremaps in the binary format. `body` is {data: Blob | string, type}.
 * Resolves to the decoded maps (see wire.js) plus the server's timing header.
 */
export async function postFeaturemaps(base, models, body) {
  const url = `${base}/featuremaps?models=${models.join(',')}&encoding=uint8`;
  const response = await send(url, {
    method: 'POST',
    headers: { 'Content-Type': body.type, Accept: BINARY_TYPE },
    body: body.data,
    priority: 'high', // the maps are what the user is waiting for
  });
  const result = decodeFeaturemaps(await response.arrayBuffer());
  result.serverTiming = response.headers.get('Server-Timing') || '';
  return result;
}

/** POST /api/v1/shifts: predictions over the -4..4 shift grid and per-layer map changes. */
export async function postShifts(base, models, body) {
  const response = await send(`${base}/shifts?models=${models.join(',')}`, {
    method: 'POST',
    headers: { 'Content-Type': body.type, Accept: 'application/json' },
    body: body.data,
  });
  return response.json();
}

/** Server-Timing's text for a {name: ms} object, so both transports report alike. */
function timingText(timings) {
  return Object.entries(timings ?? {}).map(([name, ms]) => `${name};dur=${ms}`).join(', ');
}

/**
 * The live channel, WS /api/v1/live: each drawing goes out as one binary message and its
 * maps come back as one gzip-compressed binary message (or a {status, detail} text message
 * for a drawing the server could not use). A fetch costs the browser several milliseconds
 * of its own per update; a message on an open socket costs about one.
 *
 * `send` resolves like postFeaturemaps. It rejects with an ApiError when the server refused
 * the drawing (the socket stays open), and with a plain Error when there is no socket: the
 * caller then falls back to POST.
 */
const RETRY_MS = 10_000; // the server's Retry-After for a full live channel

export class LiveChannel {
  static supported = typeof WebSocket !== 'undefined';

  #socket = null; // the open socket, or null
  #current = null; // the socket being opened or open; events of older ones are ignored
  #opening = null;
  #pending = null; // {resolve, reject} of the one drawing in flight
  #notBefore = 0; // a socket that could not open is not tried again before this (performance.now())

  constructor(base, models) {
    const url = new URL(`${base}/live?models=${models.join(',')}`, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = url.href;
  }

  get ready() {
    return this.#socket !== null && this.#socket.readyState === WebSocket.OPEN;
  }

  /** Resolves true once the socket is open, false when it cannot open within timeoutMs. A
   * socket that could not open is tried again RETRY_MS later at the soonest, not at every
   * stroke (a second review: a page over the server's FEATUREMAPS_MAX_SOCKETS was refused,
   * and logged, at each stroke); the drawings go over POST meanwhile. */
  open(timeoutMs = 3000) {
    if (this.#opening) return this.#opening;
    if (performance.now() < this.#notBefore) return Promise.resolve(false);
    this.#opening = new Promise((resolve) => {
      let socket;
      try {
        socket = new WebSocket(this.url);
      } catch {
        this.#opening = null;
        resolve(false);
        return;
      }
      this.#current = socket;
      socket.binaryType = 'arraybuffer';
      const timer = setTimeout(() => socket.close(), timeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        if (this.#current === socket) this.#socket = socket;
        resolve(this.#current === socket);
      };
      socket.onmessage = (e) => {
        if (this.#current === socket) this.#answer(e.data);
      };
      socket.onclose = () => {
        clearTimeout(timer);
        if (this.#current === socket && this.#socket !== socket) this.#notBefore = performance.now() + RETRY_MS;
        resolve(false);
        if (this.#current !== socket) return; // given up on already
        this.#giveUp(new Error('the live connection closed'));
      };
    });
    return this.#opening;
  }

  /** Forget the current socket (a later open() starts a new one) and fail what is pending. */
  #giveUp(error) {
    const socket = this.#current;
    this.#current = null;
    this.#socket = null;
    this.#opening = null;
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(error);
    if (socket && socket.readyState < WebSocket.CLOSING) socket.close();
  }

  /** A socket can die without closing (a laptop asleep, a dropped NAT entry): an answer
   * that takes longer than timeoutMs closes it, so the drawing falls back to POST. */
  send(data, timeoutMs = 5000) {
    if (!this.ready) return Promise.reject(new Error('the live connection is not open'));
    if (this.#pending) return Promise.reject(new Error('a drawing is already on its way'));
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      // give the socket up at once: its close handshake may take as long as the answer
      const timer = setTimeout(() => this.#giveUp(new Error('the live connection stopped answering')), timeoutMs);
      const settle = (fn) => (value) => {
        clearTimeout(timer);
        fn(value);
      };
      this.#pending = { resolve: settle(resolve), reject: settle(reject) };
      try {
        socket.send(data);
      } catch (err) {
        this.#giveUp(new Error(`the live connection failed (${err.message})`));
      }
    });
  }

  #answer(data) {
    const arrivedTime = performance.now();
    const pending = this.#pending;
    this.#pending = null;
    if (!pending) return;
    try {
      if (typeof data === 'string') {
        const { status, detail } = JSON.parse(data);
        pending.reject(new ApiError(detail, status));
        return;
      }
      const plain = gunzipSync(new Uint8Array(data));
      const whole = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength;
      const result = decodeFeaturemaps(whole ? plain.buffer : plain.slice().buffer);
      result.serverTiming = timingText(result.timings);
      result.arrivedTime = arrivedTime; // when the message came, before unzipping and decoding
      pending.resolve(result);
    } catch (err) {
      pending.reject(err instanceof ApiError ? err : new ApiError(`the live answer could not be read (${err.message})`, 0));
    }
  }
}
