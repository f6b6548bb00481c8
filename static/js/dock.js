// The drawing pad docked in a corner, in one column (a phone, a tablet held upright): there
// the pad is screens above pool2 and conv3, and a student had to scroll up to draw and down
// to watch. While the maps are on screen and the pad is not, a small copy of it takes
// strokes (pad.js `mirror`), with Undo, Clear and the answers in a line; its × folds it to a
// button that brings it back. It steps aside where it would cover the nudge buttons, which
// come after the maps in one column (a phone on its side had them under it), and only there
// (a review: gone while any of the nudge panel showed, it was gone on a phone while conv3
// was in the middle of the screen; page.css puts the buttons on the side away from it, the
// input they move under it), and over the nudge table while that holds a nudge's numbers
// (a later review: their avg column was under it, where conv3 and the numbers are seen
// together); and over the maps' own controls (the colour scale, the map size, the column
// heads with the choice of network, and the two questions' summaries; a page review: on a
// phone it lay over "per layer" and avg's choice as the maps came up). While the nudge
// buttons are in use it folds to its button, which shows the input they move. A pointer's
// convenience: the keyboard and a screen reader have the pad's own
// controls, so it is hidden from them, as the page's floating hints are.

import { UI } from './config.js';
import { boxesMeet } from './dom.js';

// what it steps aside for in the maps' panel: found at each check, as the column heads are
// built once the networks are known
const MAP_CONTROLS = '.maps-head, .choice, #legend-more > summary, #same-start:not([hidden]) > summary';

export class PadDock {
  #dock;
  #unfold;
  #pad;
  #nudge;
  #nudgeButtons; // measured at each scroll while on screen: found once
  #table;
  #oneColumn = window.matchMedia(UI.oneColumn);
  #padSeen = true;
  #mapsSeen = false;
  #maps;
  #nudgeSeen = new Set(); // which of the nudge group and its table are on screen
  #folded = false;
  #keys = false; // the keyboard has the focus, which the dock could hide
  #nudging = false; // the last press was on the nudge buttons, whose input it could hide
  #answers;
  #write = null; // what writes the answers line now (`answer`)

  /** `pad` a DrawingPad; `padCanvas` its canvas; `maps` the element the dock serves (the maps'
   * panel); `nudge` the nudge buttons' group and `table` their numbers, which it steps aside
   * for; `undo` and `clear` what its buttons do. */
  constructor(pad, padCanvas, maps, { nudge, table }, { undo, clear }) {
    this.#pad = pad;
    this.#maps = maps;
    this.#nudge = nudge;
    this.#nudgeButtons = [...nudge.querySelectorAll('button')];
    this.#table = table;
    this.#dock = document.getElementById('pad-dock');
    this.#unfold = document.getElementById('dock-unfold');
    this.undoButton = document.getElementById('dock-undo');
    this.#answers = document.getElementById('dock-pred');
    pad.mirror(document.getElementById('dock-pad'));
    const buttons = {
      'dock-undo': undo,
      'dock-clear': clear,
      'dock-fold': () => this.#fold(true),
      'dock-unfold': () => this.#fold(false),
    };
    for (const [id, action] of Object.entries(buttons)) {
      const button = document.getElementById(id);
      button.addEventListener('click', action);
      // a click would move the focus to a button that is hidden from the keyboard
      button.addEventListener('mousedown', (e) => e.preventDefault());
    }
    // the pad counts as seen while half of it is: a stroke fits there still
    new IntersectionObserver(([entry]) => {
      this.#padSeen = entry.intersectionRatio >= 0.5;
      this.#update();
    }, { threshold: [0, 0.5, 1] }).observe(padCanvas);
    // seen while 40 px of it are (a review: a phone on its side showed it again, over the
    // nudge panel's words, while the maps' panel's last 13 px were on screen)
    new IntersectionObserver(([entry]) => {
      this.#mapsSeen = entry.isIntersecting;
      this.#update();
    }, { rootMargin: '-40px 0px' }).observe(maps);
    const seen = new IntersectionObserver((entries) => {
      for (const { target, isIntersecting } of entries) {
        if (isIntersecting) this.#nudgeSeen.add(target);
        else this.#nudgeSeen.delete(target);
      }
      this.#update();
    });
    seen.observe(nudge);
    seen.observe(table);
    // the table's numbers come and go with the nudges, where the page may not scroll
    new MutationObserver(() => this.#update()).observe(table, { attributeFilter: ['data-dir'] });
    // while they or the maps are on screen, whether it would cover them changes as the page
    // scrolls
    window.addEventListener('scroll', () => {
      if (this.#nudgeSeen.size || this.#mapsSeen) this.#update();
    }, { passive: true });
    window.addEventListener('resize', () => this.#update());
    // a pointer's convenience: it steps aside while the keyboard has the focus, which it
    // could hide (a review: a map's chosen channel, focused near the window's foot, was under
    // it), and comes back with the pointer; a focus the browser shows is the keyboard's
    // (arrow keys that only scroll the page move no focus, and leave it)
    document.addEventListener('focusin', (e) => {
      if (!this.#keys && e.target.matches(':focus-visible')) this.#keyboard(true);
    });
    // a press on the nudge group folds it to its button, to show the input the buttons
    // move, which it covers; the next press elsewhere (a finger that scrolls, a tap on that
    // button) brings it back
    document.addEventListener('pointerdown', (e) => {
      const nudging = this.#nudge.contains(e.target);
      if (!this.#keys && nudging === this.#nudging) return;
      this.#keys = false;
      this.#nudging = nudging;
      this.#update();
    }, { capture: true, passive: true });
    this.#oneColumn.addEventListener('change', () => this.#update());
  }

  /** Write the answers line with `write(line)`: now where the dock is shown, else as it
   * shows (hidden, it is laid out in one column, and text changed at every update while
   * drawing would lay out a box no one sees). */
  answer(write) {
    this.#write = write;
    if (!this.#dock.hidden) write(this.#answers);
  }

  /** Whether the dock is in use: on screen, folded or not. */
  get active() {
    return this.#oneColumn.matches && !this.#padSeen && this.#mapsSeen && !this.#keys
      && !this.#overControls();
  }

  /** Whether the dock lies over a control of the maps' panel (MAP_CONTROLS), a nudge
   * button, or the nudge table while that holds a nudge's numbers (`data-dir`, nudge.js);
   * page.css keeps it laid out while hidden, to be measured here. Folded, its button shows
   * only where the dock could: measured by the button's own box, a tap on it could unfold a
   * dock that then hid with it (a review). */
  #overControls() {
    const under = this.#mapsSeen ? [...this.#maps.querySelectorAll(MAP_CONTROLS)] : [];
    if (this.#nudgeSeen.size) under.push(...this.#nudgeButtons);
    if (this.#nudgeSeen.size && this.#table.dataset.dir) under.push(this.#table);
    if (!under.length) return false;
    const b = this.#dock.getBoundingClientRect();
    return under.some((e) => boxesMeet(e.getBoundingClientRect(), b));
  }

  #keyboard(on) {
    this.#keys = on;
    this.#update();
  }

  #fold(folded) {
    this.#folded = folded;
    this.#update();
  }

  /** Show or hide the dock and its folded button as `active` says; only a change is
   * written (this runs at every scroll while the nudge buttons are on screen, and showing
   * the mirror copies the pad onto it). */
  #update() {
    const active = this.active;
    const shown = active && !this.#folded && !this.#nudging;
    const folded = active && !shown;
    if (this.#unfold.hidden === folded) this.#unfold.hidden = !folded;
    if (this.#dock.hidden !== shown) return;
    if (shown) this.#write?.(this.#answers);
    this.#dock.hidden = !shown;
    document.body.toggleAttribute('data-pad-docked', shown);
    this.#pad.showMirror(shown);
  }
}
