/**
 * backend.ts: `--backend native|webgpu|ref` (and TRM_BACKEND) for train, eval, solve, bench and
 * selfcheck. native stays the default on a CPU (the reference when the addon cannot load);
 * webgpu is chosen explicitly: the device is created (Dawn in Node, SwiftShader when no GPU driver
 * is there) and made the active device before the command runs. ref forces the TypeScript kernels.
 */
import { device, setDevice } from '../kernels/core.js';
import { useBackend } from '../kernels/index.js';
import { UsageError } from '../errors.js';
import type { OptionSpec } from './command.js';

export const BACKENDS = ['native', 'webgpu', 'ref'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export const backendOption = {
  backend: {
    type: 'string',
    argument: 'native|webgpu|ref',
    description: 'compute backend (default: TRM_BACKEND, else native; webgpu must be named)',
  },
} as const satisfies Record<string, OptionSpec>;

/** The backend a command asked for: the flag, else TRM_BACKEND, else native. */
export function backendChoice(flag: string | undefined): BackendChoice {
  const v = flag ?? process.env.TRM_BACKEND ?? 'native';
  if (!(BACKENDS as readonly string[]).includes(v))
    throw new UsageError(
      `${flag !== undefined ? '--backend' : 'TRM_BACKEND'}: expected one of ${BACKENDS.join(', ')}, got '${v}'`,
    );
  return v as BackendChoice;
}

/** Make the chosen backend the active device; returns a line describing it. */
export async function useBackendChoice(flag: string | undefined): Promise<string> {
  const choice = backendChoice(flag);
  if (choice === 'webgpu') {
    const { createNodeWebGpuDevice } = await import('../webgpu/node.js');
    const dev = await createNodeWebGpuDevice();
    setDevice(dev);
    return `webgpu (${dev.adapterName}${dev.isSwiftShader ? ', SwiftShader: a CPU stand-in, correctness only' : ''})`;
  }
  if (choice === 'ref' || flag === 'native' || process.env.TRM_BACKEND === 'native')
    useBackend(choice === 'ref' ? 'ref' : 'native');
  return device().name;
}
