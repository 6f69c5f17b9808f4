/**
 * grid.ts: Sudoku grids in the page. `editor` is the puzzle entry: one labelled input per cell,
 * digits typed, arrow keys move, Backspace / Delete / 0 / . clear. `board` draws an answer with
 * givens, changed cells and per-cell confidence.
 */
import { geometry, type Geometry } from '../../src/data/sudoku/grid.js';

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...kids: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function boxClasses(geo: Geometry, i: number): string {
  const r = Math.floor(i / geo.n),
    c = i % geo.n,
    cls = ['cell'];
  if (c % geo.boxCols === geo.boxCols - 1 && c !== geo.n - 1) cls.push('box-right');
  if (r % geo.boxRows === geo.boxRows - 1 && r !== geo.n - 1) cls.push('box-bottom');
  return cls.join(' ');
}

export interface Editor {
  el: HTMLElement;
  n: number;
  get(): string;
  set(text: string): void;
  onChange?: () => void;
}

export function editor(n: number): Editor {
  const geo = geometry(n),
    inputs: HTMLInputElement[] = [];
  const el = h('div', {
    class: `grid editor n${n}`,
    role: 'group',
    'aria-label': `${n} by ${n} puzzle entry: type digits 1 to ${n} (0, . or space for a blank), arrow keys move, Backspace or Delete clears`,
  });
  el.style.gridTemplateColumns = `repeat(${n}, 1fr)`;
  const ed: Editor = {
    el,
    n,
    get: () => inputs.map(i => (i.value === '' ? '.' : i.value)).join(''),
    set: (text: string) => {
      for (let i = 0; i < inputs.length; i++) {
        const ch = text[i] ?? '.';
        inputs[i].value = ch >= '1' && ch <= String(n) ? ch : '';
      }
    },
  };
  for (let i = 0; i < n * n; i++) {
    const r = Math.floor(i / n),
      c = i % n;
    const inp = h('input', {
      class: boxClasses(geo, i),
      inputmode: 'numeric',
      maxlength: '1',
      autocomplete: 'off',
      'aria-label': `row ${r + 1}, column ${c + 1}`,
      'data-cell': String(i),
    });
    inp.addEventListener('keydown', ev => {
      const move = (j: number) => {
        if (j >= 0 && j < n * n) {
          inputs[j].focus();
          inputs[j].select();
        }
      };
      const k = ev.key;
      if (k === 'ArrowRight') move(i + 1);
      else if (k === 'ArrowLeft') move(i - 1);
      else if (k === 'ArrowDown') move(i + n);
      else if (k === 'ArrowUp') move(i - n);
      else if (k === 'Backspace' || k === 'Delete') {
        inp.value = '';
        ed.onChange?.();
        if (k === 'Backspace') move(i - 1);
      } else if (k === '0' || k === '.' || k === ' ') {
        inp.value = '';
        ed.onChange?.();
        move(i + 1);
      } else if (k >= '1' && k <= String(n) && k.length === 1) {
        inp.value = k;
        ed.onChange?.();
        move(i + 1);
      } else if (k === 'Tab' || k === 'Enter' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      ev.preventDefault();
    });
    inp.addEventListener('input', () => {
      if (!(inp.value >= '1' && inp.value <= String(n))) inp.value = '';
      ed.onChange?.();
    });
    inputs.push(inp);
    el.append(inp);
  }
  return ed;
}

export interface BoardView {
  grid: Uint8Array;
  puzzle: Uint8Array;
  changed?: number[];
  conf?: Float32Array;
  solution?: Uint8Array | null;
  caption: string;
  small?: boolean;
}

export function board(v: BoardView): HTMLElement {
  const n = Math.round(Math.sqrt(v.grid.length)),
    geo = geometry(n),
    changed = new Set(v.changed ?? []);
  const answer = Array.from(v.grid, x => (x === 0 ? '.' : String(x))).join('');
  const el = h('figure', { class: `board${v.small ? ' small' : ''}`, 'data-answer': answer });
  const g = h('div', { class: `grid n${n}`, role: 'img', 'aria-label': `${v.caption}: ${answer}` });
  g.style.gridTemplateColumns = `repeat(${n}, 1fr)`;
  for (let i = 0; i < v.grid.length; i++) {
    const given = v.puzzle[i] !== 0,
      cls = [boxClasses(geo, i)];
    if (given) cls.push('given');
    if (changed.has(i)) cls.push('changed');
    if (
      (given && v.grid[i] !== v.puzzle[i]) ||
      (v.solution && !given && v.solution[i] !== 0 && v.grid[i] !== v.solution[i])
    )
      cls.push('wrong');
    const d = h('div', { class: cls.join(' '), 'data-cell': String(i) }, v.grid[i] === 0 ? '' : String(v.grid[i]));
    if (v.conf && !given) {
      d.style.setProperty('--conf', v.conf[i].toFixed(3));
      d.title = `confidence ${(100 * v.conf[i]).toFixed(1)}%${changed.has(i) ? ' (changed this step)' : ''}`;
    }
    g.append(d);
  }
  el.append(g, h('figcaption', {}, v.caption));
  return el;
}
