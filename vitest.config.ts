import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Lavapipe compiles each new kernel on first use; a cold pipeline cache on a busy 2-core machine takes minutes.
    testTimeout: 300_000,
    hookTimeout: 60_000,
    // Dawn on lavapipe wants both cores for itself; GPU test files serialize through one worker.
    pool: "forks",
    maxWorkers: 2,
  },
});
