#!/usr/bin/env node
// Type-checks the files of tsconfig.tests.json (sources and tests; vitest strips types without checking
// them) that lie under the given directories, so each nx project's `typecheck` target checks its own
// files with the one shared configuration. With no directory it checks them all, like
// `tsc -p tsconfig.tests.json`. Packages imported by name resolve to their built dist/*.d.ts, which is
// why the target depends on the dependencies' build.
//   node tools/typecheck.mjs packages/core          node tools/typecheck.mjs tools vitest.config.ts
import ts from 'typescript';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const configPath = join(root, 'tsconfig.tests.json');
const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => report([d]) };
const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, host);
const scopes = process.argv.slice(2).map((p) => resolve(root, p));
const inScope = (f) => scopes.length === 0 || scopes.some((s) => f === s || f.startsWith(s + sep));
const files = parsed.fileNames.filter((f) => inScope(resolve(f)));

const formatHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
function report(diagnostics) {
  const format = process.stderr.isTTY ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics;
  process.stderr.write(format(diagnostics, formatHost));
  process.exit(1);
}

if (parsed.errors.length) report(parsed.errors);
if (files.length === 0) {
  console.error(`typecheck: no file of tsconfig.tests.json under ${process.argv.slice(2).join(', ')}`);
  process.exit(1);
}
const program = ts.createProgram({ rootNames: files, options: parsed.options, projectReferences: parsed.projectReferences });
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length) report(diagnostics);
console.log(`typecheck: ${files.length} files, no errors`);
