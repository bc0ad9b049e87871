#!/usr/bin/env node
// Type-checks the files of tsconfig.tests.json (sources and tests; vitest strips types without checking
// them) that lie under the given directories, so each nx project's `typecheck` target checks its own
// files with the one shared configuration. With no directory it checks them all, like
// `tsc -p tsconfig.tests.json`; with --outside, the files under none of them (the tools project checks
// `--outside packages apps e2e`, so the projects' checks together cover every file). Packages imported by name resolve to their built dist/*.d.ts, which is
// why the target depends on the dependencies' build.
//   node tools/typecheck.mjs packages/core          node tools/typecheck.mjs --outside packages apps e2e
import ts from 'typescript';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const configPath = join(root, 'tsconfig.tests.json');
const formatHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
function report(diagnostics) {
  const format = process.stderr.isTTY ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics;
  process.stderr.write(format(diagnostics, formatHost));
  process.exit(1);
}
const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => report([d]) };
const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, host);
const args = process.argv.slice(2);
const outside = args[0] === '--outside';
const scopes = (outside ? args.slice(1) : args).map((p) => resolve(root, p));
const under = (f) => scopes.some((s) => f === s || f.startsWith(s + sep));
const files = parsed.fileNames.filter((f) => scopes.length === 0 || under(resolve(f)) !== outside);

if (parsed.errors.length) report(parsed.errors);
if (files.length === 0) {
  console.error(`typecheck: no file of tsconfig.tests.json ${outside ? 'outside' : 'under'} ${scopes.map((s) => relative(root, s)).join(', ')}`);
  process.exit(1);
}
const program = ts.createProgram({ rootNames: files, options: parsed.options, projectReferences: parsed.projectReferences });
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length) report(diagnostics);
console.log(`typecheck: ${files.length} files, no errors`);
