// /docs: a browser gets a readable reference, tools the OpenAPI document, and every answer has a real description.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { openTestPlatform } from '../../test/support/test-platform.ts';

const sqlite = (await testDialects()).find((dialect) => dialect.name === 'sqlite')!;

test('/docs renders for a browser; /docs and /docs/json give the OpenAPI document with no "Default Response"', async () => {
  const platform = await openTestPlatform(sqlite);
  try {
    const page = await platform.app.inject({ method: 'GET', url: '/docs', headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /learnhook API reference/);
    assert.match(page.body, /fetch\('\/docs\/json'\)/);
    for (const url of ['/docs', '/docs/json']) {
      const document = (await platform.app.inject({ method: 'GET', url })).json() as {
        paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
      };
      const retry = document.paths['/v1/accounts/{accountId}/webhooks/{webhookId}/retry']?.post;
      assert.ok(retry, `${url} lists POST …/webhooks/{webhookId}/retry`);
      for (const [path, operations] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          for (const [status, answer] of Object.entries(operation.responses)) {
            assert.notEqual(answer.description, 'Default Response', `${method.toUpperCase()} ${path} ${status}`);
          }
        }
      }
    }
  } finally {
    await platform.close();
  }
});
