/** A few DOM helpers, so the page needs no framework. */

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** Creates an element: `h('button', { onclick: f, class: 'x' }, 'Start')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  el.append(...children);
  return el;
}

/** A labelled form row. */
export function row(label: string, control: HTMLElement, hint: string | HTMLElement = ''): HTMLElement {
  const hintEl = typeof hint === 'string' ? (hint ? h('span', { class: 'hint' }, hint) : null) : hint;
  return h('label', { class: 'row' }, h('span', { class: 'label' }, label), control, ...(hintEl ? [hintEl] : []));
}

/** A <select> of `options` (value → text). */
export function select(id: string, options: [string, string][], value: string): HTMLSelectElement {
  const s = h('select', { id });
  for (const [v, text] of options) s.append(h('option', { value: v }, text));
  s.value = value;
  return s;
}

/** A number input. */
export function numberInput(id: string, value: number, opts: { min?: number; max?: number; step?: number | 'any' } = {}): HTMLInputElement {
  return h('input', { id, type: 'number', value, min: opts.min, max: opts.max, step: opts.step ?? 'any' });
}

/** Formats a number compactly for readouts. */
export function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return '–';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4)) return x.toExponential(2);
  return x.toPrecision(digits);
}
