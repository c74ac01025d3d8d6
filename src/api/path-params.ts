// Numbers at the HTTP edge: ids and counts have one documented range, so every id a route accepts fits both stores,
// JavaScript's numbers and the path pattern. Path and query numbers arrive as text (the app does not coerce types),
// so they are validated as digit strings and read here.
import { type TInteger, type TString, Type } from '@sinclair/typebox';
import { maxId } from '../platform/domain.ts';

export { maxId };

/** The range of `maxId` as text: a whole number written with at most fifteen digits. */
const digitPattern = { positive: '^[1-9][0-9]{0,14}$', any: '^[0-9]{1,15}$' } as const;

/** A whole number written in digits (path segments and query values), within the id range. */
export function digits(options: { positive?: boolean; description?: string } = {}): TString {
  return Type.String({
    pattern: options.positive === false ? digitPattern.any : digitPattern.positive,
    ...(options.description ? { description: options.description } : {}),
  });
}

/** Whether a text is a whole number `digits({ positive: false })` would accept (for values read by hand). */
export function isDigits(text: string): boolean {
  return new RegExp(digitPattern.any).test(text);
}

/** An id in a JSON body (account, user): 1 to `maxId`. */
export function IdNumber(options: { description?: string } = {}): TInteger {
  return Type.Integer({ minimum: 1, maximum: maxId, ...options });
}

/** A count or an amount in a JSON body (seconds, seats): 0 to `maxId`. */
export function WholeNumber(options: { description?: string } = {}): TInteger {
  return Type.Integer({ minimum: 0, maximum: maxId, ...options });
}

export const AccountParams = Type.Object({ accountId: digits() });

/** The number a digit string validated by `digits()` stands for; undefined stays undefined. */
export function numberOf<T extends string | undefined>(text: T): T extends string ? number : number | undefined {
  return (text === undefined ? undefined : Number(text)) as T extends string ? number : number | undefined;
}

/** `?after=N&limit=N` of a list: continue after the previous page's `next`. */
export const AfterPage = Type.Object({
  after: Type.Optional(digits({ positive: false })),
  limit: Type.Optional(digits({ positive: true })),
});
