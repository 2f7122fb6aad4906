import { describe } from "vitest";
import { CpuEngine } from "../../runtime/train/cpu-engine.ts";
import { engineContract } from "./engine-contract.ts";

describe("the CPU engine", () => {
  engineContract("cpu", (setup) => new CpuEngine(setup), { create: (setup) => new CpuEngine(setup), tolerance: 0 });
});
