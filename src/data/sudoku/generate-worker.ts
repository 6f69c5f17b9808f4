/** generate-worker.ts: a worker thread that runs generator chains (generate.ts) on request. */
import { parentPort, workerData } from 'node:worker_threads';
import { runChain, type ChainOptions } from './generate.js';
import { geometry } from './grid.js';
import { Solver } from './solver.js';

const { seed, opts } = workerData as { seed: number; opts: ChainOptions };
const solver = new Solver(geometry(opts.size));
parentPort!.on('message', (chain: number) => parentPort!.postMessage(runChain(seed, chain, opts, solver)));
