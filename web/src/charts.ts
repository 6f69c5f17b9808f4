/** charts.ts: Vega-Lite specs compiled and rendered to SVG in the page (the same grammar `trm report` uses in Node). */
import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';

const views = new WeakMap<HTMLElement, View>();

export async function chart(el: HTMLElement, spec: TopLevelSpec): Promise<void> {
  views.get(el)?.finalize();
  const view = new View(parse(compile(spec).spec), { renderer: 'svg', container: el, hover: true });
  views.set(el, view);
  await view.runAsync();
}
