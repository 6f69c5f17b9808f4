/** `trm info`: which kernels this machine runs (backend, dispatch path, threads, CPU features). */
import { defineCommand } from '../command.js';
import { addon, backendInfo } from '../../kernels/index.js';

export const infoCommand = defineCommand({
  name: 'info',
  summary: 'show the kernel backend, dispatch path, threads and CPU features',
  usage: '[--json]',
  options: { json: { type: 'boolean', description: 'print JSON' } },
  async run(args) {
    const info = { ...backendInfo(), features: addon?.info().features ?? {} };
    if (args.values.json) {
      console.log(JSON.stringify(info, null, 2));
      return;
    }
    console.log(`backend   ${info.backend}${info.reason ? ` (${info.reason})` : ''}`);
    console.log(`isa       ${info.isa}`);
    console.log(`gemm      ${info.gemmKernel}`);
    console.log(`threads   ${info.threads}`);
    const feats = Object.entries(info.features).filter(([, v]) => v).map(([k]) => k);
    if (feats.length) console.log(`features  ${feats.join(' ')}`);
  },
});
