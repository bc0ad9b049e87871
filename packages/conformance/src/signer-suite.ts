// The contract every signer plugin meets, however it is loaded (module, executable, built in): a
// sign / verify round trip, also as an embedded signature in an image config; a bad signature is
// reported invalid (resolved, never thrown); an untrusted key is unknown-key; and failures arrive as
// DsvErrors with stable codes and without secrets in their messages.
import { addSignature, ImageConfig, verifySignatures, type ErrorCode, type Signer, type Verifier } from '@dsv/core/formats';
import { check, checkEqual, checkRejects, ConformanceError, type Suite } from './harness.js';
import { buildSampleImageSync } from './sample-image.js';

export interface ExpectedFailure {
  /** What is being done wrong, e.g. "a wrong passphrase". */
  name: string;
  code: ErrorCode;
  /** Must reject with a DsvError of `code` (e.g. create a signer with a wrong passphrase and sign). */
  run(): Promise<unknown>;
}

/**
 * What the suite tests. Given when the suite is registered (so the runner knows every check up front);
 * keys and homes are made in `prepare`, which runs before any check, and the factories read them then.
 */
export interface SignerSetup {
  /** Makes keys, homes, servers (runs once, before the checks). */
  prepare?(): Promise<void>;
  /** The signer under test, loaded however the plugin is meant to be (a factory: the suite imports no loader). */
  signer(): Promise<Signer>;
  /** A verifier trusting the signer's key. */
  verifier(): Promise<Verifier>;
  /** A verifier trusting only some other key: it must answer unknown-key. */
  strangerVerifier?(): Promise<Verifier>;
  /** Failures that must arrive as DsvErrors with these codes. */
  failures?: ExpectedFailure[];
  /** Text that must never appear in an error message (passphrases, key material). */
  secrets?: string[];
  cleanup?: () => Promise<void>;
}

interface SignerContext {
  setup: SignerSetup;
  signer: Signer;
  verifier: Verifier;
}

const encode = (s: string) => new TextEncoder().encode(s);
const DATA = encode(`sha256:${'5'.repeat(64)}`);
const OTHER = encode(`sha256:${'6'.repeat(64)}`);

/**
 * The signature with one character of its body changed (kept printable, so the armour still matches):
 * in the last long base64 line, where the signature value sits rather than key ids and headers.
 */
export function tamper(signature: string): string {
  const lines = signature.split('\n');
  const i = lines.findLastIndex((l, n) => n > 0 && /^[A-Za-z0-9+/]{16,}/.test(l));
  const at = i >= 0 ? i : Math.floor(lines.length / 2);
  const line = lines[at] ?? '';
  const pos = Math.floor(line.length / 2);
  const c = line[pos] ?? 'A';
  lines[at] = line.slice(0, pos) + (c === 'A' ? 'B' : 'A') + line.slice(pos + 1);
  return lines.join('\n');
}

async function settles<T>(work: Promise<T>, what: string): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw new ConformanceError(`${what} threw (${e instanceof Error ? e.message : String(e)}): a verifier reports a bad signature, it never throws`);
  }
}

/** The signer-plugin suite for the signer and verifiers `setup` provides. */
export function signerSuite(name: string, spec: SignerSetup): Suite<SignerContext> {
  const checks: Suite<SignerContext>['checks'] = [
    {
      name: 'describeKey names the signer type and a key id',
      async run({ signer }) {
        const info = await signer.describeKey();
        checkEqual(info.type, signer.type, 'describeKey().type');
        check(typeof info.keyId === 'string' && info.keyId !== '', 'describeKey().keyId is empty');
      },
    },
    {
      name: 'sign / verify round trip',
      async run({ signer, verifier }) {
        const sig = await signer.sign(DATA);
        check(typeof sig === 'string' && sig !== '', 'sign() returned no signature text');
        check(verifier.recognizes(sig), 'the verifier does not recognise the signer\'s signature');
        const r = await verifier.verify(DATA, sig);
        checkEqual(r.status, 'valid', `verify() status (${r.reason ?? ''})`);
        checkEqual(r.type, signer.type, 'verify().type');
        const keyId = (await signer.describeKey()).keyId;
        if (r.keyId !== undefined) checkEqual(r.keyId, keyId, 'verify().keyId');
      },
    },
    {
      name: 'an embedded signature in an image config verifies',
      async run({ signer, verifier }) {
        const image = buildSampleImageSync({ layers: [{ 'etc/hello': 'hello\n' }] });
        const signed = await addSignature(ImageConfig.parse(image.configBytes), signer, 'sign');
        const results = await verifySignatures(signed.config, (d, s) => verifier.verify(d, s));
        checkEqual(results.map((c) => c.result.status), ['valid'], 'embedded signature status');
      },
    },
    {
      name: 'a bad signature is reported invalid, not thrown',
      async run({ signer, verifier }) {
        const sig = await signer.sign(DATA);
        checkEqual((await settles(verifier.verify(OTHER, sig), 'verify() over other data')).status, 'invalid', 'status over other data');
        const tampered = await settles(verifier.verify(DATA, tamper(sig)), 'verify() of a tampered signature');
        check(tampered.status === 'invalid', `a tampered signature is ${tampered.status}, expected invalid`);
        const garbage = await settles(verifier.verify(DATA, 'not a signature'), 'verify() of text that is no signature');
        checkEqual(garbage.status, 'invalid', 'status of text that is no signature');
      },
    },
  ];
  const stranger = spec.strangerVerifier;
  if (stranger) {
    checks.push({
      name: 'a key it does not trust is unknown-key',
      async run({ signer }) {
        const r = await settles((await stranger()).verify(DATA, await signer.sign(DATA)), 'verify() with another key');
        checkEqual(r.status, 'unknown-key', 'status with a verifier trusting another key');
      },
    });
  }
  for (const f of spec.failures ?? []) {
    checks.push({
      name: `${f.name}: a DsvError with code ${f.code}`,
      async run() {
        const err = await checkRejects(f.run(), f.name, f.code);
        for (const secret of spec.secrets ?? []) check(!err.message.includes(secret), `${f.name}: the error message contains a secret`);
      },
    });
  }
  return {
    name: `Signer conformance: ${name}`,
    async setup() {
      await spec.prepare?.();
      return { setup: spec, signer: await spec.signer(), verifier: await spec.verifier() };
    },
    async teardown(ctx) {
      await ctx?.setup.cleanup?.();
    },
    checks,
  };
}
