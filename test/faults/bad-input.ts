// Generators of bad HTTP input for the fuzzer: nasty values, bad JSON text, mutated bodies, bad path params and queries.
import fc from 'fast-check';

/** A JSON literal written as is (a number JavaScript cannot hold, a lone surrogate…): JSON.stringify cannot make these. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text of a value that may hold RawJson literals and own `__proto__` keys. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .map((key) => `${JSON.stringify(key)}:${toJsonText((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** An object with an own `__proto__` key, as JSON.parse makes one. */
function withProtoKey(value: unknown): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  Object.defineProperty(object, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  return object;
}

const nastyNumbers = [
  0,
  -1,
  -0.5,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 2,
  2 ** 63,
  1e20,
  9.3e18,
  8.64e15 + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];
const nastyLiterals = ['99999999999999999999', '9223372036854775808', '-9223372036854775809', '1e400', '-0', '1E+2', '0.0000001'];
const nastyStrings = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '😀',
  'ü\u200b\u202e',
  '__proto__',
  'constructor',
  'course:1',
  'course:1_1',
  'course:99999999999999999999',
  'course:-1',
  '2026-13-45T99:99:99Z',
  '2026-02-30T00:00:00.000Z',
  '1e308',
  'NaN',
  'null',
  'http://169.254.169.254/latest/meta-data/',
  'javascript:alert(1)',
  '../../etc/passwd',
  '%00',
];

/** A value of any JSON type that a field should refuse (or store exactly). */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  // The hand-picked values found defects before: drawn about half the time.
  { weight: 8, arbitrary: fc.constantFrom<unknown>(...nastyNumbers, ...nastyStrings, null, true, false, [], {}) },
  { weight: 3, arbitrary: fc.constantFrom(...nastyLiterals).map((text) => new RawJson(text)) },
  fc.constant(new RawJson('"\\ud800"')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: 300, max: 70_000 }).map((length) => 'x'.repeat(length)),
  fc.double(),
  fc.integer(),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }).map((value) => withProtoKey(value)),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/** Text that is no JSON at all, or JSON of the wrong shape for a body. */
export const badJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '{', '{"a":', '[1,]', "{'a':1}", '{"a":1}{', 'nul', '\u0000', '{"a":1,}', '{"__proto__":', '\uFEFF{}'),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .jsonValue({ maxDepth: 2 })
    .filter((value) => value === null || typeof value !== 'object' || Array.isArray(value))
    .map(toJsonText),
  fc.constant('{"a":'.repeat(2000)),
);

/** Keys of a plausible object: a path to one place in it (empty = the value itself). */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const paths: (string | number)[][] = [prefix];
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) paths.push(...pathsOf(item, [...prefix, index]));
  } else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...prefix, key]));
  return paths;
}

type Mutation =
  | { kind: 'replace'; value: unknown }
  | { kind: 'delete' }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'proto'; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: nastyValue.map((value) => ({ kind: 'replace' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
  {
    weight: 1,
    arbitrary: fc
      .record({ key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('constructor', 'prototype', 'id', '')), value: nastyValue })
      .map((added) => ({ kind: 'add' as const, ...added })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).map((value) => ({ kind: 'proto' as const, value })) },
);

function clone(value: unknown): unknown {
  if (value instanceof RawJson) return value;
  if (Array.isArray(value)) return value.map(clone);
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(copy, key, {
        value: clone((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  return value;
}

function apply(value: unknown, path: (string | number)[], change: Mutation): unknown {
  if (path.length === 0) {
    if (change.kind === 'replace') return change.value;
    if (change.kind === 'delete') return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return change.kind === 'add' ? change.value : value;
    const target = value as Record<string, unknown>;
    const key = change.kind === 'add' ? change.key : '__proto__';
    Object.defineProperty(target, key, { value: change.value, enumerable: true, writable: true, configurable: true });
    return target;
  }
  const [head, ...rest] = path;
  const container = value as Record<string | number, unknown>;
  const next = apply(container[head as string], rest, change);
  if (next === undefined && Array.isArray(container)) container.splice(head as number, 1);
  else if (next === undefined) delete container[head as string];
  else container[head as string] = next;
  return container;
}

/** A plausible body with one to three of its places (those `within` accepts) replaced, deleted or given extra keys. */
export function mutatedBody(plausible: unknown, within: (path: (string | number)[]) => boolean = () => true): fc.Arbitrary<string> {
  const paths = pathsOf(plausible).filter(within);
  return fc.array(fc.tuple(fc.constantFrom(...paths), mutation), { minLength: 1, maxLength: 3 }).map((changes) => {
    let body = clone(plausible);
    for (const [path, change] of changes) {
      // A path may be gone after an earlier change: then that change falls on the whole body.
      let reachable = true;
      let cursor: unknown = body;
      for (const key of path) {
        if (cursor === null || typeof cursor !== 'object' || !(key in (cursor as object))) reachable = false;
        else cursor = (cursor as Record<string | number, unknown>)[key];
      }
      body = apply(body, reachable ? path : [], change) ?? {};
    }
    return toJsonText(body);
  });
}

/** A path parameter no route should take: out of range, not a number, NUL bytes, unicode, too long. */
export const badPathParam: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1.5',
    '1e3',
    '1e308',
    '9007199254740993',
    '9223372036854775808',
    '99999999999999999999',
    '999999999999999',
    'NaN',
    '__proto__',
    'constructor',
    'course:99999999999999999999',
    'course:1_99999999999999999999',
    'course:0',
    'wh_',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
  fc.integer({ min: 200, max: 3000 }).map((length) => '9'.repeat(length)),
);

/** A query string with bad values for the route's own parameters and unknown ones. */
export function badQuery(knownKeys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(...knownKeys, '__proto__', 'constructor', 'page[limit]', 'page[cursor]'),
    fc.string({ maxLength: 10 }),
  );
  const value = fc.oneof(
    badPathParam,
    fc.constantFrom('', '-5', '0', '1,2,3,4,5,6,7,8,9,10,11', 'instances,users', 'course:1,course:2', '2026-13-45T99:99:99Z'),
  );
  return fc
    .array(fc.tuple(key, value, fc.boolean()), { minLength: 1, maxLength: 4 })
    .map((pairs) =>
      pairs.map(([name, text, repeat]) => {
        const pair = `${encodeURIComponent(name)}=${encodeURIComponent(text)}`;
        return repeat ? `${pair}&${pair}` : pair;
      }),
    )
    .map((pairs) => `?${pairs.join('&')}`);
}

/** Authorization headers that must be refused. */
export const badAuthorization: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(undefined, '', 'Bearer', 'Bearer ', 'Bearer nope', 'Basic YTpi', 'bearer lh_admin_test ', 'Bearer lh_admin_tes'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((token) => `Bearer ${token}`),
);
