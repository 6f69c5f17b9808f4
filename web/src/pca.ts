/**
 * pca.ts: a 2-D PCA of a few hundred high-dimensional points (latents per step and chain) through
 * the Gram matrix: center, G = X X^T (n x n), top two eigenvectors by power iteration with
 * deflation; coordinates = eigenvector * sqrt(eigenvalue). Deterministic (fixed start vector).
 */
export function pca2(points: Float32Array[]): { x: number; y: number }[] {
  const n = points.length;
  if (n === 0) return [];
  const d = points[0].length,
    mean = new Float64Array(d);
  for (const p of points) for (let j = 0; j < d; j++) mean[j] += p[j] / n;
  const G = new Float64Array(n * n);
  for (let a = 0; a < n; a++)
    for (let b = a; b < n; b++) {
      let s = 0;
      const pa = points[a],
        pb = points[b];
      for (let j = 0; j < d; j++) s += (pa[j] - mean[j]) * (pb[j] - mean[j]);
      G[a * n + b] = G[b * n + a] = s;
    }
  const coords: number[][] = [];
  for (let comp = 0; comp < 2; comp++) {
    let v = new Float64Array(n).map((_, i) => 1 + ((i * 7919) % 13) / 13),
      lambda = 0;
    for (let it = 0; it < 200; it++) {
      const w = new Float64Array(n);
      for (let a = 0; a < n; a++) {
        let s = 0;
        for (let b = 0; b < n; b++) s += G[a * n + b] * v[b];
        w[a] = s;
      }
      const norm = Math.hypot(...w);
      if (norm === 0) {
        lambda = 0;
        break;
      }
      lambda = norm;
      v = w.map(x => x / norm);
    }
    coords.push(Array.from(v, x => x * Math.sqrt(Math.max(lambda, 0))));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) G[a * n + b] -= lambda * v[a] * v[b];
  }
  return Array.from({ length: n }, (_, i) => ({ x: coords[0][i], y: coords[1][i] }));
}
