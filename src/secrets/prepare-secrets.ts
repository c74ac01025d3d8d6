// At start: refuse a secret key other than the one the database's secrets are sealed with, and seal what an older
// version left in plaintext (the migration to sealed credentials marks those rows; the key is only known here).
import { ConfigError } from '../config.ts';
import type { ProducerContext } from '../context.ts';
import { isUniqueViolation } from '../store/constraint-errors.ts';

/** The sealing owner of a webhook's secrets: a sealed value opens only on the webhook it was sealed for. */
export const webhookOwner = (webhookId: string) => `webhook:${webhookId}`;

/** Records the key's fingerprint on first use; afterwards a different key is refused with the way out. */
async function checkKey(context: ProducerContext): Promise<void> {
  const { db } = context.database;
  const { secrets } = context;
  let row = await db.selectFrom('sealing_key').select('fingerprint').where('id', '=', 1).executeTakeFirst();
  if (!row) {
    try {
      await db.insertInto('sealing_key').values({ id: 1, fingerprint: secrets.fingerprint, created_at: context.now() }).execute();
      return;
    } catch (error) {
      // Another process recorded its key at the same moment: compare with that one.
      if (!isUniqueViolation(error)) throw error;
      row = await db.selectFrom('sealing_key').select('fingerprint').where('id', '=', 1).executeTakeFirstOrThrow();
    }
  }
  if (row.fingerprint !== secrets.fingerprint)
    throw new ConfigError(
      `the secret key from ${secrets.source} (fingerprint ${secrets.fingerprint}) is not the key this database's webhook secrets are sealed with (fingerprint ${row.fingerprint}); start with the same --secret-key (LEARNHOOK_SECRET_KEY) or key file as the processes before`,
    );
}

/** Seals the plaintext passwords and secrets of rows written before sealing existed; returns how many rows. */
async function sealPlaintextRows(context: ProducerContext): Promise<number> {
  const { db } = context.database;
  const rows = await db
    .selectFrom('webhooks')
    .select(['id', 'basic_password', 'secret', 'previous_secret'])
    .where('plaintext_secrets', '=', 1)
    .execute();
  let sealed = 0;
  for (const row of rows) {
    const owner = webhookOwner(row.id);
    const seal = (value: string | null) => (value === null ? null : context.secrets.seal(value, owner));
    // Conditional, so two processes starting together never seal a row twice.
    const result = await db
      .updateTable('webhooks')
      .set({
        basic_password: seal(row.basic_password),
        secret: seal(row.secret),
        previous_secret: seal(row.previous_secret),
        plaintext_secrets: 0,
      })
      .where('id', '=', row.id)
      .where('plaintext_secrets', '=', 1)
      .executeTakeFirst();
    sealed += Number(result.numUpdatedRows);
  }
  return sealed;
}

export async function prepareSecrets(context: ProducerContext): Promise<void> {
  await checkKey(context);
  const sealed = await sealPlaintextRows(context);
  if (sealed > 0) context.logger.info({ webhooks: sealed }, 'sealed the plaintext passwords and signing secrets an older version stored');
}
