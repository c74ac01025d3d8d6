// The mirror's /rules API (JSON or YAML in, JSON out, errors as { error: { code, message } }) and its HTML page.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import YAML from 'yaml';
import { invalidInput, notFound } from '../errors.ts';
import type { MirrorContext } from '../mirror/mirror-context.ts';
import { type Channels, checkChannels } from '../mirror/notify/channels.ts';
import { checkRules as dryRun } from '../mirror/notify/check-rules.ts';
import { readNotifyStatus } from '../mirror/notify/read-notify-status.ts';
import { checkRules, type RuleDefinition } from '../mirror/notify/rules.ts';
import { flushDigests, listRules, putRules, removeRules } from '../mirror/notify/rules-store.ts';
import { sendTestMessage } from '../mirror/notify/send-test-message.ts';
import { ApiError } from './errors.ts';
import { rulesPage } from './mirror-rules-page.ts';

/** Rules from a request body: a rules file (YAML or JSON, `rules: [...]` or a list) or one rule. */
function rulesFromBody(body: unknown): RuleDefinition[] {
  let document: unknown = body;
  if (typeof body === 'string') {
    try {
      document = YAML.parse(body, { uniqueKeys: true });
    } catch (error) {
      throw new ApiError(400, 'malformed_body', `the body is not valid JSON or YAML: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const list = Array.isArray(document)
    ? document
    : typeof document === 'object' && document !== null && 'rules' in document
      ? (document as { rules: unknown }).rules
      : document === null || document === undefined
        ? undefined
        : [document];
  if (!Array.isArray(list)) throw new ApiError(400, 'malformed_body', 'send a rule, a list of rules, or { "rules": [...] }');
  // Environment variables are substituted by the CLI, which reads the file on the operator's machine; never here,
  // where a rule could copy the mirror's own environment into a message.
  return checkRules(list, {});
}

function prefersHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html !== -1 && (json === -1 || html < json);
}

function flag(value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  return !['false', '0', 'no', 'off'].includes(String(value).toLowerCase());
}

export function registerRuleRoutes(app: FastifyInstance, context: MirrorContext, channels: Channels): void {
  const token = context.settings.rulesToken;
  const authorize = (request: FastifyRequest) => {
    if (!token) return;
    const given = Buffer.from(String(request.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
    const expected = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError(401, 'unauthorized', 'changing rules and sending tests needs Authorization: Bearer <the --rules-token>');
    }
  };
  const checkReachable = async (rules: readonly RuleDefinition[], query: Record<string, unknown>) => {
    if (!flag(query.checkChannels, true)) return;
    const problems = await checkChannels(rules, channels, context.settings.notifyTimeoutMs);
    if (problems.length > 0) throw invalidInput(problems.join('; '), problems, 'unreachable_channel');
  };

  app.get('/rules', async (request, reply) => {
    if (prefersHtml(request)) return reply.type('text/html; charset=utf-8').send(rulesPage());
    const [rules, status] = await Promise.all([listRules(context.database.db), readNotifyStatus(context)]);
    return { rules, channels: status.channels, notifications: { ...status, channels: undefined } };
  });

  app.get<{ Params: { name: string } }>('/rules/:name', async (request) => {
    const summary = (await listRules(context.database.db)).find((rule) => rule.definition.name === request.params.name);
    if (!summary) throw notFound(`the rule "${request.params.name}"`);
    const messages = await context.database.db
      .selectFrom('notification_messages')
      .select(['id', 'state', 'test', 'item_count', 'attempts', 'in_doubt', 'created_at', 'next_attempt_at', 'sent_at', 'last_error'])
      .where('rule_id', '=', summary.id)
      .orderBy('id', 'desc')
      .limit(20)
      .execute();
    return {
      rule: summary,
      messages: messages.map((message) => ({
        id: message.id,
        state: message.state,
        test: Boolean(message.test),
        items: message.item_count,
        attempts: message.attempts,
        inDoubt: message.in_doubt,
        createdAt: new Date(Number(message.created_at)).toISOString(),
        nextAttemptAt: message.state === 'pending' ? new Date(Number(message.next_attempt_at)).toISOString() : null,
        sentAt: message.sent_at === null ? null : new Date(Number(message.sent_at)).toISOString(),
        lastError: message.last_error,
      })),
    };
  });

  // Adds the rules given, or replaces those of the same name; the others stay.
  app.post<{ Querystring: Record<string, unknown> }>('/rules', async (request) => {
    authorize(request);
    const rules = rulesFromBody(request.body);
    await checkReachable(rules, request.query);
    return putRules(context.database.db, rules, { now: context.now() });
  });

  // The body becomes the whole rule set: rules not in it are removed (their unsent messages cancelled).
  app.put<{ Querystring: Record<string, unknown> }>('/rules', async (request) => {
    authorize(request);
    const rules = rulesFromBody(request.body);
    await checkReachable(rules, request.query);
    return putRules(context.database.db, rules, { now: context.now(), replaceAll: true });
  });

  app.delete<{ Params: { name: string } }>('/rules/:name', async (request) => {
    authorize(request);
    const removed = await removeRules(context.database.db, [request.params.name]);
    if (removed.length === 0) throw notFound(`the rule "${request.params.name}"`);
    return { removed };
  });

  app.post<{ Querystring: { last?: string } }>('/rules/check', async (request) => {
    const last = request.query.last === undefined ? 100 : Number(request.query.last);
    if (!Number.isSafeInteger(last) || last < 1 || last > 100_000) throw invalidInput('last must be a whole number from 1 to 100000');
    const rules = rulesFromBody(request.body);
    return dryRun(context.database.db, rules, { last, now: context.now(), digestWindowMs: context.settings.notifyDigestWindowMs });
  });

  // Sends the rule's open digests now instead of at the end of their window.
  app.post<{ Params: { name: string } }>('/rules/:name/flush', async (request) => {
    authorize(request);
    const names = (await listRules(context.database.db)).map((rule) => rule.definition.name);
    if (!names.includes(request.params.name)) throw notFound(`the rule "${request.params.name}"`);
    return { digests: await flushDigests(context.database.db, [request.params.name], context.now()) };
  });

  app.post<{ Params: { name: string } }>('/rules/:name/test', async (request, reply) => {
    authorize(request);
    const result = await sendTestMessage(context, channels, request.params.name);
    const failure = { error: { code: 'channel_failed', message: `the test could not be sent: ${result.detail}` }, ...result };
    return reply.status(result.ok ? 200 : 502).send(result.ok ? result : failure);
  });
}
