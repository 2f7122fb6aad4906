import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Dawn on lavapipe wants both cores for itself; GPU test files serialize through one worker.
    pool: "forks",
    maxWorkers: 2,
  },
});
