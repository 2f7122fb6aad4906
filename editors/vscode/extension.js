// VS Code client for the .ivm language server: starts `ivc lsp --stdio` (lsp/server.ts) and hands
// it the .ivm documents. Highlighting comes from syntaxes/ivm.tmLanguage.json and needs no server.
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

/** The configured command, else the workspace's own checkout of ivc, else the one on the npx path. */
function serverCommand() {
  const configured = vscode.workspace.getConfiguration("ivm").get("server.command") ?? [];
  if (configured.length > 0) return { command: configured[0], args: configured.slice(1) };
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const bin = join(folder.uri.fsPath, "bin", "ivc.mjs");
    if (existsSync(bin)) return { command: process.execPath, args: [bin, "lsp", "--stdio"], options: { cwd: folder.uri.fsPath } };
  }
  return { command: "npx", args: ["ivc", "lsp", "--stdio"] };
}

function activate(context) {
  // An executable without `transport` talks over stdio; `--stdio` is already in its arguments.
  const run = serverCommand();
  client = new LanguageClient("ivm", "ivm language server", { run, debug: run }, { documentSelector: [{ scheme: "file", language: "ivm" }, { scheme: "untitled", language: "ivm" }] });
  context.subscriptions.push({ dispose: () => client?.stop() });
  return client.start();
}

function deactivate() {
  return client?.stop();
}

module.exports = { activate, deactivate };
