/**
 * The .ivm language server (vscode-languageserver over stdio; `ivc lsp`).
 *
 *   diagnostics     parse + resolve + elaborate the unsaved buffer (debounced), every open file
 *                   re-checked when one changes, since it may import the changed one
 *   hover           inferred tensor type with named dims, a config field's value, a module's signature
 *   definition      modules, configs, presets, stages, imported names (across files, stdlib included),
 *                   local names, config fields behind `cfg.x`
 *   completion      locals, names in scope, builtins, stdlib declarations, keywords, fields after `cfg.`
 *   formatting      `ivc fmt` on the buffer (refused while it has syntax errors)
 */
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  CompletionItemKind,
  createConnection,
  type Connection,
  type Diagnostic as LspDiagnostic,
  DiagnosticSeverity,
  type InitializeResult,
  MarkupKind,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { Diagnostic } from "../diagnostics/index.ts";
import type { Span } from "../diagnostics/span.ts";
import { FormatRefused, formatIvm } from "../tools/prettier-plugin-ivm/format.ts";
import { Workspace } from "./analysis.ts";
import { type Completion, completion, definition, hover } from "./features.ts";

/** Long enough to skip a check per keystroke, short enough to feel live. */
export const DEBOUNCE_MS = 250;

const COMPLETION_KINDS: Record<Completion["kind"], CompletionItemKind> = {
  field: CompletionItemKind.Field,
  module: CompletionItemKind.Class,
  config: CompletionItemKind.Struct,
  preset: CompletionItemKind.Constant,
  stage: CompletionItemKind.Event,
  function: CompletionItemKind.Function,
  variable: CompletionItemKind.Variable,
  keyword: CompletionItemKind.Keyword,
  annotation: CompletionItemKind.Property,
};

function toPath(uri: string): string {
  return uri.startsWith("file:") ? fileURLToPath(uri) : uri;
}

function toUri(path: string): string {
  return pathToFileURL(resolve(path)).href;
}

/** Spans are 1-based lines and columns in UTF-16 units; LSP positions are 0-based. */
function range(s: Span) {
  return { start: { line: s.line - 1, character: s.col - 1 }, end: { line: s.endLine - 1, character: s.endCol - 1 } };
}

function toLsp(d: Diagnostic): LspDiagnostic {
  const severity = d.severity === "error" ? DiagnosticSeverity.Error : d.severity === "warning" ? DiagnosticSeverity.Warning : DiagnosticSeverity.Information;
  const extra = [d.help ? `help: ${d.help}` : "", ...(d.notes ?? []).map((n) => `note: ${n.message}`)].filter(Boolean);
  return {
    range: d.span ? range(d.span) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    severity,
    code: d.code,
    source: "ivc",
    message: [d.message, ...extra].join("\n"),
  };
}

/** Starts the server on `connection`, by default stdin/stdout (editors start `ivc lsp --stdio`). */
export function startServer(connection: Connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout)): Connection {
  const documents = new TextDocuments(TextDocument);
  const workspace = new Workspace();
  let timer: NodeJS.Timeout | undefined;

  const publishAll = () => {
    timer = undefined;
    for (const doc of documents.all()) {
      const path = toPath(doc.uri);
      let diagnostics: LspDiagnostic[];
      try {
        diagnostics = workspace.analyze(path).diagnostics.map(toLsp);
      } catch (e) {
        // A compiler bug must not take the server down with it; show it where the user looks.
        diagnostics = [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: DiagnosticSeverity.Error, source: "ivc", message: `internal error: ${(e as Error).message}` }];
      }
      void connection.sendDiagnostics({ uri: doc.uri, diagnostics });
    }
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(publishAll, DEBOUNCE_MS);
  };

  connection.onInitialize(
    (): InitializeResult => ({
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        definitionProvider: true,
        completionProvider: { triggerCharacters: [".", "@"] },
        documentFormattingProvider: true,
      },
      serverInfo: { name: "ivc", version: "0.1.0" },
    }),
  );

  documents.onDidChangeContent((e) => {
    workspace.setText(toPath(e.document.uri), e.document.getText());
    schedule();
  });
  documents.onDidClose((e) => {
    workspace.close(toPath(e.document.uri));
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    schedule();
  });

  const at = (uri: string, position: { line: number; character: number }) => {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const path = toPath(uri);
    return { doc, path, analysis: workspace.analyze(path), offset: doc.offsetAt(position) };
  };

  connection.onHover((p) => {
    const here = at(p.textDocument.uri, p.position);
    if (!here) return null;
    const h = hover(here.analysis, here.offset, workspace.buildsCovering(here.path).filter((b) => !here.analysis.builds.includes(b)));
    return h ? { contents: { kind: MarkupKind.Markdown, value: h.markdown }, range: range(h.span) } : null;
  });

  connection.onDefinition((p) => {
    const here = at(p.textDocument.uri, p.position);
    if (!here) return null;
    const loc = definition(here.analysis, here.offset, workspace.stdlibDir);
    if (!loc) return null;
    const r = loc.span ? range(loc.span) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    return { uri: toUri(loc.file), range: r };
  });

  connection.onCompletion((p) => {
    const here = at(p.textDocument.uri, p.position);
    if (!here) return [];
    return completion(here.analysis, here.offset, workspace.stdlibDir).map((c) => ({
      label: c.label,
      kind: COMPLETION_KINDS[c.kind],
      ...(c.detail ? { detail: c.detail } : {}),
    }));
  });

  connection.onDocumentFormatting(async (p) => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc) return [];
    const text = doc.getText();
    try {
      const formatted = await formatIvm(text, toPath(doc.uri), { resolveConfig: true });
      if (formatted === text) return [];
      return [{ range: { start: doc.positionAt(0), end: doc.positionAt(text.length) }, newText: formatted }];
    } catch (e) {
      if (e instanceof FormatRefused) return [];
      throw e;
    }
  });

  documents.listen(connection);
  connection.listen();
  return connection;
}
