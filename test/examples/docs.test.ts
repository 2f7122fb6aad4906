/**
 * The docs this area owns stay true to the code: cli.md covers every command and flag `--help`
 * lists, the tutorial shows the example model verbatim, the index lists every page, and relative
 * links resolve.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../cli/main.ts";

const OWNED = ["docs/README.md", "docs/tutorial.md", "docs/cli.md", "docs/compiler.md", "docs/adding-a-primitive.md"];

// The same commander program `ivc` runs, asked in-process for each command's help text.
const program = buildProgram();
const help = (command: string): string => program.commands.find((c) => c.name() === command)!.helpInformation();

describe("docs", () => {
  it("cli.md has a section for every command, naming each of its flags", () => {
    const cli = readFileSync("docs/cli.md", "utf8");
    const commands = program.commands.map((c) => c.name());
    expect(commands.length).toBeGreaterThan(5);
    for (const command of commands) {
      const start = cli.indexOf(`## \`ivc ${command}\``);
      expect(start, `docs/cli.md has no section for ivc ${command}`).toBeGreaterThan(-1);
      const end = cli.indexOf("\n## ", start + 1);
      const section = cli.slice(start, end === -1 ? undefined : end);
      const flags = [...help(command).matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((f) => f !== "--help");
      if (command === "train") expect(flags.length).toBeGreaterThan(15); // the parse sees every flag
      const shared = ["--preset", "--set", "--stage", "--model"];
      for (const flag of flags) {
        const documented = section.includes(`\`${flag}`) || section.includes(`${flag} `) || (shared.includes(flag) && cli.includes("## Model options"));
        expect(documented, `docs/cli.md section ivc ${command} does not mention ${flag}`).toBe(true);
      }
    }
  });

  it("the tutorial shows examples/tutorial/video_transformer.ivm exactly", () => {
    const model = readFileSync("examples/tutorial/video_transformer.ivm", "utf8");
    expect(readFileSync("docs/tutorial.md", "utf8")).toContain(`\`\`\`\n${model}\`\`\``);
  });

  it("the index lists every page in docs/", () => {
    const index = readFileSync("docs/README.md", "utf8");
    for (const page of readdirSync("docs").filter((f) => f.endsWith(".md") && f !== "README.md")) expect(index).toContain(`](${page})`);
  });

  it("relative links in these pages and the examples' READMEs resolve", () => {
    const pages = [...OWNED, ...readdirSync("examples", { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `examples/${d.name}/README.md`), "examples/README.md"];
    for (const page of pages) {
      // Code (fenced or inline) is not prose: `blocks[i](x)` is a call, not a link.
      const prose = readFileSync(page, "utf8").replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
      for (const [, target] of prose.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        expect(existsSync(resolve(dirname(page), target!)), `${page} links to missing ${target}`).toBe(true);
      }
    }
  });
});
