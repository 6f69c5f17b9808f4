import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernel tests drive a native thread pool; one fork keeps them from competing for 2 cores.
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 2 } },
    reporters: ['default'],
  },
});
