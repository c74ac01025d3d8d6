// The rules table: add, replace, remove and list rules (with their last sends and failures); the projector's cached read.
import { type Kysely, sql, type Transaction } from 'kysely';
import type { MirrorSchema } from '../schema.ts';
import { type CompiledRule, compileRule, type RuleDefinition } from './rules.ts';

type Db = Kysely<MirrorSchema> | Transaction<MirrorSchema>;

/** Per transaction: the rules read once for all the events the transaction applies. */
const rulesByTransaction = new WeakMap<object, Promise<CompiledRule[]>>();
/** Compiled rules by id and stored text, so a batch does not parse conditions again. */
const compiled = new Map<string, CompiledRule>();

/** The enabled rules as this transaction sees them (rules changed by another process apply from its next transaction). */
export function activeRules(trx: Transaction<MirrorSchema>): Promise<CompiledRule[]> {
  let rules = rulesByTransaction.get(trx);
  if (!rules) {
    rules = trx
      .selectFrom('notification_rules')
      .select(['id', 'definition'])
      .orderBy('id')
      .execute()
      .then((rows) =>
        rows
          .map((row) => {
            const key = `${row.id} ${row.definition}`;
            let rule = compiled.get(key);
            if (!rule) {
              if (compiled.size > 1000) compiled.clear();
              rule = compileRule(row.id, JSON.parse(row.definition) as RuleDefinition);
              compiled.set(key, rule);
            }
            return rule;
          })
          .filter((rule) => rule.definition.enabled !== false),
      );
    rulesByTransaction.set(trx, rules);
  }
  return rules;
}

export interface StoredRule {
  id: number;
  definition: RuleDefinition;
  createdAt: string;
  updatedAt: string;
}

export interface RuleSummary extends StoredRule {
  sent: number;
  pending: number;
  failed: number;
  /** Sends started again after a process died mid-send (each possibly received twice). */
  inDoubt: number;
  lastSentAt: string | null;
  lastFailure: { at: string; error: string } | null;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

function stored(row: { id: number; definition: string; created_at: number; updated_at: number }): StoredRule {
  return {
    id: Number(row.id),
    definition: JSON.parse(row.definition) as RuleDefinition,
    createdAt: iso(row.created_at) as string,
    updatedAt: iso(row.updated_at) as string,
  };
}

export async function getRule(db: Db, name: string): Promise<StoredRule | undefined> {
  const row = await db.selectFrom('notification_rules').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? stored(row) : undefined;
}

/** Every rule with its outbox counts, its last send and its last failure. */
export async function listRules(db: Db): Promise<RuleSummary[]> {
  const rows = await db.selectFrom('notification_rules').selectAll().orderBy('name').execute();
  const counts = await db
    .selectFrom('notification_messages')
    .select([
      'rule_id',
      'state',
      sql<number>`count(*)`.as('count'),
      sql<number>`sum(in_doubt)`.as('in_doubt'),
      sql<number | null>`max(sent_at)`.as('last_sent_at'),
    ])
    .where('test', '=', 0)
    .groupBy(['rule_id', 'state'])
    .execute();
  const failures = await db
    .selectFrom('notification_messages')
    .select(['rule_id', sql<number>`max(id)`.as('id')])
    .where('last_error', 'is not', null)
    .groupBy('rule_id')
    .execute();
  const failureRows =
    failures.length === 0
      ? []
      : await db
          .selectFrom('notification_messages')
          .select(['rule_id', 'last_error', 'last_attempt_at'])
          .where(
            'id',
            'in',
            failures.map((failure) => Number(failure.id)),
          )
          .execute();
  return rows.map((row) => {
    const mine = counts.filter((count) => Number(count.rule_id) === Number(row.id));
    const byState = (state: string) => Number(mine.find((count) => count.state === state)?.count ?? 0);
    const lastSent = mine.reduce<number | null>(
      (latest, count) => (count.last_sent_at === null ? latest : Math.max(latest ?? 0, Number(count.last_sent_at))),
      null,
    );
    const failure = failureRows.find((candidate) => Number(candidate.rule_id) === Number(row.id));
    return {
      ...stored(row),
      sent: byState('sent'),
      pending: byState('pending'),
      failed: byState('failed'),
      inDoubt: mine.reduce((sum, count) => sum + Number(count.in_doubt ?? 0), 0),
      lastSentAt: iso(lastSent),
      lastFailure: failure?.last_error ? { at: iso(failure.last_attempt_at) as string, error: failure.last_error } : null,
    };
  });
}

export interface RulesChange {
  added: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
}

/** Cancels the messages of a rule that are not sent yet (its rule is gone: nothing would render them). */
async function cancelPending(trx: Transaction<MirrorSchema>, ruleIds: readonly number[]): Promise<void> {
  if (ruleIds.length === 0) return;
  await trx
    .updateTable('notification_messages')
    .set({ state: 'cancelled', lease_token: null, lease_until: null })
    .where('rule_id', 'in', [...ruleIds])
    .where('state', '=', 'pending')
    .execute();
}

/**
 * Stores rules by name in one transaction: new names are added, changed ones replaced (their pending messages are
 * rendered with the new text). With `replaceAll`, rules not given are removed: the file becomes the whole set.
 */
export async function putRules(
  db: Kysely<MirrorSchema>,
  definitions: readonly RuleDefinition[],
  options: { now: number; replaceAll?: boolean },
): Promise<RulesChange> {
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('notification_rules').selectAll().execute();
    const byName = new Map(existing.map((row) => [row.name, row]));
    const change: RulesChange = { added: [], updated: [], unchanged: [], removed: [] };
    for (const definition of definitions) {
      const text = JSON.stringify(definition);
      const current = byName.get(definition.name);
      if (!current) {
        await trx
          .insertInto('notification_rules')
          .values({ name: definition.name, definition: text, created_at: options.now, updated_at: options.now })
          .execute();
        change.added.push(definition.name);
      } else if (current.definition !== text) {
        await trx
          .updateTable('notification_rules')
          .set({ definition: text, updated_at: options.now })
          .where('id', '=', current.id)
          .execute();
        change.updated.push(definition.name);
      } else change.unchanged.push(definition.name);
    }
    if (options.replaceAll) {
      const keep = new Set(definitions.map((definition) => definition.name));
      const gone = existing.filter((row) => !keep.has(row.name));
      await cancelPending(
        trx,
        gone.map((row) => Number(row.id)),
      );
      for (const row of gone) await trx.deleteFrom('notification_rules').where('id', '=', row.id).execute();
      change.removed.push(...gone.map((row) => row.name));
    }
    return change;
  });
}

/** Removes rules by name; their unsent messages are cancelled. Returns the names that existed. */
export async function removeRules(db: Kysely<MirrorSchema>, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('notification_rules')
      .select(['id', 'name'])
      .where('name', 'in', [...names])
      .execute();
    await cancelPending(
      trx,
      rows.map((row) => Number(row.id)),
    );
    if (rows.length > 0)
      await trx
        .deleteFrom('notification_rules')
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .execute();
    return rows.map((row) => row.name);
  });
}

/** Makes the open digests of the named rules (all rules when none is named) due now: "send the daily digest now". */
export async function flushDigests(db: Kysely<MirrorSchema>, names: readonly string[], now: number): Promise<number> {
  let rules = db.selectFrom('notification_rules').select('id');
  if (names.length > 0) rules = rules.where('name', 'in', [...names]);
  const result = await db
    .updateTable('notification_messages')
    .set({ next_attempt_at: now })
    .where('state', '=', 'pending')
    .where('sealed_at', 'is', null)
    .where('next_attempt_at', '>', now)
    .where('rule_id', 'in', rules)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
