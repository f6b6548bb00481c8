// Talking to the featuremaps API. Every failure becomes an ApiError whose message is the
// server's own sentence ({"detail": ...}) or a plain description of what went wrong.

import { decodeFeaturemaps } from './wire.js';

export const BINARY_TYPE = 'application/x-featuremaps';

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function errorFrom(response) {
  let detail = '';
  try {
    const body = await response.json();
    detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  } catch {
    detail = response.statusText || 'no explanation given';
  }
  return new ApiError(detail, response.status);
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(`could not reach the server (${err.message})`, 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** GET /api/v1/models: {device, models: [...]} */
export async function fetchModels(base) {
  const response = await send(`${base}/models`, { headers: { Accept: 'application/json' } });
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
