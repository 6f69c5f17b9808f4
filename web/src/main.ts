/** main.ts: the app shell: one page per hash route (#solve, #training, #compare). */
import { solvePage } from './solve.js';
import { trainingPage } from './training.js';
import { comparePage } from './compare.js';

const pages: Record<string, (root: HTMLElement) => Promise<void | (() => void)>> = {
  solve: solvePage,
  training: trainingPage,
  compare: comparePage,
};
let cleanup: (() => void) | void;

async function route(): Promise<void> {
  const name = location.hash.replace(/^#\/?/, '').split('?')[0] || 'solve';
  const page = pages[name] ?? solvePage;
  const root = document.getElementById('app')!;
  cleanup?.();
  for (const a of document.querySelectorAll('nav a'))
    a.toggleAttribute('aria-current', a.getAttribute('href') === `#${name}`);
  try {
    cleanup = await page(root);
  } catch (e) {
    root.replaceChildren(
      Object.assign(document.createElement('p'), {
        className: 'error',
        role: 'alert',
        textContent: (e as Error).message,
      }),
    );
  }
  document.body.dataset.ready = name;
}
window.addEventListener('hashchange', () => {
  void route();
});
void route();
