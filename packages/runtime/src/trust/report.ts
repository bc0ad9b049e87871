/** Text and JSON output of `dsv verify --dct` and `dsv trust inspect`: pure functions from results to text. */
import type { VerifyResult } from '@dsv/core/operations';
import type { RoleSummary, TrustState, VerifiedTag } from '@dsv/trust-notary';
import { errorJson, errorMessage, imageVerificationJson, verifyFailureLines } from '../report.js';
import { signerNames, type DctCheck } from './check.js';

const INDENT = '    ';

function expiryLine(expiries: Record<string, string>): string {
  return Object.entries(expiries).map(([role, when]) => `${role} ${when}`).join(', ');
}

/** The DCT part of a verify report: what is signed, by whom, with which keys, until when. */
export function formatSignedTag(server: string, v: VerifiedTag): string[] {
  return [
    `Docker Content Trust: ${v.gun}:${v.tag} (trust server ${server})`,
    `${INDENT}signed target: ${v.digest} (${v.length} bytes) in ${v.role}`,
    `${INDENT}signers: ${signerNames(v.signers).join(', ')}`,
    `${INDENT}signing keys: ${v.canonicalKeyIds.join(', ')}`,
    `${INDENT}expires: ${expiryLine(v.expiries)}`,
  ];
}

function integrityLines(r: VerifyResult): string[] {
  const out: string[] = [];
  const n = r.images.length;
  if (r.kind === 'index') out.push(`${INDENT}image index ${r.digest}: ${n} image${n === 1 ? '' : 's'} checked`);
  for (const img of r.images) {
    const label = img.platform ? ` [${img.platform}]` : '';
    out.push(`${INDENT}manifest ${img.manifestDigest}${label}: integrity ${img.integrity?.ok === false ? 'FAILED' : 'ok'}`);
  }
  return out;
}

/** The whole text report of one `dsv verify --dct` input that got as far as a result. */
export function formatDctVerifyText(server: string, c: DctCheck): string {
  const out = formatSignedTag(server, c.signed);
  out.push(`${INDENT}the registry serves the signed manifest (${c.served.mediaType})`);
  out.push(...integrityLines(c.integrity));
  out.push(c.integrity.ok ? 'Integrity check passed.' : 'Integrity check FAILED.');
  out.push(c.ok ? `Verified: ${c.reference} (${c.signed.digest})` : `NOT verified: ${c.reference} (${c.signed.digest})`);
  return `${out.join('\n')}\n`;
}

export interface DctVerifyOutcome {
  input: string;
  server?: string;
  check?: DctCheck;
  error?: unknown;
}

export function signedTagJson(v: VerifiedTag) {
  return {
    gun: v.gun, tag: v.tag, digest: v.digest, length: v.length, role: v.role,
    signers: signerNames(v.signers, false), roles: v.signers, keyIds: v.keyIds, canonicalKeyIds: v.canonicalKeyIds, expiries: v.expiries,
  };
}

/** `dsv verify --dct --json`. */
export function dctVerifyReportJson(outcomes: DctVerifyOutcome[], exitCode: number) {
  return {
    command: 'verify',
    dct: true,
    ok: exitCode === 0,
    exitCode,
    results: outcomes.map((o) => {
      if (!o.check) return { input: o.input, server: o.server ?? null, reference: null, ok: false, error: errorJson(o.error), trust: null, images: [], failures: [errorMessage(o.error)] };
      const c = o.check;
      return {
        input: o.input,
        server: o.server ?? null,
        reference: c.reference,
        digest: c.signed.digest,
        kind: c.integrity.kind,
        ok: c.ok,
        error: null,
        trust: signedTagJson(c.signed),
        served: c.served,
        images: c.integrity.images.map(imageVerificationJson),
        failures: c.ok ? [] : verifyFailureLines(c.integrity),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// trust inspect

/** One signed tag with the verdict of its registry check. */
export interface InspectedTag {
  tag: string;
  digest: string;
  length: number;
  role: string;
  roles: string[];
  /** What the registry serves for the tag now: `matches`, `differs`, `missing`, or `error`. */
  registry: 'matches' | 'differs' | 'missing' | 'error';
  servedDigest?: string;
  registryError?: string;
}

const short = (id: string) => id.slice(0, 12);
const hex = (d: string) => d.replace(/^sha256:/, '');

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd());
}

function registryVerdict(t: InspectedTag): string {
  switch (t.registry) {
    case 'matches': return 'serves the signed manifest';
    case 'differs': return `serves ${t.servedDigest} (NOT the signed manifest)`;
    case 'missing': return 'has no such tag';
    default: return `not checked: ${t.registryError ?? 'error'}`;
  }
}

/** Signers and their keys the way `docker trust inspect --pretty` groups them (releases hidden). */
function signerKeys(state: TrustState): Array<{ name: string; keys: string[]; roles: RoleSummary[] }> {
  const by = new Map<string, { name: string; keys: string[]; roles: RoleSummary[] }>();
  for (const d of state.delegations) {
    if (d.role === 'targets/releases' && state.delegations.length > 1) continue;
    const name = d.role.replace(/^targets\//, '');
    const e = by.get(name) ?? { name, keys: [], roles: [] };
    for (const k of d.canonicalKeyIds) if (!e.keys.includes(k)) e.keys.push(k);
    e.roles.push(d);
    by.set(name, e);
  }
  return [...by.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** `dsv trust inspect` text: docker's --pretty tables, then every role's keys, versions and expiry, then the verdicts. */
export function formatTrustInspectText(server: string, state: TrustState, tags: InspectedTag[]): string {
  const out: string[] = [];
  out.push(`Signatures for ${state.gun}`, '');
  if (tags.length === 0) out.push('No signed tags.');
  else out.push(...table([['SIGNED TAG', 'DIGEST', 'SIGNERS', 'REGISTRY'], ...tags.map((t) => [t.tag, hex(t.digest), signerNames(t.roles).join(', '), registryVerdict(t)])]));
  const signers = signerKeys(state);
  if (signers.length) {
    out.push('', `List of signers and their keys for ${state.gun}`, '');
    out.push(...table([['SIGNER', 'KEYS'], ...signers.map((s) => [s.name, s.keys.map(short).join(', ')])]));
  }
  out.push('', `Administrative keys for ${state.gun}`, '');
  out.push(`  Repository Key:\t${state.targets.canonicalKeyIds.join(', ')}`);
  // docker shows the root role's own key ids (of its certificates), and the repository key's canonical id.
  out.push(`  Root Key:\t${state.root.keyIds.join(', ')}`);
  out.push('', `Roles (trust server ${server})`, '');
  const roles = [state.root, state.targets, state.snapshot, state.timestamp, ...state.delegations];
  out.push(...table([
    ['ROLE', 'VERSION', 'EXPIRES', 'THRESHOLD', 'KEY IDS'],
    ...roles.map((r) => [r.role, r.version === undefined ? '-' : String(r.version), r.expires ?? 'not published', String(r.threshold), r.keyIds.join(', ')]),
  ]));
  const bad = tags.filter((t) => t.registry !== 'matches');
  out.push('', 'Checks');
  out.push(`${INDENT}trust data: verified (root pinned in the trust dir; signatures, thresholds, expiry, versions, hashes, delegation paths)`);
  out.push(`${INDENT}registry: ${bad.length === 0 ? `${tags.length === 1 ? 'the signed tag is' : `all ${tags.length} signed tags are`} served as signed` : `${bad.length} of ${tags.length} signed tags NOT served as signed (${bad.map((t) => t.tag).join(', ')})`}`);
  return `${out.join('\n')}\n`;
}

function roleJson(r: RoleSummary) {
  return {
    role: r.role, version: r.version ?? null, expires: r.expires ?? null, threshold: r.threshold,
    keyIds: r.keyIds, canonicalKeyIds: r.canonicalKeyIds, signedBy: r.signedBy ?? [], paths: r.paths ?? null,
  };
}

/** `dsv trust inspect --json`. */
export function trustInspectJson(input: string, server: string, state: TrustState, tags: InspectedTag[]) {
  return {
    command: 'trust inspect',
    input,
    server,
    gun: state.gun,
    ok: true,
    trustVerified: true,
    signedTags: tags.map((t) => ({
      tag: t.tag, digest: t.digest, length: t.length, role: t.role, signers: signerNames(t.roles, false), roles: t.roles,
      registry: t.registry, servedDigest: t.servedDigest ?? null, registryError: t.registryError ?? null,
    })),
    signers: signerKeys(state).map((s) => ({ name: s.name, keys: s.keys, roles: s.roles.map((r) => r.role) })),
    administrativeKeys: { repository: state.targets.canonicalKeyIds, root: state.root.keyIds },
    roles: [state.root, state.targets, state.snapshot, state.timestamp, ...state.delegations].map(roleJson),
  };
}
