/**
 * training.ts: the Training page. Live curves of a run directory's metrics.jsonl (loss parts,
 * exact / token accuracy, mean supervision steps, lr): the server streams every logged line as a
 * server-sent event, and each new point redraws the charts.
 */
import type { TopLevelSpec } from 'vega-lite';
import { api } from './api.js';
import { chart } from './charts.js';
import { h } from './grid.js';

export async function trainingPage(root: HTMLElement): Promise<() => void> {
  const index = await api.index();
  const sel = h('select', { id: 'run' });
  for (const r of index.runs) sel.append(h('option', { value: r.id }, r.id));
  const status = h('p', { id: 'train-status', 'aria-live': 'polite' });
  const charts = [h('div', { class: 'chart' }), h('div', { class: 'chart' }), h('div', { class: 'chart' }), h('div', { class: 'chart' })];
  root.replaceChildren(h('section', { class: 'panel' }, h('h2', {}, 'Training'),
    index.mode === 'static' ? h('p', {}, 'This is a static export: no runs to watch.') : h('div', { class: 'field' }, h('label', { for: 'run' }, 'Run directory'), sel),
    status, h('div', { class: 'charts' }, ...charts)));
  let es: EventSource | null = null;
  const points: Record<string, unknown>[] = [];
  let pending = false;
  const redraw = async () => {
    if (pending) return;
    pending = true;
    await new Promise(r => setTimeout(r, 100));
    pending = false;
    const train = points.filter(p => p.type === 'train'), evals = points.filter(p => p.type === 'eval');
    status.textContent = `${train.length} training points, ${evals.length} evaluations; last step ${train.length ? (train[train.length - 1].step as number) : '-'}`;
    status.dataset.points = String(points.length);
    const line = (title: string, values: Record<string, unknown>[], fields: string[], log = false): TopLevelSpec => ({
      width: 300, height: 170, title, data: { values }, transform: [{ fold: fields, as: ['metric', 'value'] }, { filter: 'isValid(datum.value)' }],
      mark: { type: 'line', point: values.length < 40 }, encoding: {
        x: { field: 'step', type: 'quantitative' }, y: { field: 'value', type: 'quantitative', scale: log ? { type: 'log' } : {} },
        color: { field: 'metric', type: 'nominal' }, tooltip: [{ field: 'step' }, { field: 'metric' }, { field: 'value', format: '.4g' }] },
    });
    await Promise.all([
      chart(charts[0], line('loss', train, ['lm_loss', 'q_halt_loss'], true)),
      chart(charts[1], line('accuracy (train and eval)', [...train, ...evals.map(e => ({ ...e, eval_exact: e.exact_acc, eval_token: e.token_acc }))], ['exact_acc', 'token_acc', 'eval_exact', 'eval_token'])),
      chart(charts[2], line('mean supervision steps', train, ['mean_steps'])),
      chart(charts[3], line('learning rate', train, ['lr'])),
    ]);
  };
  const open = () => {
    es?.close();
    points.length = 0;
    if (!sel.value) { status.textContent = 'No run directories (metrics.jsonl) under --runs.'; return; }
    es = new EventSource(api.metricsUrl(sel.value));
    es.addEventListener('metric', ev => {
      try { points.push(JSON.parse((ev as MessageEvent).data as string) as Record<string, unknown>); } catch { return; }
      void redraw();
    });
  };
  sel.addEventListener('change', open);
  if (index.mode !== 'static') open();
  return () => es?.close();
}
