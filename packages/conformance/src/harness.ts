// Suites as plain data (named async checks around a setup and a teardown), so any test runner can
// run them: registerSuite() hands them to vitest / jest / mocha / node:test style functions, runSuite()
// runs them with none. Checks fail by throwing a ConformanceError (or whatever the code under test throws).
import { DsvError } from '@dsv/core/formats';

export interface SuiteCheck<C> {
  name: string;
  run(ctx: C): Promise<void>;
}

export interface Suite<C> {
  name: string;
  setup(): Promise<C>;
  teardown(ctx: C | undefined): Promise<void>;
  checks: Array<SuiteCheck<C>>;
  /** Checks the setup declared it cannot honour, with the reason (reported as skipped). */
  skipped?: Record<string, string>;
}

type Fn = () => Promise<void> | void;

/** The four functions every common runner has (node:test calls the hooks `before` / `after`). */
export interface TestApi {
  describe(name: string, body: () => void): unknown;
  it: ((name: string, fn: Fn) => unknown) & { skip?: (name: string, fn: Fn) => unknown };
  beforeAll(fn: Fn): unknown;
  afterAll(fn: Fn): unknown;
}

/** Registers the suite as one describe block with one test per check. */
export function registerSuite<C>(suite: Suite<C>, api: TestApi): void {
  api.describe(suite.name, () => {
    let ctx: C | undefined;
    api.beforeAll(async () => {
      ctx = await suite.setup();
    });
    api.afterAll(async () => {
      await suite.teardown(ctx);
    });
    for (const check of suite.checks) {
      api.it(check.name, async () => {
        if (ctx === undefined) throw new ConformanceError(`${suite.name}: setup did not complete`);
        await check.run(ctx);
      });
    }
    for (const [name, reason] of Object.entries(suite.skipped ?? {})) api.it.skip?.(`${name} (not applicable: ${reason})`, () => {});
  });
}

export interface CheckResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** The failure message, or why it was skipped. */
  message?: string;
  error?: unknown;
}

export interface SuiteReport {
  name: string;
  ok: boolean;
  results: CheckResult[];
}

/** Runs the suite without a test runner; a failed setup fails every check. */
export async function runSuite<C>(suite: Suite<C>): Promise<SuiteReport> {
  const results: CheckResult[] = [];
  let ctx: C | undefined;
  let setupError: unknown;
  try {
    ctx = await suite.setup();
  } catch (e) {
    setupError = e;
  }
  for (const check of suite.checks) {
    if (setupError !== undefined || ctx === undefined) {
      results.push({ name: check.name, status: 'failed', message: `setup failed: ${messageOf(setupError)}`, error: setupError });
      continue;
    }
    try {
      await check.run(ctx);
      results.push({ name: check.name, status: 'passed' });
    } catch (e) {
      results.push({ name: check.name, status: 'failed', message: messageOf(e), error: e });
    }
  }
  for (const [name, reason] of Object.entries(suite.skipped ?? {})) results.push({ name, status: 'skipped', message: reason });
  await suite.teardown(ctx);
  return { name: suite.name, ok: results.every((r) => r.status !== 'failed'), results };
}

/** A DsvError, also when two copies of @dsv/core are installed (instanceof would say no). */
export function isDsvErrorLike(e: unknown): e is DsvError {
  return e instanceof DsvError || (e instanceof Error && e.name === 'DsvError' && typeof (e as { code?: unknown }).code === 'string');
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A check that did not hold. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceError(message);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new ConformanceError(`${what}: expected ${b}, got ${a}`);
}

/** Awaits `work`, which must reject with a DsvError (with `code` when given); returns that error. */
export async function checkRejects(work: Promise<unknown> | (() => Promise<unknown>), what: string, code?: string | string[]): Promise<DsvError> {
  let err: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new ConformanceError(`${what}: expected a failure, it succeeded`);
  if (!isDsvErrorLike(err)) throw new ConformanceError(`${what}: expected a DsvError, got ${messageOf(err)}`);
  const codes = code === undefined ? undefined : Array.isArray(code) ? code : [code];
  if (codes && !codes.includes(err.code)) throw new ConformanceError(`${what}: expected code ${codes.join(' or ')}, got ${err.code} (${err.message})`);
  return err;
}

/** Awaits `work`, which must reject (with any error: e.g. a caller's own stream error passed through). */
export async function checkFails(work: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await work;
  } catch (e) {
    return e;
  }
  throw new ConformanceError(`${what}: expected a failure, it succeeded`);
}
