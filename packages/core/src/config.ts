/**
 * Image configuration (Docker image spec v1 / OCI image config), kept as the exact bytes received.
 *
 * Canonical form (what embedded signatures cover, compatible with docker-sign-verify): the config with
 * the "signatures" label added as "[]" when it is missing, written as canonical JSON (keys sorted, no
 * whitespace, UTF-8). Numbers are canonicalised from their source text, so big integers and `1.0` come
 * out as Python would write them.
 */
import {
  applyEdits,
  astToLossless,
  astToValue,
  canonicalJson,
  detectStyle,
  findMember,
  insertMemberEdit,
  JsonNumberLiteral,
  JsonSyntaxError,
  objectText,
  parseJsonAst,
  setMember,
  type JsonEdit,
  type JsonObjectAst,
} from './canonical-json.js';
import { digestOf, parseDigest, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import { Limits } from './model.js';

/** Label that holds embedded signatures (see signatures.ts). */
const SIGNATURES = 'signatures';
const EMPTY_SIGNATURES = '[]';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumberLiteral);
}

function has(o: Record<string, unknown>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): DsvError {
  return new DsvError('ConfigInvalid', message, details, cause === undefined ? undefined : { cause });
}

/**
 * Which key holds the container config: "Config" (as some real images, e.g. Red Hat's, write it) when it
 * is present and usable, else "config"; undefined when neither is present.
 */
function configKey(root: Record<string, unknown>): 'Config' | 'config' | undefined {
  if (has(root, 'Config') && (isRecord(root.Config) || !has(root, 'config'))) return 'Config';
  if (has(root, 'config')) return 'config';
  return undefined;
}

export class ImageConfig {
  /** The exact bytes; `digest` is theirs. */
  readonly bytes: Uint8Array;
  readonly digest: Digest;
  /** The parsed document (numbers as JS numbers). Do not mutate; use withLabel. */
  readonly json: Record<string, unknown>;
  readonly #text: string;
  readonly #ast: JsonObjectAst;
  #canonical: Uint8Array | undefined;

  private constructor(bytes: Uint8Array, text: string, ast: JsonObjectAst) {
    this.bytes = bytes;
    this.digest = digestOf(bytes);
    this.#text = text;
    this.#ast = ast;
    this.json = astToValue(ast) as Record<string, unknown>;
  }

  /** Parses config bytes. LimitExceeded over Limits.configBytes (checked first), ConfigInvalid when not a JSON object. */
  static parse(bytes: Uint8Array): ImageConfig {
    if (bytes.length > Limits.configBytes) {
      throw new DsvError('LimitExceeded', `image configuration is ${bytes.length} bytes, over the ${Limits.configBytes}-byte limit`, {
        size: bytes.length,
        limit: Limits.configBytes,
      });
    }
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch (e) {
      throw invalid('image configuration is not valid UTF-8', {}, e);
    }
    let ast;
    try {
      ast = parseJsonAst(text);
    } catch (e) {
      if (e instanceof JsonSyntaxError) throw invalid(`image configuration is not valid JSON: ${e.message}`, {}, e);
      throw e;
    }
    if (ast.kind !== 'object') throw invalid('image configuration must be a JSON object');
    return new ImageConfig(bytes, text, ast);
  }

  /** Labels of the container config (`config.Labels`, or `Config.Labels`); {} when there are none. */
  get labels(): Record<string, string> {
    const key = configKey(this.json);
    if (key === undefined) return {};
    const cfg = this.json[key];
    if (cfg === null) return {};
    if (!isRecord(cfg)) throw invalid(`image configuration: "${key}" must be an object`);
    const labels = cfg.Labels;
    if (labels === undefined || labels === null) return {};
    if (!isRecord(labels)) throw invalid(`image configuration: "${key}.Labels" must be an object`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string') throw invalid(`image configuration: label "${k}" is not a string`, { label: k });
      setMember(out, k, v);
    }
    return out;
  }

  /** `rootfs.diff_ids` (also `rootfS`, as some Windows images write it), each a valid digest. */
  get diffIds(): Digest[] {
    const rootfs = this.json.rootfs ?? this.json.rootfS;
    if (!isRecord(rootfs)) throw invalid('image configuration has no "rootfs" object');
    const ids = rootfs.diff_ids;
    if (!Array.isArray(ids)) throw invalid('image configuration: "rootfs.diff_ids" must be an array');
    return ids.map((id, i) => {
      try {
        return parseDigest(id as string).digest;
      } catch (e) {
        throw invalid(`image configuration: rootfs.diff_ids[${i}]: ${(e as Error).message}`, { index: i }, e);
      }
    });
  }

  get platform(): { os?: string; architecture?: string; variant?: string } {
    const p: { os?: string; architecture?: string; variant?: string } = {};
    for (const k of ['os', 'architecture', 'variant'] as const) {
      const v = this.json[k];
      if (typeof v === 'string') p[k] = v;
    }
    return p;
  }

  /**
   * A new configuration with label `name` set to `value`, created (with Labels, and the container config
   * when needed) if absent. Edited in place: every other byte of the document is kept.
   */
  withLabel(name: string, value: string): ImageConfig {
    if (typeof name !== 'string' || name === '') throw new DsvError('Usage', 'label name must be a non-empty string');
    if (typeof value !== 'string') throw new DsvError('Usage', `label "${name}" value must be a string`);
    const text = this.#text;
    const root = this.#ast;
    const style = detectStyle(text, root);
    const valueText = JSON.stringify(value);
    const labelsText = objectText(style, name, valueText);
    let edit: JsonEdit;

    const key = configKey(this.json);
    const cfgMember = key === undefined ? undefined : findMember(root, key);
    if (!cfgMember) {
      edit = insertMemberEdit(text, root, 'config', objectText(style, 'Labels', labelsText), style);
    } else if (cfgMember.value.kind === 'literal' && cfgMember.value.value === null) {
      edit = { start: cfgMember.value.start, end: cfgMember.value.end, text: objectText(style, 'Labels', labelsText) };
    } else if (cfgMember.value.kind !== 'object') {
      throw invalid(`image configuration: "${key}" must be an object`);
    } else {
      const cfg = cfgMember.value;
      const labelsMember = findMember(cfg, 'Labels');
      if (!labelsMember) {
        edit = insertMemberEdit(text, cfg, 'Labels', labelsText, style);
      } else if (labelsMember.value.kind === 'literal' && labelsMember.value.value === null) {
        edit = { start: labelsMember.value.start, end: labelsMember.value.end, text: labelsText };
      } else if (labelsMember.value.kind !== 'object') {
        throw invalid(`image configuration: "${key}.Labels" must be an object`);
      } else {
        const existing = findMember(labelsMember.value, name);
        edit = existing
          ? { start: existing.value.start, end: existing.value.end, text: valueText }
          : insertMemberEdit(text, labelsMember.value, name, valueText, style);
      }
    }
    return ImageConfig.parse(encoder.encode(applyEdits(text, [edit])));
  }

  /**
   * Canonical JSON of this configuration with label `name` set to `value` (default: the signatures label
   * as it is, or "[]" when absent) — without producing new raw bytes.
   */
  canonicalBytesWithLabel(name: string = SIGNATURES, value?: string): Uint8Array {
    const root = astToLossless(this.#ast) as Record<string, unknown>;
    const key = configKey(root) ?? 'config';
    let cfg = root[key];
    if (cfg === undefined || cfg === null) {
      cfg = {};
      setMember(root, key, cfg);
    }
    if (!isRecord(cfg)) throw invalid(`image configuration: "${key}" must be an object`);
    let labels = cfg.Labels;
    if (labels === undefined || labels === null) {
      labels = {};
      setMember(cfg, 'Labels', labels);
    }
    if (!isRecord(labels)) throw invalid(`image configuration: "${key}.Labels" must be an object`);
    if (value !== undefined) setMember(labels, name, value);
    if (!has(labels, SIGNATURES)) setMember(labels, SIGNATURES, EMPTY_SIGNATURES);
    try {
      return encoder.encode(canonicalJson(root));
    } catch (e) {
      if (e instanceof DsvError && e.code !== 'ConfigInvalid') throw invalid(`image configuration has no canonical form: ${e.message}`, {}, e);
      throw e;
    }
  }

  /** The canonical form (signatures label defaulted to "[]"). */
  canonicalBytes(): Uint8Array {
    this.#canonical ??= this.canonicalBytesWithLabel();
    return this.#canonical.slice();
  }

  canonicalDigest(): Digest {
    return digestOf(this.canonicalBytes());
  }
}
