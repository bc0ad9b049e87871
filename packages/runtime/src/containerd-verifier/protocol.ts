// containerd 2's image verifier protocol (the `io.containerd.image-verifier.v1.bindir` plugin), as its docs
// (docs/image-verification.md) describe it: containerd runs every executable in its bin_dir for each pull
// with `-name NAME -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json`, writes the
// image's OCI descriptor as JSON on stdin, reads up to 32 KiB of stdout as the reason, and allows the pull
// only on exit status 0. Arguments are Go `flag` syntax: `-x v`, `-x=v`, `--x v`, `--x=v`.
import { DsvError, isDigest, type Digest } from '@dsv/core/formats';

/** The only stdin payload this version of the protocol defines. */
export const DESCRIPTOR_MEDIA_TYPE = 'application/vnd.oci.descriptor.v1+json';
/** containerd reads this much of stdout (the reason) and of stderr (logged at debug level). */
export const CONTAINERD_OUTPUT_LIMIT = 32 * 1024;
/** The reason dsv prints stays well inside containerd's limit, on one line. */
export const REASON_LIMIT = 4 * 1024;
/** A descriptor is a few hundred bytes; anything beyond this is not one. */
export const STDIN_LIMIT = 1024 * 1024;

export interface VerifierArgs {
  /** `-name`: the reference containerd is pulling, as given to it (`registry.example/app:1`). */
  name?: string;
  /** `-digest`: the digest containerd resolved the name to. */
  digest?: string;
  /** `-stdin-media-type`: what stdin holds. */
  stdinMediaType?: string;
  /** `-h` / `-help` / `--help`. */
  help?: true;
  /** `-version` / `--version`. */
  version?: true;
}

const VALUE_FLAGS: Record<string, keyof VerifierArgs> = { name: 'name', digest: 'digest', 'stdin-media-type': 'stdinMediaType' };

/**
 * The arguments as Go's flag package reads them (containerd passes `-name X -digest D -stdin-media-type T`).
 * An unknown flag or a stray argument is a Usage error: a verifier that does not understand its call
 * blocks the pull rather than guess.
 */
export function parseVerifierArgs(args: readonly string[]): VerifierArgs {
  const r: VerifierArgs = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      if (i + 1 < args.length) throw new DsvError('Usage', `unexpected argument "${args[i + 1]}"`);
      break;
    }
    const m = /^--?([^=-][^=]*)(?:=(.*))?$/s.exec(a);
    if (!m) throw new DsvError('Usage', `unexpected argument "${a}"`);
    const flag = m[1]!;
    if (flag === 'h' || flag === 'help') {
      r.help = true;
      continue;
    }
    if (flag === 'version') {
      r.version = true;
      continue;
    }
    const key = VALUE_FLAGS[flag];
    if (!key) throw new DsvError('Usage', `unknown flag -${flag} (containerd's verifier protocol passes -name, -digest and -stdin-media-type)`);
    let value = m[2];
    if (value === undefined) {
      if (i + 1 >= args.length) throw new DsvError('Usage', `flag -${flag} needs a value`);
      value = args[++i]!;
    }
    (r as Record<string, string>)[key] = value;
  }
  return r;
}

/** The OCI descriptor containerd writes on stdin (the image index or manifest being pulled). */
export interface ImageDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** Reads stdin to its end (at most `limit` bytes; more is a Usage error, as no descriptor is that big). */
export async function readStdin(stdin: NodeJS.ReadableStream, limit = STDIN_LIMIT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (total > limit) throw new DsvError('Usage', `stdin is larger than ${limit} bytes: not an OCI descriptor`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The descriptor on stdin, checked: JSON object, mediaType, a valid digest, a whole non-negative size. */
export function parseDescriptor(bytes: Uint8Array): ImageDescriptor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new DsvError('Usage', 'stdin is not JSON: containerd writes the OCI descriptor of the image there');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DsvError('Usage', 'the descriptor on stdin is not a JSON object');
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new DsvError('Usage', 'the descriptor on stdin has no mediaType');
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw new DsvError('Usage', `the descriptor on stdin has no valid digest (${JSON.stringify(String(d.digest ?? '')).slice(0, 100)})`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new DsvError('Usage', 'the descriptor on stdin has no valid size');
  if (d.annotations !== undefined && (d.annotations === null || typeof d.annotations !== 'object' || Array.isArray(d.annotations))) {
    throw new DsvError('Usage', 'the descriptor on stdin has malformed annotations');
  }
  return d as ImageDescriptor;
}

/** What the verifier was asked: the image name and the digest both containerd's arguments and stdin name. */
export interface VerifierRequest {
  name: string;
  digest: Digest;
  descriptor: ImageDescriptor;
}

/** The request from the arguments and stdin; any inconsistency is a Usage error (the pull is blocked). */
export function verifierRequest(args: VerifierArgs, stdin: Uint8Array): VerifierRequest {
  if (args.name === undefined || args.name.trim() === '') throw new DsvError('Usage', 'missing -name (the image containerd is pulling)');
  if (args.stdinMediaType !== undefined && args.stdinMediaType !== DESCRIPTOR_MEDIA_TYPE) {
    throw new DsvError('Usage', `-stdin-media-type "${args.stdinMediaType}" is not ${DESCRIPTOR_MEDIA_TYPE}, the only payload this verifier reads`);
  }
  const descriptor = parseDescriptor(stdin);
  if (args.digest !== undefined) {
    if (!isDigest(args.digest)) throw new DsvError('Usage', `-digest "${args.digest.slice(0, 100)}" is not a digest`);
    if (args.digest !== descriptor.digest) throw new DsvError('Usage', `-digest ${args.digest} and the descriptor's ${descriptor.digest} differ`);
  }
  return { name: args.name.trim(), digest: descriptor.digest, descriptor };
}

/**
 * The registry reference to judge: containerd's name as it was asked for (`host/app:1`, or `host/app@sha256:…`),
 * so the policy's identity checks see the tag a signature must name; the caller then requires the manifest
 * judged to be the digest containerd resolved (a tag moved in between blocks the pull). A name carrying
 * another digest than the resolved one is a Usage error.
 */
export function judgedReference(request: VerifierRequest): string {
  const name = request.name.replace(/^docker:\/\//, '');
  const at = name.indexOf('@');
  if (at >= 0 && name.slice(at + 1) !== request.digest) {
    throw new DsvError('Usage', `-name ${request.name} names digest ${name.slice(at + 1)}, not the resolved ${request.digest}`);
  }
  return `docker://${name}`;
}

/** One line for containerd's reason: control characters flattened, at most REASON_LIMIT characters. */
export function reasonLine(text: string, limit = REASON_LIMIT): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 1)}…`;
}
