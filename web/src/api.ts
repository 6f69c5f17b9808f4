/** api.ts: the page's requests, relative to the page, so `trm serve` and an exported static site answer them alike. */
import type { TrmConfig } from '../../src/model/config.js';

export interface CheckpointEntry {
  id: string;
  run: string | null;
  step: number | null;
  kind: string;
  label?: string;
}
export interface SplitEntry {
  id: string;
  seq_len: number;
  vocab_size: number;
  size: number | null;
  sets: string[];
}
export interface Index {
  mode: 'server' | 'static';
  checkpoints: CheckpointEntry[];
  runs: { id: string }[];
  splits: SplitEntry[];
  datasets?: string[];
  examples?: string[];
}
export interface PuzzlePage {
  id: string;
  total: number;
  offset: number;
  puzzles: { index: number; puzzle: string; solution: string }[];
}

const path = (id: string) => id.split('/').map(encodeURIComponent).join('/');

async function get(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      msg = ((await r.json()) as { error: string }).error ?? msg;
    } catch {
      /* not JSON */
    }
    throw new Error(`${url}: ${msg}`);
  }
  return r;
}

export const api = {
  index: async (): Promise<Index> => (await get('api/index.json')).json() as Promise<Index>,
  config: async (id: string): Promise<{ id: string; step: number | null; config: TrmConfig }> =>
    (await get(`api/checkpoint/${path(id)}/config.json`)).json() as never,
  weights: async (id: string): Promise<Uint8Array> =>
    new Uint8Array(await (await get(`api/checkpoint/${path(id)}/model.safetensors`)).arrayBuffer()),
  puzzles: async (id: string, offset = 0, limit = 50): Promise<PuzzlePage> =>
    (await get(`api/data/${path(id)}/puzzles.json?offset=${offset}&limit=${limit}`)).json() as never,
  metricsUrl: (id: string) => `api/run/${path(id)}/metrics.sse`,
};
