/**
 * compare.ts: the Compare page. A sweep's results table (mean +- std over seeds per variant, as
 * `trm sweep` writes it) and `trm report`'s figures (learning curves, N_sup x k per variant, AAS)
 * drawn live with hover tooltips; the variant checkboxes filter the table and every figure.
 */
import type { TopLevelSpec } from 'vega-lite';
import { chart } from './charts.js';
import { h } from './grid.js';

interface Stat {
  mean: number | null;
  std: number | null;
  n: number;
}
interface Results {
  metrics: string[];
  variants: { variant: string; n: number; metrics: Record<string, Stat> }[];
}
interface Figure {
  name: string;
  title: string;
  spec: TopLevelSpec & { data?: { values?: Record<string, unknown>[] } };
}
interface Compare {
  id: string;
  results: Results;
  figures: Figure[];
  runs: { name: string; variant: string }[];
}

const fmt = (s: Stat | undefined) =>
  !s || s.mean === null
    ? '-'
    : `${s.mean.toPrecision(3)}${s.std !== null ? ` ± ${s.std.toPrecision(2)}` : ''}${s.n > 1 ? ` (n ${s.n})` : ''}`;

export async function comparePage(root: HTMLElement): Promise<void> {
  const index = (await (await fetch('api/index.json')).json()) as {
    mode: string;
    sweeps?: { id: string; results: boolean }[];
  };
  const sweeps = index.sweeps ?? [];
  const sel = h('select', { id: 'sweep' });
  for (const s of sweeps)
    sel.append(
      h('option', { value: s.id }, s.id === '' ? 'all runs under --runs' : `${s.id}${s.results ? ' (sweep)' : ''}`),
    );
  const filters = h('fieldset', { id: 'variants', class: 'filters' });
  const table = h('div', { id: 'results', class: 'table' });
  const figs = h('div', { class: 'charts', id: 'figures' });
  const status = h('p', { id: 'compare-status', 'aria-live': 'polite' });
  root.replaceChildren(
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Compare'),
      sweeps.length
        ? h('div', { class: 'field' }, h('label', { for: 'sweep' }, 'Sweep or runs directory'), sel)
        : h('p', {}, 'No runs: start trm serve with --runs DIR.'),
      status,
      filters,
      table,
      figs,
    ),
  );
  if (!sweeps.length) return;
  let data: Compare | null = null;

  const draw = async () => {
    if (!data) return;
    const on = new Set([...filters.querySelectorAll('input:checked')].map(i => (i as HTMLInputElement).value));
    const metrics = data.results.metrics;
    const rows = data.results.variants.filter(v => on.has(v.variant));
    table.replaceChildren(
      h(
        'table',
        {},
        h(
          'caption',
          {},
          'Mean ± sample std over seeds; AGG@kK: exact accuracy with aggregator AGG and k chains at the largest N_sup',
        ),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'variant'),
            h('th', { scope: 'col' }, 'runs'),
            ...metrics.map(m => h('th', { scope: 'col' }, m)),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows.map(v =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, v.variant),
              h('td', {}, String(v.n)),
              ...metrics.map(m => h('td', {}, fmt(v.metrics[m]))),
            ),
          ),
        ),
      ),
    );
    const shown = data.figures.filter(
      f => !f.name.startsWith('scaling-') || [...on].some(v => f.title === `Test-time scaling: ${v}`),
    );
    figs.replaceChildren();
    for (const f of shown) {
      const el = h('figure', { class: 'chart', 'data-figure': f.name });
      figs.append(el);
      const spec = structuredClone(f.spec) as unknown as Record<string, unknown> & {
        data?: { values?: Record<string, unknown>[] };
        config?: Record<string, unknown>;
      };
      if (spec.data?.values && spec.data.values.some(r => 'series' in r))
        spec.data.values = spec.data.values.filter(r => on.has(String(r.series)));
      spec.config = { ...(spec.config ?? {}), mark: { tooltip: { content: 'data' } } };
      await chart(el, spec as unknown as TopLevelSpec);
    }
    status.textContent = `${rows.length} of ${data.results.variants.length} variants, ${data.runs.length} runs, ${shown.length} figures`;
    status.dataset.figures = String(shown.length);
  };

  const load = async () => {
    status.textContent = 'loading...';
    const r = await fetch(`api/compare.json?dir=${encodeURIComponent(sel.value)}`);
    if (!r.ok) {
      status.textContent = ((await r.json()) as { error: string }).error;
      return;
    }
    data = (await r.json()) as Compare;
    filters.replaceChildren(
      h('legend', {}, 'Variants shown'),
      ...data.results.variants.map((v, i) => {
        const id = `variant-${i}`,
          box = h('input', { type: 'checkbox', id, value: v.variant, checked: '' });
        box.addEventListener('change', () => {
          void draw();
        });
        return h('span', { class: 'check' }, box, h('label', { for: id }, v.variant));
      }),
    );
    await draw();
  };
  sel.addEventListener('change', () => {
    void load();
  });
  await load();
}
