/**
 * Optional command-line values copied into typed arguments and options without ever writing `undefined` into
 * an optional field (exactOptionalPropertyTypes): the last value of a repeated yargs option, the options that
 * were given, and the fields of parsed arguments that are set.
 */

/** The last value of a (possibly repeated) yargs option as a string; undefined when it was not given. */
export function lastValue(v: unknown): string | undefined {
  return Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v);
}

/**
 * The `fields` whose option was given in `argv`, each as its last value. An option is read under the field's
 * own name (yargs' camel-case key) unless `keyOf` names another (`{ registriesD: 'registries.d' }`):
 * `{ ...givenOptions(argv, ['key', 'registriesD'], { registriesD: 'registries.d' }) }`.
 */
export function givenOptions<F extends string>(argv: Record<string, unknown>, fields: readonly F[], keyOf: Partial<Record<F, string>> = {}): { [P in F]?: string } {
  const out: { [P in F]?: string } = {};
  for (const field of fields) {
    const v = lastValue(argv[keyOf[field] ?? field]);
    if (v !== undefined) out[field] = v;
  }
  return out;
}

/** The fields of `from` named in `keys` that are set (not undefined): `{ ...definedFields(a, ['key', 'keypass']) }`. */
export function definedFields<T extends object, K extends keyof T>(from: T, keys: readonly K[]): { [P in K]?: Exclude<T[P], undefined> } {
  const out: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const k of keys) {
    const v = from[k];
    if (v !== undefined) out[k] = v as Exclude<T[K], undefined>;
  }
  return out;
}
