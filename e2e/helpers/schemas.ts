// The --json report schemas in schemas/ (ajv, draft 2020-12): `expectValidReport(name, stdout)` parses a
// report a command printed and checks it against schemas/<name>-report.schema.json, schemaVersion first.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';

const schemasDir = fileURLToPath(new URL('../../schemas', import.meta.url));
const ajv = new Ajv2020({ allErrors: true, strict: false });
let compiled: Map<string, ReturnType<Ajv2020['compile']>> | undefined;

/** Every schemas/<name>-report.schema.json, compiled, by name. */
export function reportSchemas(): Map<string, ReturnType<Ajv2020['compile']>> {
  if (!compiled) {
    compiled = new Map();
    for (const f of readdirSync(schemasDir).filter((f) => f.endsWith('-report.schema.json')).sort()) {
      compiled.set(f.replace('-report.schema.json', ''), ajv.compile(JSON.parse(readFileSync(join(schemasDir, f), 'utf8'))));
    }
  }
  return compiled;
}

/** The report parsed and checked against schemas/<name>-report.schema.json (schemaVersion 1, first key). */
export function expectValidReport(name: string, stdout: string): Record<string, unknown> {
  const report = JSON.parse(stdout) as Record<string, unknown>;
  const validate = reportSchemas().get(name);
  expect(validate, `no schema schemas/${name}-report.schema.json`).toBeDefined();
  expect(validate!(report), `${name}: ${JSON.stringify(validate!.errors)}\n${stdout}`).toBe(true);
  expect(Object.keys(report)[0]).toBe('schemaVersion');
  expect(report.schemaVersion).toBe(1);
  return report;
}
