/**
 * browser.ts: headless Chromium for the web tests: Debian's chromium (never a download) driven by
 * playwright-core. `chromiumPath()` is null when it is missing; the tests then skip with a line.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export function chromiumPath(): string | null {
  for (const p of [process.env.TRM_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'])
    if (p && existsSync(p)) return p;
  return null;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath()!,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Prints the visible skip line once per file. */
export function skipLine(what: string): void {
  console.log(`SKIP ${what}: no chromium (apt-get install -y chromium, or set TRM_CHROMIUM)`);
}
