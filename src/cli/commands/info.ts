/** `trm info`: which kernels this machine runs (backend, dispatch path, threads, CPU features). */
import { defineCommand } from '../command.js';
import { addon, backendInfo } from '../../kernels/index.js';
import { backendChoice, backendOption } from '../backend.js';

export const infoCommand = defineCommand({
  name: 'info',
  summary: 'show the kernel backend, dispatch path, threads, CPU features and the WebGPU adapter',
  usage: '[--json] [--backend webgpu]',
  options: { json: { type: 'boolean', description: 'print JSON' }, ...backendOption },
  async run(args) {
    // probing the adapter loads Dawn, which writes its own driver warnings to stderr: only when asked
    const probe = backendChoice(args.values.backend) === 'webgpu';
    const { nodeAdapterInfo } = probe ? await import('../../webgpu/node.js') : { nodeAdapterInfo: null };
    const webgpu = nodeAdapterInfo
      ? await nodeAdapterInfo()
      : { adapter: null, reason: 'not probed (trm info --backend webgpu)' };
    const info = {
      ...backendInfo(),
      gemmBf16Kernel: addon?.info().gemmBf16Kernel ?? null,
      features: addon?.info().features ?? {},
      webgpu,
    };
    if (args.values.json) {
      console.log(JSON.stringify(info, null, 2));
      return;
    }
    console.log(`backend   ${info.backend}${info.reason ? ` (${info.reason})` : ''}`);
    console.log(`isa       ${info.isa}`);
    console.log(`gemm      ${info.gemmKernel}`);
    if (info.backend === 'native' && info.gemmBf16Kernel) console.log(`gemm bf16 ${info.gemmBf16Kernel}`);
    console.log(`threads   ${info.threads}`);
    const feats = Object.entries(info.features)
      .filter(([, v]) => v)
      .map(([k]) => k);
    if (feats.length) console.log(`features  ${feats.join(' ')}`);
    const g = info.webgpu;
    if (g.adapter === null) console.log(`webgpu    ${probe ? 'unavailable: ' : ''}${g.reason}`);
    else {
      console.log(
        `webgpu    ${g.adapter}${g.swiftshader ? ' (SwiftShader: Vulkan on the CPU, correctness only)' : ''}; use --backend webgpu`,
      );
      console.log(
        `          limits ${Object.entries(g.limits)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
      console.log(`          features ${g.features.join(' ') || '(none)'}`);
    }
  },
});
