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

const BASE = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** WebGPU on SwiftShader (Vulkan on the CPU, shipped with Debian's chromium), as test/webgpu does. */
export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader',
];

/** Headless Chromium: GPU off (the page then runs the portable kernels), or WebGPU on SwiftShader. */
export async function launch(webgpu = false): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath()!,
    args: [...BASE, ...(webgpu ? WEBGPU_FLAGS : ['--disable-gpu'])],
  });
}

/** Prints the visible skip line once per file. */
export function skipLine(what: string): void {
  console.log(`SKIP ${what}: no chromium (apt-get install -y chromium, or set TRM_CHROMIUM)`);
}
