/**
 * The language-neutral signer route: an executable `dsv-signer-<name>` on PATH that answers ONE JSON
 * request per invocation on stdin with ONE JSON reply on stdout. The protocol is documented in
 * packages/core/PLUGINS.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { DsvError, ErrorCodes, type ErrorCode } from '@dsv/core/formats';
import type {
  KeyInfo,
  Signer,
  SignerOptions,
  SignerPlugin,
  VerificationResult,
  Verifier,
  VerifierOptions,
} from '@dsv/core/formats';

export const EXEC_PLUGIN_PROTOCOL_VERSION = 1;
/** Largest reply (stdout) accepted from a plugin executable. */
export const EXEC_PLUGIN_MAX_OUTPUT = 1024 * 1024;
const MAX_STDERR = 64 * 1024;
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
const STATUSES = new Set(['valid', 'invalid', 'unknown-key']);

export interface ExecutableSignerPluginOptions {
  /** Directories to search (PATH syntax); default env.PATH. */
  path?: string;
  /** Environment for lookup and for the child process (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Use this executable file instead of searching for `dsv-signer-<name>`. */
  executable?: string;
  /** Per-request time limit for sign / verify / describe-key (default 60 s; describe: 15 s). */
  timeoutMs?: number;
}

type Json = Record<string, unknown>;

/** Finds `dsv-signer-<name>` on the search path; undefined when absent. */
export function findSignerExecutable(name: string, searchPath: string | undefined): string | undefined {
  const file = `dsv-signer-${name}`;
  for (const dir of (searchPath ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // relative PATH entries would depend on the cwd
    const p = join(dir, file);
    try {
      if (!statSync(p).isFile()) continue;
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * A SignerPlugin backed by an executable. The executable is located and asked to `describe` itself
 * synchronously here, so a missing or broken plugin fails at load time (PluginError).
 */
export function executableSignerPlugin(name: string, opts: ExecutableSignerPluginOptions = {}): SignerPlugin {
  if (!NAME_RE.test(name)) {
    throw new DsvError('PluginError', `invalid executable signer plugin name "${name}"`, { plugin: name });
  }
  const env = opts.env ?? process.env;
  const exe = opts.executable ?? findSignerExecutable(name, opts.path ?? env.PATH);
  if (!exe) {
    throw new DsvError('PluginError', `signer plugin executable dsv-signer-${name} was not found on PATH or in ~/.dsv/plugins`, {
      plugin: name,
    });
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const label = exe;

  const describe = describeSync(exe, env, Math.min(timeoutMs, 15_000));
  if (describe.type !== name) {
    throw new DsvError('PluginError', `signer plugin ${label} describes itself as type "${String(describe.type)}", expected "${name}"`, {
      plugin: label,
    });
  }
  const armors = (Array.isArray(describe.armor) ? describe.armor : [describe.armor]) as unknown[];
  if (!armors.length || armors.some((a) => typeof a !== 'string' || a.trim().length < 5)) {
    throw new DsvError('PluginError', `signer plugin ${label} gave no usable "armor" in its describe reply`, {
      plugin: label,
    });
  }
  const prefixes = (armors as string[]).map((a) => a.trim());
  const recognizes = (signature: string): boolean =>
    typeof signature === 'string' && prefixes.some((p) => signature.trimStart().startsWith(p));

  const call = (request: Json, secret?: string) => callExecutable(exe, env, request, timeoutMs, secret);

  const plugin: SignerPlugin = {
    type: name,
    recognizes,
    async createSigner(options: SignerOptions): Promise<Signer> {
      if (typeof options?.key !== 'string' || !options.key) {
        throw new DsvError('Usage', `signer plugin "${name}" needs a key`, { type: name });
      }
      const base: Json = { version: EXEC_PLUGIN_PROTOCOL_VERSION, key: options.key };
      if (options.settings) base.settings = options.settings;
      const info = toKeyInfo(await call({ ...base, op: 'describe-key' }), name, label);
      return {
        type: name,
        describeKey: async () => ({ ...info }),
        async sign(data: Uint8Array): Promise<string> {
          const req: Json = { ...base, op: 'sign', data: Buffer.from(data).toString('base64') };
          if (options.passphrase !== undefined) req.passphrase = options.passphrase;
          const reply = await call(req, options.passphrase);
          if (typeof reply.signature !== 'string' || !reply.signature) {
            throw new DsvError('PluginError', `signer plugin ${label} returned no "signature"`, { plugin: label });
          }
          if (!recognizes(reply.signature)) {
            throw new DsvError('PluginError', `signer plugin ${label} returned a signature it does not recognise itself`, {
              plugin: label,
            });
          }
          return reply.signature;
        },
      };
    },
    async createVerifier(options: VerifierOptions): Promise<Verifier> {
      const trust = options?.trust ?? [];
      const settings = options?.settings;
      return {
        type: name,
        recognizes,
        async verify(data: Uint8Array, signature: string): Promise<VerificationResult> {
          const req: Json = {
            version: EXEC_PLUGIN_PROTOCOL_VERSION,
            op: 'verify',
            data: Buffer.from(data).toString('base64'),
            signature,
            trust,
          };
          if (settings) req.settings = settings;
          return toVerificationResult(await call(req), name, label);
        },
      };
    },
  };
  // The version a plugin states in its describe reply (shown by `dsv plugins list`).
  if (typeof describe.version === 'string' && describe.version) Object.assign(plugin, { version: describe.version.slice(0, 64) });
  return plugin;
}

function describeSync(exe: string, env: NodeJS.ProcessEnv, timeoutMs: number): Json {
  const r = spawnSync(exe, [], {
    input: JSON.stringify({ version: EXEC_PLUGIN_PROTOCOL_VERSION, op: 'describe' }),
    env,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: EXEC_PLUGIN_MAX_OUTPUT,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  // A plugin that exits without reading its input (EPIPE) still ran: judge what it wrote, as the async call does.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') throw pluginError(exe, `did not answer "describe" within ${timeoutMs} ms`);
    if (code === 'ENOBUFS') throw pluginError(exe, `wrote more than ${EXEC_PLUGIN_MAX_OUTPUT} bytes`);
    throw pluginError(exe, `could not be run (${code ?? r.error.message})`);
  }
  return interpret(exe, r.stdout, r.status, r.signal, r.stderr?.toString('utf8') ?? '', undefined);
}

function callExecutable(exe: string, env: NodeJS.ProcessEnv, request: Json, timeoutMs: number, secret?: string): Promise<Json> {
  return new Promise<Json>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(exe, [], { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    } catch (e) {
      reject(pluginError(exe, `could not be run (${(e as NodeJS.ErrnoException).code ?? 'error'})`));
      return;
    }
    const kill = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      kill();
      finish(() => reject(pluginError(exe, `did not answer "${String(request.op)}" within ${timeoutMs} ms`)));
    }, timeoutMs);
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    child.stdout!.on('data', (b: Buffer) => {
      outLen += b.length;
      if (outLen > EXEC_PLUGIN_MAX_OUTPUT) {
        kill();
        finish(() => reject(pluginError(exe, `wrote more than ${EXEC_PLUGIN_MAX_OUTPUT} bytes`)));
        return;
      }
      out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (err.length < MAX_STDERR) err += b.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish(() => reject(pluginError(exe, `could not be run (${e.code ?? 'error'})`)));
    });
    // The plugin may exit without reading its input: ignore EPIPE on stdin.
    child.stdin!.on('error', () => undefined);
    child.on('close', (code, signal) => {
      finish(() => {
        try {
          resolve(interpret(exe, Buffer.concat(out), code, signal, err, secret));
        } catch (e) {
          reject(e);
        }
      });
    });
    child.stdin!.end(JSON.stringify(request));
  });
}

function interpret(
  exe: string,
  stdout: Buffer,
  status: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  secret: string | undefined,
): Json {
  const scrub = (s: string) => (secret ? s.split(secret).join('***') : s);
  const details: Record<string, unknown> = { plugin: exe };
  const tail = scrub(stderr.trim()).slice(-500);
  if (tail) details.stderr = tail;
  if (signal) throw pluginError(exe, `was killed by ${signal}`, details);
  const text = stdout.toString('utf8').trim();
  let reply: unknown;
  try {
    reply = text ? JSON.parse(text) : undefined;
  } catch {
    reply = undefined;
  }
  const obj = reply !== null && typeof reply === 'object' && !Array.isArray(reply) ? (reply as Json) : undefined;
  if (obj && obj.error !== undefined) {
    const e = (obj.error ?? {}) as Json;
    const msg = scrub(typeof e.message === 'string' ? e.message : 'failed').split(/\r?\n/)[0]!.slice(0, 500);
    const code = typeof e.code === 'string' && e.code in ErrorCodes ? (e.code as ErrorCode) : 'PluginError';
    throw new DsvError(code, `${exe}: ${msg}`, { ...details, pluginCode: e.code });
  }
  if (status !== 0) throw pluginError(exe, `exited with status ${status}`, details);
  if (!obj) throw pluginError(exe, text ? 'replied with something that is not a JSON object' : 'replied with nothing', details);
  return obj;
}

function pluginError(exe: string, why: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('PluginError', `signer plugin ${exe} ${why}`, { plugin: exe, ...details });
}

const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

function toKeyInfo(r: Json, type: string, exe: string): KeyInfo {
  if (typeof r.keyId !== 'string' || !r.keyId) throw pluginError(exe, 'returned key info without "keyId"');
  // The type is the plugin's own name, whatever the reply says: a plugin cannot pose as another type.
  const info: KeyInfo = { type, keyId: r.keyId };
  for (const k of ['fingerprint', 'identity', 'algorithm'] as const) {
    const v = optStr(r[k]);
    if (v) info[k] = v;
  }
  return info;
}

function toVerificationResult(r: Json, type: string, exe: string): VerificationResult {
  if (typeof r.status !== 'string' || !STATUSES.has(r.status)) {
    throw pluginError(exe, 'returned a verification result without a valid "status"');
  }
  const res: VerificationResult = { status: r.status as VerificationResult['status'], type };
  for (const k of ['keyId', 'fingerprint', 'signer', 'reason'] as const) {
    const v = optStr(r[k]);
    if (v) res[k] = v;
  }
  if (r.createdAt !== undefined && r.createdAt !== null) {
    const d = typeof r.createdAt === 'string' ? new Date(r.createdAt) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw pluginError(exe, 'returned a "createdAt" that is not an ISO date');
    res.createdAt = d;
  }
  if (r.details && typeof r.details === 'object' && !Array.isArray(r.details)) res.details = r.details as Json;
  return res;
}
