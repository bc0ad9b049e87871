import { describe, expect, it } from 'vitest';
import {
  applyEdits,
  astToLossless,
  astToValue,
  canonicalJson,
  compareCodePoints,
  detectStyle,
  insertMemberEdit,
  JsonNumberLiteral,
  JsonDuplicateKeyError,
  JsonSyntaxError,
  parseJsonAst,
  parseJsonStrict,
  pythonFloatRepr,
  pythonJsonDumps,
  type JsonObjectAst,
} from './canonical-json.js';
import { isDsvError } from './errors.js';

// Expected strings below were produced by CPython 3 (json.dumps, canonicaljson's settings:
// sort_keys=True, separators=(',', ':'), ensure_ascii=False) and pasted here.
const SOURCE =
  '{"b":1,"a":[1.0,2,1e5,-0,-0.0,12345678901234567890123],"\\ud83d\\ude00":"x","\\uffff":"y","\u00e9":"\\u00e9\\n\\u007f\\u0001\\u2028/","A":{"z":null,"y":true}}';
const PY_DUMPS =
  '{"b": 1, "a": [1.0, 2, 100000.0, 0, -0.0, 12345678901234567890123], "\\ud83d\\ude00": "x", "\\uffff": "y", "\\u00e9": "\\u00e9\\n\\u007f\\u0001\\u2028/", "A": {"z": null, "y": true}}';
const PY_CANONICAL =
  '{"A":{"y":true,"z":null},"a":[1.0,2,100000.0,0,-0.0,12345678901234567890123],"b":1,"\u00e9":"\u00e9\\n\u007f\\u0001\u2028/","\uffff":"y","\ud83d\ude00":"x"}';

describe('canonicalJson', () => {
  it('matches Python canonicaljson on a lossless parse (numbers, code-point key order, escapes)', () => {
    expect(canonicalJson(astToLossless(parseJsonAst(SOURCE)))).toBe(PY_CANONICAL);
  });

  it('sorts keys by code point, not UTF-16 code unit', () => {
    // U+FFFF sorts before U+1F600 by code point, after it by UTF-16 unit (0xD83D < 0xFFFF).
    expect(canonicalJson({ '\u{1F600}': 1, '\uffff': 2 })).toBe('{"\uffff":2,"\u{1F600}":1}');
    expect(compareCodePoints('\u{1F600}', '\uffff')).toBe(1);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('b', 'b')).toBe(0);
  });

  it('writes plain JS numbers as Python ints/floats and refuses non-finite numbers', () => {
    expect(canonicalJson({ a: 1, b: 2.5, c: -0, d: 1e21 })).toBe('{"a":1,"b":2.5,"c":0,"d":1000000000000000000000}');
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => canonicalJson({ x: bad })).toThrow(/no canonical JSON form/);
    }
  });

  it('refuses lone surrogates (no UTF-8 form) and omits undefined members', () => {
    expect(() => canonicalJson({ x: '\ud800' })).toThrow(/surrogate/);
    expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow(/surrogate/);
    expect(canonicalJson({ a: undefined, b: [null, true, false, 'x'] })).toBe('{"b":[null,true,false,"x"]}');
    expect(() => canonicalJson([undefined])).toThrow(TypeError);
  });

  it('keeps a "__proto__" key as data', () => {
    const v = astToValue(parseJsonAst('{"__proto__":{"x":1},"a":2}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(canonicalJson(v)).toBe('{"__proto__":{"x":1},"a":2}');
  });
});

describe('pythonJsonDumps', () => {
  it('matches Python json.dumps on the same document', () => {
    expect(pythonJsonDumps(astToLossless(parseJsonAst(SOURCE)))).toBe(PY_DUMPS);
  });

  it('writes the signature list exactly as json.dumps(list)', () => {
    const list = [{ digest: 'sha256:x', signature: '-----BEGIN-----\n\u00e9\u{1F600}"\\\t\u007f' }];
    expect(pythonJsonDumps(list)).toBe('[{"digest": "sha256:x", "signature": "-----BEGIN-----\\n\\u00e9\\ud83d\\ude00\\"\\\\\\t\\u007f"}]');
    expect(pythonJsonDumps([])).toBe('[]');
    expect(pythonJsonDumps({})).toBe('{}');
  });

  it('writes non-finite numbers the way Python does', () => {
    expect(pythonJsonDumps([NaN, Infinity, -Infinity, 0.5])).toBe('[NaN, Infinity, -Infinity, 0.5]');
  });
});

describe('pythonFloatRepr', () => {
  it('matches repr(float)', () => {
    const cases: [number, string][] = [
      [1.0, '1.0'],
      [0.1, '0.1'],
      [1e16, '1e+16'],
      [1e15, '1000000000000000.0'],
      [123456789012345678.0, '1.2345678901234568e+17'],
      [1e-5, '1e-05'],
      [0.0001, '0.0001'],
      [1.5e300, '1.5e+300'],
      [-2.5, '-2.5'],
      [1e22, '1e+22'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [0.30000000000000004, '0.30000000000000004'],
      [100.0, '100.0'],
      [12345.678, '12345.678'],
      [1e21, '1e+21'],
      [123e-20, '1.23e-18'],
      [-0.0, '-0.0'],
    ];
    for (const [x, want] of cases) expect(pythonFloatRepr(x)).toBe(want);
  });
});

describe('parseJsonAst', () => {
  it('agrees with JSON.parse on valid documents (last duplicate wins when duplicates are allowed)', () => {
    for (const text of ['{"a":1,"a":2}', '[1,-2.5e3,"\\u00e9\\/",true,false,null,{}]', ' \n"x" ', '0', '{"":{"":[]}}']) {
      expect(astToValue(parseJsonAst(text, { allowDuplicateKeys: true }))).toEqual(JSON.parse(text));
    }
  });

  it('refuses duplicate keys by default, at any depth, with the key and its offset', () => {
    for (const [text, key] of [['{"a":1,"a":2}', 'a'], ['{"x":{"Cmd":["/evil"],"Env":[],"Cmd":["/app"]}}', 'Cmd'], ['[{"__proto__":1,"__proto__":2}]', '__proto__'], ['{"\\u0041":1,"A":2}', 'A']] as const) {
      let err: unknown;
      try {
        parseJsonAst(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(JsonDuplicateKeyError);
      expect(err, text).toBeInstanceOf(JsonSyntaxError);
      expect((err as JsonDuplicateKeyError).key).toBe(key);
      expect((err as Error).message).toMatch(/^duplicate key ".*" at offset \d+$/);
    }
    expect(() => parseJsonStrict('{"a":{"b":1,"b":1}}', 'doc', 'ManifestInvalid')).toThrow(expect.objectContaining({ code: 'ManifestInvalid', message: expect.stringMatching(/^doc is not valid JSON: duplicate key "b"/) }));
    // the same key in sibling objects is fine
    expect(astToValue(parseJsonAst('[{"a":1},{"a":2}]'))).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('rejects what JSON.parse rejects', () => {
    const bad = ['', '{', '{"a":1,}', '[1,]', '01', '1.', '.5', '+1', 'NaN', 'Infinity', '-Infinity', "{'a':1}", '"\u0001"', '"\\x41"', '"\\u12"', 'tru', '{} {}', '[1 2]', '{"a" 1}', '{1:2}', '"abc', '1e', '--1', '/*c*/1'];
    for (const text of bad) {
      expect(() => parseJsonAst(text), text).toThrow(JsonSyntaxError);
      expect(() => JSON.parse(text), text).toThrow();
    }
  });

  it('limits nesting depth instead of overflowing the stack', () => {
    expect(() => parseJsonAst('['.repeat(5000) + ']'.repeat(5000))).toThrow(/nested deeper/);
  });

  it('keeps number literals and positions', () => {
    const ast = parseJsonAst('{"n": 1.50, "big": 123456789012345678901}') as JsonObjectAst;
    const v = astToLossless(ast) as Record<string, JsonNumberLiteral>;
    expect(v.n!.text).toBe('1.50');
    expect(canonicalJson(v)).toBe('{"big":123456789012345678901,"n":1.5}');
    expect(ast.members[0]!.value.start).toBe(6);
    expect(ast.members[0]!.value.end).toBe(10);
  });

  it('refuses invalid number literal objects', () => {
    expect(() => new JsonNumberLiteral('1.')).toThrow(TypeError);
  });
});

describe('in-place edits', () => {
  it('inserts members in the style of the surrounding object', () => {
    const cases: [string, string][] = [
      ['{"a":1}', '{"a":1,"k":"v"}'],
      ['{"a": 1}', '{"a": 1, "k": "v"}'],
      ['{"a": 1, "b": 2}', '{"a": 1, "b": 2, "k": "v"}'],
      ['{\n   "a": 1,\n   "b": 2\n}', '{\n   "a": 1,\n   "b": 2,\n   "k": "v"\n}'],
      ['{\n  "a": 1\n}\n', '{\n  "a": 1,\n  "k": "v"\n}\n'],
      ['{}', '{"k":"v"}'],
    ];
    for (const [text, want] of cases) {
      const ast = parseJsonAst(text) as JsonObjectAst;
      const edit = insertMemberEdit(text, ast, 'k', '"v"', detectStyle(text, ast));
      expect(applyEdits(text, [edit])).toBe(want);
    }
  });

  it('refuses overlapping edits', () => {
    expect(() => applyEdits('abcdef', [{ start: 0, end: 3, text: 'x' }, { start: 2, end: 4, text: 'y' }])).toThrow(/overlapping/);
    expect(applyEdits('abcdef', [{ start: 4, end: 5, text: 'Y' }, { start: 0, end: 1, text: 'X' }])).toBe('XbcdYf');
  });

  it('maps depth errors from serialisers to DsvError LimitExceeded', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1100; i++) deep = [deep];
    try {
      canonicalJson(deep);
      expect.unreachable();
    } catch (e) {
      expect(isDsvError(e, 'LimitExceeded')).toBe(true);
    }
  });
});
