// The page's address says what it shows, so that a reload, a bookmark or a link handed to a
// class opens the same input with the same settings (asked for by a teacher's review: a
// worksheet could not say "open this link", and a reload lost the digit).
//
//   ?digit=18            one of the MNIST test digits the page offers (a sample or one of
//                        the list max and avg answer differently), as labelled
//   &dx=2&dy=-1          ... nudged 2 px right and 1 px up (as nudges, so Undo takes them back)
//   ?input=<base64url>   any other input: the 28x28 levels the networks saw (a drawing,
//                        an upload, a sample drawn over), 784 bytes
//   &size=scale          maps drawn to scale (default: fitted)
//   &norm=layer          colours per layer (default: per channel)
//   &beside=strided      the network whose maps are shown beside max (default: avg)
// Other parameters (?transport=http) are kept as they are.

import { SIDE, base64Bytes, shiftPixels } from './wire.js';

const MAX_SHIFT = 10; // px a link may nudge a digit in x or y; past it little ink is left
const CHOICES = Object.freeze({ size: ['fit', 'scale'], norm: ['channel', 'layer'] });
const OWN = ['digit', 'dx', 'dy', 'input', 'size', 'norm', 'beside'];

/** 784 levels as base64url without padding (1,046 characters). */
export function levelsText(levels) {
  let binary = '';
  for (const v of levels) binary += String.fromCharCode(v);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** The levels a link's `input` holds, or null where it is not 784 bytes of base64url. */
export function levelsOf(text) {
  text = text.replace(/=+$/, ''); // padded, as Python's urlsafe_b64encode writes it
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  let levels;
  try {
    levels = base64Bytes(text.replaceAll('-', '+').replaceAll('_', '/'));
  } catch {
    return null;
  }
  return levels.length === SIDE * SIDE ? levels : null;
}

/**
 * What an address asks the page to show: {digit, shift: [dx, dy], input, size, norm,
 * beside, problems}. A part that cannot be read is left out, and `problems` says why in
 * words for the page's notice line (`beside` is any name here: the page checks it against
 * the networks the server has).
 */
export function readLink(search) {
  const params = new URLSearchParams(search);
  const link = { digit: null, shift: [0, 0], input: null, size: null, norm: null, beside: params.get('beside'), problems: [] };
  for (const [name, values] of Object.entries(CHOICES)) {
    const value = params.get(name);
    if (value === null) continue;
    if (values.includes(value)) link[name] = value;
    else link.problems.push(`${name}=${value} is not one of ${values.join(', ')}`);
  }
  const digit = params.get('digit');
  if (digit !== null) {
    if (/^\d{1,5}$/.test(digit)) link.digit = Number(digit);
    else link.problems.push(`digit=${digit} is not a test digit's number`);
  }
  if (link.digit !== null) {
    link.shift = ['dx', 'dy'].map((name) => {
      const value = params.get(name);
      if (value === null) return 0;
      if (/^-?\d{1,2}$/.test(value) && Math.abs(Number(value)) <= MAX_SHIFT) return Number(value);
      link.problems.push(`${name}=${value} is not a whole number of pixels from -${MAX_SHIFT} to ${MAX_SHIFT}`);
      return 0;
    });
  }
  const input = params.get('input');
  if (input !== null && link.digit === null) {
    link.input = levelsOf(input);
    // quoted as the other values are (a student's review: a bare "input=" read as broken),
    // its start alone where it is long
    const shown = input.length > 24 ? `${input.slice(0, 16)}… (${input.length} characters)` : input;
    if (!input) link.problems.push('input= is empty, where a link holds the 784 levels the networks saw (cut short when copied?)');
    else if (!link.input) link.problems.push(`input=${shown} is not the 784 levels a link holds (cut short when copied?)`);
  }
  return link;
}

/** Whether a link's digit and dx, dy give the input that `moves` ({dx, dy} each, one pixel)
 * made of it: nudges are followed one way per axis, and ink a nudge pushes past the edge
 * is gone, so a move back and forth is the same as its sum only where `now`, the input the
 * moves gave, is `before` (the digit's) moved by that sum; none is past MAX_SHIFT. (A
 * teacher's review: a digit nudged there and back was linked as its levels, not its number.) */
export function replayable(moves, before = null, now = null) {
  const sum = (key) => moves.reduce((total, m) => total + m[key], 0);
  const [dx, dy] = [sum('dx'), sum('dy')];
  if (Math.abs(dx) > MAX_SHIFT || Math.abs(dy) > MAX_SHIFT) return false;
  const oneWay = (key) => moves.every((m) => m[key] >= 0) || moves.every((m) => m[key] <= 0);
  if (oneWay('dx') && oneWay('dy')) return true;
  if (!before || !now) return false;
  const moved = shiftPixels(before, dx, dy);
  return moved.length === now.length && moved.every((level, i) => level === now[i]);
}

/** The address of `state` ({digit, shift, input, size, norm, beside}; digit or input null
 * when there is none, beside null for the usual pair), built on `href`, whose other
 * parameters stay. */
export function linkTo(href, { digit = null, shift = [0, 0], input = null, size = 'fit', norm = 'channel', beside = null }) {
  const url = new URL(href);
  for (const name of OWN) url.searchParams.delete(name);
  if (digit !== null) {
    url.searchParams.set('digit', String(digit));
    if (shift[0]) url.searchParams.set('dx', String(shift[0]));
    if (shift[1]) url.searchParams.set('dy', String(shift[1]));
  } else if (input) {
    url.searchParams.set('input', levelsText(input));
  }
  if (size !== CHOICES.size[0]) url.searchParams.set('size', size);
  if (norm !== CHOICES.norm[0]) url.searchParams.set('norm', norm);
  if (beside) url.searchParams.set('beside', beside);
  return url.href;
}
