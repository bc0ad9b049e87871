/**
 * JSON text handling that must agree byte for byte with other implementations:
 *
 * - `canonicalJson`: the canonical form docker-sign-verify signs (Python `canonicaljson`): keys sorted by
 *   code point at every level, no insignificant whitespace, non-ASCII written as UTF-8 (not escaped).
 * - `pythonJsonDumps`: exactly what Python's `json.dumps(x)` writes with default arguments (", " and ": "
 *   separators, `ensure_ascii=True`, key order preserved), used for the `signatures` label.
 * - `parseJsonAst`: a strict JSON parser that keeps source positions and number literals, so a document
 *   can be edited in place (every other byte kept) and canonicalised without losing precision.
 *
 * Numbers. Python parses an integer literal to an exact int and anything with a fraction or exponent to a
 * float, and writes them back as `int` / `repr(float)` (`1.0` stays `1.0`, `1e5` becomes `100000.0`, big
 * integers stay exact). A JavaScript number cannot carry that distinction: `1.0` and `1` are the same value
 * and integers past 2^53 lose precision. So:
 * - values parsed with `parseJsonAst` + `astToLossless` keep every number as a `JsonNumberLiteral` and are
 *   written exactly as Python would write what it parsed (the path ImageConfig uses for canonical digests);
 * - plain JS numbers are written as Python ints when `Number.isInteger` (exact decimal of the double), else
 *   as Python's `repr(float)`. Use literals when fidelity matters.
 * NaN and ±Infinity are refused by `canonicalJson` (Python canonicaljson uses allow_nan=False) and written
 * as `NaN` / `Infinity` / `-Infinity` by `pythonJsonDumps` (Python's default allow_nan=True).
 */
import { DsvError, type ErrorCode } from './errors.js';

/** A JSON number kept as its source text. */
export class JsonNumberLiteral {
  readonly text: string;
  constructor(text: string) {
    if (!NUMBER_RE_FULL.test(text)) throw new TypeError(`not a JSON number literal: ${text.slice(0, 40)}`);
    this.text = text;
  }
  /** True for literals Python parses as float (fraction or exponent present). */
  get isFloat(): boolean {
    return /[.eE]/.test(this.text);
  }
  toNumber(): number {
    return Number(this.text);
  }
}

const NUMBER_RE_FULL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

// ---------------------------------------------------------------------------------------------------
// Serialisers
// ---------------------------------------------------------------------------------------------------

/** Compares two strings by Unicode code point (Python's str ordering), not by UTF-16 code unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only surrogates (0xD800-0xDFFF) order differently from code points: a surrogate stands for a code
    // point >= 0x10000, above every BMP character; lone surrogates keep their own value.
    const cx = a.codePointAt(i)!;
    const cy = b.codePointAt(i)!;
    return cx < cy ? -1 : cx > cy ? 1 : 0;
  }
  return a.length - b.length;
}

/**
 * Python's `repr(float)`: shortest round-trip digits, fixed notation when the decimal exponent is in
 * [-4, 16), else `d.ddde+XX`; integral values in fixed notation get `.0`.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip.
  const [mantissa, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  const decpt = exp + 1; // value = 0.<digits> * 10^decpt
  if (decpt <= -4 || decpt > 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

function formatNumber(value: number | bigint | JsonNumberLiteral, allowNonFinite: boolean, where: string): string {
  if (typeof value === 'bigint') return value.toString();
  let n: number;
  if (value instanceof JsonNumberLiteral) {
    if (!value.isFloat) return BigInt(value.text).toString(); // exact; "-0" becomes "0" as in Python
    n = value.toNumber();
  } else {
    n = value;
    if (Number.isInteger(n)) return BigInt(n).toString();
  }
  if (!Number.isFinite(n) && !allowNonFinite) {
    throw new DsvError('Unsupported', `${where}: ${String(n)} has no canonical JSON form`);
  }
  return pythonFloatRepr(n);
}

const ANY_SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /(?:[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF])/;

function hasLoneSurrogate(s: string): boolean {
  return ANY_SURROGATE.test(s) && LONE_SURROGATE.test(s);
}

/** A JSON string with non-ASCII kept as is (Python ensure_ascii=False; same escapes as JSON.stringify). */
function canonicalString(s: string, where: string): string {
  if (hasLoneSurrogate(s)) {
    // Python would fail to encode it as UTF-8; a canonical form must not paper over it.
    throw new DsvError('Unsupported', `${where}: string holds an unpaired UTF-16 surrogate and has no canonical UTF-8 form`);
  }
  return JSON.stringify(s);
}

const PY_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A JSON string as Python's ensure_ascii=True writes it: everything outside ' '..'~' escaped. */
function pythonAsciiString(s: string): string {
  return `"${s.replace(/["\\]|[^ -~]/g, (c) => PY_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumberLiteral);
}

interface SerialiseStyle {
  sortKeys: boolean;
  itemSep: string;
  keySep: string;
  str: (s: string, where: string) => string;
  allowNonFinite: boolean;
}

const MAX_DEPTH = 1000;

function serialise(value: unknown, style: SerialiseStyle, depth: number, where: string): string {
  if (depth > MAX_DEPTH) throw new DsvError('LimitExceeded', `${where}: nested deeper than ${MAX_DEPTH} levels`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return style.str(value, where);
    case 'number':
    case 'bigint':
      return formatNumber(value, style.allowNonFinite, where);
    case 'object':
      break;
    default:
      throw new TypeError(`${where}: cannot serialise a value of type ${typeof value}`);
  }
  if (value instanceof JsonNumberLiteral) return formatNumber(value, style.allowNonFinite, where);
  if (Array.isArray(value)) {
    const parts = value.map((v, i) => {
      if (v === undefined) throw new TypeError(`${where}[${i}]: undefined has no JSON form`);
      return serialise(v, style, depth + 1, `${where}[${i}]`);
    });
    return `[${parts.join(style.itemSep)}]`;
  }
  if (!isPlainObject(value)) throw new TypeError(`${where}: cannot serialise this object`);
  let keys = Object.keys(value).filter((k) => value[k] !== undefined);
  if (style.sortKeys) keys = keys.sort(compareCodePoints);
  const parts = keys.map((k) => `${style.str(k, where)}${style.keySep}${serialise(value[k], style, depth + 1, `${where}.${k}`)}`);
  return `{${parts.join(style.itemSep)}}`;
}

const CANONICAL: SerialiseStyle = { sortKeys: true, itemSep: ',', keySep: ':', str: canonicalString, allowNonFinite: false };
const PYTHON: SerialiseStyle = { sortKeys: false, itemSep: ', ', keySep: ': ', str: pythonAsciiString, allowNonFinite: true };

/**
 * Canonical JSON (Python canonicaljson.encode_canonical_json): keys sorted by code point, `,` and `:`
 * separators, no whitespace, non-ASCII as UTF-8. Object members whose value is `undefined` are omitted.
 * Encode the result as UTF-8 to get the bytes that are hashed.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, CANONICAL, 0, '$');
}

/** Exactly Python's `json.dumps(value)` with default arguments (key order as given). */
export function pythonJsonDumps(value: unknown): string {
  return serialise(value, PYTHON, 0, '$');
}

// ---------------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------------

export type JsonAst = JsonObjectAst | JsonArrayAst | JsonStringAst | JsonNumberAst | JsonLiteralAst;
interface Span {
  /** Offset (UTF-16 code units) of the first character of the value in the parsed text. */
  start: number;
  /** Offset just past the value. */
  end: number;
}
export interface JsonMemberAst {
  key: string;
  keyStart: number;
  keyEnd: number;
  value: JsonAst;
}
export interface JsonObjectAst extends Span {
  kind: 'object';
  members: JsonMemberAst[];
}
export interface JsonArrayAst extends Span {
  kind: 'array';
  items: JsonAst[];
}
export interface JsonStringAst extends Span {
  kind: 'string';
  value: string;
}
export interface JsonNumberAst extends Span {
  kind: 'number';
  text: string;
}
export interface JsonLiteralAst extends Span {
  kind: 'literal';
  value: boolean | null;
}

/** A JSON syntax error with the offset where it was found. */
export class JsonSyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at offset ${position}`);
    this.name = 'JsonSyntaxError';
    this.position = position;
  }
}

/**
 * An object names the same key twice. Readers disagree on which one counts (first, last, error), so a
 * signed document could show one value to the signer and another to a consumer: refused by default.
 */
export class JsonDuplicateKeyError extends JsonSyntaxError {
  readonly key: string;
  constructor(key: string, position: number) {
    super(`duplicate key ${JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)}`, position);
    this.name = 'JsonDuplicateKeyError';
    this.key = key;
  }
}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PLAIN_RUN_RE = /[^"\\\u0000-\u001f]*/y;
const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Parses strict JSON (RFC 8259; no NaN/Infinity, no comments, no trailing commas, no control characters in
 * strings) keeping positions and number literals. A key named twice in one object is refused
 * (`JsonDuplicateKeyError`) unless `allowDuplicateKeys`: then members keep document order and the
 * converters below let the last one win, as Python, Go and JSON.parse do. A leading U+FEFF is skipped.
 */
export function parseJsonAst(text: string, options: { maxDepth?: number; allowDuplicateKeys?: boolean } = {}): JsonAst {
  const maxDepth = options.maxDepth ?? MAX_DEPTH;
  const allowDuplicates = options.allowDuplicateKeys === true;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const len = text.length;

  const fail = (msg: string, at = pos): never => {
    throw new JsonSyntaxError(msg, at);
  };
  const ws = () => {
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const describe = () => (pos >= len ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[pos])}`);

  const parseString = (): JsonStringAst => {
    const start = pos;
    pos++; // opening quote
    let out = '';
    for (;;) {
      PLAIN_RUN_RE.lastIndex = pos;
      PLAIN_RUN_RE.exec(text);
      out += text.slice(pos, PLAIN_RUN_RE.lastIndex);
      pos = PLAIN_RUN_RE.lastIndex;
      if (pos >= len) fail('unterminated string', start);
      const c = text[pos]!;
      if (c === '"') {
        pos++;
        return { kind: 'string', start, end: pos, value: out };
      }
      if (c === '\\') {
        const e = text[pos + 1];
        if (e === undefined) fail('unterminated string', start);
        if (e === 'u') {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
        } else {
          const s = SIMPLE_ESCAPES[e!];
          if (s === undefined) fail(`invalid escape \\${e}`);
          out += s;
          pos += 2;
        }
        continue;
      }
      fail('control character in string');
    }
  };

  const parseValue = (depth: number): JsonAst => {
    ws();
    if (pos >= len) fail('unexpected end of input');
    const c = text[pos]!;
    const start = pos;
    if (c === '{') {
      if (depth >= maxDepth) fail(`nested deeper than ${maxDepth} levels`);
      pos++;
      const members: JsonMemberAst[] = [];
      const seen = allowDuplicates ? undefined : new Set<string>();
      ws();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', start, end: pos, members };
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail(pos >= len ? 'unexpected end of input' : 'expected a string key');
        const k = parseString();
        if (seen) {
          if (seen.has(k.value)) throw new JsonDuplicateKeyError(k.value, k.start);
          seen.add(k.value);
        }
        ws();
        if (text[pos] !== ':') fail(`expected ":" (${describe()})`);
        pos++;
        const value = parseValue(depth + 1);
        members.push({ key: k.value, keyStart: k.start, keyEnd: k.end, value });
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return { kind: 'object', start, end: pos, members };
        }
        fail(`expected "," or "}" (${describe()})`);
      }
    }
    if (c === '[') {
      if (depth >= maxDepth) fail(`nested deeper than ${maxDepth} levels`);
      pos++;
      const items: JsonAst[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', start, end: pos, items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return { kind: 'array', start, end: pos, items };
        }
        fail(`expected "," or "]" (${describe()})`);
      }
    }
    if (c === '"') return parseString();
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER_RE.lastIndex = pos;
      const m = NUMBER_RE.exec(text);
      if (!m) fail('invalid number');
      pos = NUMBER_RE.lastIndex;
      const next = text[pos];
      if (next !== undefined && /[0-9.eE+-]/.test(next)) fail('invalid number', start);
      return { kind: 'number', start, end: pos, text: m![0] };
    }
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { kind: 'literal', start, end: pos, value };
      }
    }
    return fail(describe());
  };

  const root = parseValue(0);
  ws();
  if (pos < len) fail(`unexpected data after the JSON value (${describe()})`);
  return root;
}

function defineMember(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a "__proto__" key must become an own property, never the prototype.
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function convert(ast: JsonAst, num: (text: string) => unknown): unknown {
  switch (ast.kind) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const m of ast.members) defineMember(o, m.key, convert(m.value, num));
      return o;
    }
    case 'array':
      return ast.items.map((i) => convert(i, num));
    case 'string':
      return ast.value;
    case 'number':
      return num(ast.text);
    case 'literal':
      return ast.value;
  }
}

/**
 * Strict JSON text to plain JS values (numbers as JS numbers), for documents from outside: syntax errors
 * and duplicate keys become a DsvError with `code`, naming `what`.
 */
export function parseJsonStrict(text: string, what: string, code: ErrorCode): unknown {
  try {
    return astToValue(parseJsonAst(text));
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new DsvError(code, `${what} is not valid JSON: ${e.message}`, { what }, { cause: e });
    throw e;
  }
}

/** Plain JS values, as JSON.parse would give (numbers as JS numbers, last duplicate key wins). */
export function astToValue(ast: JsonAst): unknown {
  return convert(ast, Number);
}

/** Like astToValue but numbers stay `JsonNumberLiteral`s, for canonicalJson / pythonJsonDumps fidelity. */
export function astToLossless(ast: JsonAst): unknown {
  return convert(ast, (t) => new JsonNumberLiteral(t));
}

/** Last member named `key` (the one JSON readers use), or undefined. */
export function findMember(obj: JsonObjectAst, key: string): JsonMemberAst | undefined {
  for (let i = obj.members.length - 1; i >= 0; i--) if (obj.members[i]!.key === key) return obj.members[i];
  return undefined;
}

/** Sets own property `key` safely (see defineMember). */
export function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  defineMember(target, key, value);
}

// ---------------------------------------------------------------------------------------------------
// In-place editing
// ---------------------------------------------------------------------------------------------------

export interface JsonEdit {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping edits to `text`. */
export function applyEdits(text: string, edits: JsonEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    if (e.start < at) throw new Error('overlapping JSON edits');
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

/** Separator style of a document, learnt from its own text so inserted members look like their neighbours. */
export interface JsonStyle {
  /** Between a key and its value, including the colon (":", ": "). */
  colon: string;
  /** Between members on one line, including the comma (",", ", "). */
  comma: string;
}

export function detectStyle(text: string, root: JsonAst): JsonStyle {
  let colon: string | undefined;
  let comma: string | undefined;
  const visit = (n: JsonAst): void => {
    if (colon !== undefined && comma !== undefined) return;
    if (n.kind === 'object') {
      const [a, b] = n.members;
      if (a && colon === undefined) colon = text.slice(a.keyEnd, a.value.start);
      if (a && b && comma === undefined) {
        const between = text.slice(a.value.end, b.keyStart);
        if (!between.includes('\n')) comma = between;
      }
      for (const m of n.members) visit(m.value);
    } else if (n.kind === 'array') {
      const [a, b] = n.items;
      if (a && b && comma === undefined) {
        const between = text.slice(a.end, b.start);
        if (!between.includes('\n')) comma = between;
      }
      for (const i of n.items) visit(i);
    }
  };
  visit(root);
  const c = colon !== undefined && /^\s*:\s*$/.test(colon) && !colon.includes('\n') ? colon : ':';
  const m = comma !== undefined && /^\s*,\s*$/.test(comma) ? comma : c.endsWith(' ') ? ', ' : ',';
  return { colon: c, comma: m };
}

/** `{"key"<colon>valueText}` in the given style. */
export function objectText(style: JsonStyle, key: string, valueText: string): string {
  return `{${JSON.stringify(key)}${style.colon}${valueText}}`;
}

/**
 * The edit that adds member `key` with raw `valueText` to `obj`: after its last member, separated like
 * that object's own members (pretty-printed objects keep their indentation), or as the only member.
 */
export function insertMemberEdit(text: string, obj: JsonObjectAst, key: string, valueText: string, style: JsonStyle): JsonEdit {
  const keyText = JSON.stringify(key);
  const ms = obj.members;
  if (ms.length === 0) return { start: obj.start, end: obj.end, text: objectText(style, key, valueText) };
  const last = ms[ms.length - 1]!;
  const colon = text.slice(last.keyEnd, last.value.start);
  let comma: string;
  if (ms.length >= 2) {
    comma = text.slice(ms[ms.length - 2]!.value.end, last.keyStart);
  } else {
    const lead = text.slice(obj.start + 1, ms[0]!.keyStart);
    comma = lead.includes('\n') ? `,${lead}` : style.comma;
  }
  return { start: last.value.end, end: last.value.end, text: `${comma}${keyText}${colon}${valueText}` };
}
