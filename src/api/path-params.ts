// Path and query numbers arrive as text and the app does not coerce types, so they are validated as digit strings and read here.
import { type TString, Type } from '@sinclair/typebox';

/** A whole number written in digits (path segments and query values). */
export function digits(options: { positive?: boolean; description?: string } = {}): TString {
  return Type.String({
    pattern: options.positive === false ? '^[0-9]{1,15}$' : '^[1-9][0-9]{0,14}$',
    ...(options.description ? { description: options.description } : {}),
  });
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
