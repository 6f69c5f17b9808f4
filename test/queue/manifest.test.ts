/**
 * The Kubernetes example (examples/k8s/workers.yaml) and the Dockerfile stay in step with the CLI:
 * the manifest parses, the workers' args are flags `trm worker` has, with a queue URL that
 * parseQueueUrl accepts and the Redis Service's name and port; the image runs as a non-root user.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { workerCommand } from '../../src/cli/commands/worker.js';
import { packageRoot } from '../../src/kernels/native.js';
import { parseQueueUrl } from '../../src/queue/connection.js';

describe('deployment recipes', () => {
  it('examples/k8s/workers.yaml: a Redis service, a shared RWX volume and workers with valid trm worker flags', () => {
    const docs = parseAllDocuments(readFileSync(join(packageRoot, 'examples', 'k8s', 'workers.yaml'), 'utf8'))
      .map(d => d.toJSON())
      .filter(Boolean);
    const kinds = docs.map(d => `${d.kind}/${d.metadata.name}`);
    expect(kinds).toEqual([
      'PersistentVolumeClaim/trm-shared',
      'Deployment/trm-redis',
      'Service/trm-redis',
      'Deployment/trm-worker',
    ]);
    expect(docs[0].spec.accessModes).toEqual(['ReadWriteMany']);
    const pod = docs[3].spec.template.spec,
      c = pod.containers[0];
    expect(c.args[0]).toBe('worker');
    const flags = c.args
      .slice(1)
      .filter((a: string) => a.startsWith('--'))
      .map((a: string) => a.slice(2));
    for (const f of flags) expect(Object.keys(workerCommand.options)).toContain(f);
    const q = parseQueueUrl(c.args[c.args.indexOf('--queue') + 1]);
    expect([q.host, q.port]).toEqual([docs[2].metadata.name, docs[2].spec.ports[0].port]);
    expect(c.volumeMounts[0].mountPath).toBe(c.args[c.args.indexOf('--runs') + 1]);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it('Dockerfile: a build stage with the compiler, a slim runtime stage running trm as the user node', () => {
    const df = readFileSync(join(packageRoot, 'Dockerfile'), 'utf8');
    expect(df.match(/^FROM .*/gm)).toEqual(['FROM node:20-bookworm AS build', 'FROM node:20-bookworm-slim AS runtime']);
    expect(df).toMatch(/^USER node$/m);
    expect(df).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\/main\.js"\]$/m);
    const ignore = readFileSync(join(packageRoot, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'build', 'dist', 'prebuilds', '.git']) expect(ignore).toContain(p);
  });
});
