// The network shown beside the first: a choice in place of the second column's name (or,
// where a server has no avg and shows its first network alone, under the maps' settings),
// kept in the address as &beside= (link.js). Asked for by a teacher's review: the article
// weighs max pooling against a strided conv and against no downsampling at all, whose maps
// the page could not show. Choosing opens the page again at the address with it (main.js),
// which brings back the input and the settings: every view is built for its pair once.

import { UI } from './config.js';
import { el } from './dom.js';
import { forget, keep, takeKept } from './session.js';

const FOCUS_KEY = 'featuremaps-focus'; // sessionStorage: the control to focus as the page opens again

/** The networks that may stand beside `first`: every loaded variant but it, in page order. */
const offered = (first, infos) => UI.variants.filter((n) => infos[n] && n !== first);

/** The networks whose maps are shown: the server's pair (`usual`: max and avg), or its
 * first and the one an address's `beside` names (`link`, link.js's readLink). A name this
 * server lacks is said among the link's problems. */
export function pairShown(usual, link, infos) {
  if (link.beside === null || !usual.length) return usual;
  const names = offered(usual[0], infos);
  if (names.includes(link.beside)) return [usual[0], link.beside];
  link.problems.push(`beside=${link.beside} is not one of ${names.join(', ')}`);
  return usual;
}

// what the closed select's arrow takes of its width, in Chromium, Firefox and Safari alike
const ARROW_PX = 24;

/**
 * The closed select, when not in use, shows the chosen network's name alone where its whole
 * label, name and title, would be cut (a phone's column showed "avg · Average poolin"); in
 * use, and in its list, every label is whole, and the masthead names the pair. Measured in
 * the select's own font, as the width of the box it sits in changes.
 */
function fitChosen(select) {
  const measure = document.createElement('canvas').getContext('2d');
  // the room is the box the select may fill, not the select itself, which is as wide as its
  // widest label and would shrink with a shortened one (and then keep it short)
  let box = null; // found once the select is in the page
  // in the next frame: a label changed in the observer's callback resizes the select, which
  // the browser reports as an error ("ResizeObserver loop completed with undelivered
  // notifications") if it is still observed then
  const watch = new ResizeObserver(() => requestAnimationFrame(() => fit()));
  const fit = () => {
    if (!box) {
      box = select.closest('h3, .choices') ?? select.parentElement;
      if (!box) return;
      watch.unobserve(select);
      watch.observe(box);
    }
    const style = getComputedStyle(select);
    measure.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const edges = ['paddingLeft', 'paddingRight', 'borderLeftWidth', 'borderRightWidth']
      .reduce((sum, side) => sum + parseFloat(style[side]), 0);
    const room = box.clientWidth - edges - ARROW_PX;
    // in use, the select shows every label whole: the list a browser opens draws each option
    // by its label, and a screen reader says the chosen one's (a second review); not while
    // it holds the focus put back as the page opens again with the choice just made, until a
    // key or a pointer uses it (a review: on a phone it read "nopool · No downsam" then)
    const inUse = document.activeElement === select && !('putBack' in select.dataset);
    for (const option of select.options) {
      const whole = option.textContent;
      option.label = !inUse && option.selected && measure.measureText(whole).width > room ? (option.value || whole) : whole;
    }
  };
  watch.observe(select); // first laid out when the page places it
  // a pointer opens the list before the select has the focus
  select.addEventListener('pointerdown', () => {
    delete select.dataset.putBack;
    for (const option of select.options) option.label = option.textContent;
  });
  select.addEventListener('focus', fit);
  select.addEventListener('blur', () => { delete select.dataset.putBack; fit(); });
  select.addEventListener('keydown', () => {
    if (!('putBack' in select.dataset)) return;
    delete select.dataset.putBack;
    fit();
  });
}

/**
 * The select, or null where there is nothing to choose. `models`: the names shown, first
 * and second; `usual`: the second the page shows unasked ('': none); `infos`: every loaded
 * network's /api/v1/models entry; `onChoose(beside)`: open the page with `beside` (null for
 * the usual pair), resolving false where it does not.
 */
export function besideChoice({ models: [first, second], usual, infos, onChoose }) {
  const current = second ?? ''; // '': none, a server without avg shows its first network alone
  const choices = [...(usual ? [] : ['']), ...offered(first, infos)];
  if (!choices.some((n) => n !== current)) return null;
  // what the keys do, said to a screen reader (the title is for a pointer's hover; a review:
  // an arrow key, then Tab, silently put the choice back)
  const keys = el('span', { id: 'beside-keys', hidden: true, text: 'Arrow keys pick a network, Enter shows it beside the first; the page opens again with it.' });
  const select = el('select', { id: 'beside', 'aria-label': `The network shown beside ${first}`, 'aria-describedby': 'beside-keys',
    title: `Another network's maps beside ${first}'s: the page opens again with them, keeping the input and `
      + 'the settings (a drawing\'s strokes, which Undo can take back; what came before them is not kept). Choose with the mouse, or with the arrow keys and Enter.' },
  choices.map((n) => el('option', { value: n, selected: n === current }, n ? `${n} · ${infos[n].title}` : 'none')));
  // The page opens again on a pick from the list, or on Enter; an arrow key on the closed
  // select changes it at once in some browsers, which would reload the page at each step
  // past an option (a review: WCAG's "on input" failure), so that alone does not.
  let keyed = false;
  const go = () => {
    const beside = select.value;
    select.value = current; // the page as it stands, should the browser keep it for Back
    if (beside === current) return;
    // storage full or refused: the focus is not put back, the choice still made (a review)
    keep(FOCUS_KEY, 'beside');
    // false: the page stays (its drawing has no maps yet), and its focus is not put back
    Promise.resolve(onChoose(beside === usual ? null : beside)).then((went) => {
      if (went === false) forget(FOCUS_KEY);
    });
  };
  select.addEventListener('pointerdown', () => { keyed = false; });
  select.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      go();
    } else {
      // Alt+↓ or Alt+↑ opens the list, where the choice is made and Enter never reaches the
      // select (an accessibility review: the choice was shown, and dropped)
      keyed = !e.altKey && /^(Arrow|Page|Home|End)|^.$/.test(e.key) && e.key !== ' ';
    }
  });
  select.addEventListener('change', () => { if (!keyed) go(); });
  select.addEventListener('blur', () => { select.value = current; });
  fitChosen(select);
  document.querySelector('main').append(keys); // anywhere in a landmark: only referred to
  if (takeKept(FOCUS_KEY) === 'beside') {
    // where the choice was made, and in view: the page opens again at its top, and on a
    // phone the choice heads the maps screens below the pad (a review: the maps being
    // compared were three or four screens away)
    requestAnimationFrame(() => {
      select.dataset.putBack = ''; // the chosen name alone, as before the choice (fitChosen)
      select.focus({ preventScroll: true });
      const { top, bottom } = select.getBoundingClientRect();
      if (top < 0 || bottom > window.innerHeight) select.scrollIntoView({ block: 'start' });
    });
  }
  if (!second) {
    document.getElementById('beside-first').textContent = first;
    document.getElementById('beside-alone').append(select);
    document.getElementById('beside-alone').hidden = false;
  }
  return select;
}

/** The masthead's words for what is shown, where it is not the usual max beside avg. */
export function namePair(node, [one, two]) {
  const named = (m) => [el('strong', { text: m.name }), ` (${m.title.toLowerCase()})`];
  node.replaceChildren(...(two
    ? ['two trained MNIST convnets answer as you draw: ', ...named(one), ' beside ', ...named(two)]
    : ['a trained MNIST convnet answer as you draw: ', ...named(one)]));
}
