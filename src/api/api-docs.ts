// The API reference at /docs: the OpenAPI document (for tools, and for `curl /docs`) and a small page that renders it
// for a browser, without a bundle to download. Answers described only as "Default Response" get real descriptions.

const statusWords: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted: the work is queued',
  '204': 'Done; no body',
  '400': 'The request is malformed or fails validation; `error.message` says which field',
  '401': 'No token, or an unknown one',
  '404': 'Not found, or not visible to this token',
  '409': 'The current state does not allow it',
  '429': 'Rate limit reached; wait for `retry-after` seconds',
};

interface Operation {
  summary?: string;
  responses?: Record<string, { description?: string }>;
}

/** Replaces each "Default Response" with what the status means for that operation. */
export function describeResponses<T extends object>(document: T): T {
  const { paths } = document as { paths?: Record<string, Record<string, Operation | string>> };
  for (const operations of Object.values(paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (typeof operation !== 'object') continue;
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description && response.description !== 'Default Response') continue;
        const word = statusWords[status] ?? `HTTP ${status}`;
        response.description = status.startsWith('2') && operation.summary ? `${word}. ${operation.summary}` : word;
      }
    }
  }
  return document;
}

/** A browser asking for /docs gets the page; anything else (curl, tools) the OpenAPI JSON. */
export function wantsPage(accept: string | undefined): boolean {
  return Boolean(accept?.includes('text/html'));
}

/** The reference page: fetches /docs/json and lists every operation by tag with its parameters, body and answers. */
export const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>learnhook API reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #1d1d1f; }
  h1 { margin-bottom: 0 } nav a { margin-right: .8rem } h2 { border-bottom: 1px solid #ddd; margin-top: 2rem }
  details { border: 1px solid #e3e3e3; border-radius: 6px; margin: .4rem 0; padding: .3rem .6rem }
  summary { cursor: pointer } code, pre { font: 13px/1.4 ui-monospace, monospace } pre { background: #f6f6f6; padding: .5rem; overflow: auto }
  .method { display: inline-block; min-width: 4rem; font-weight: 600 } .GET { color: #0a6 } .POST { color: #06c } .PATCH { color: #b60 } .DELETE { color: #c00 }
  table { border-collapse: collapse } td, th { border: 1px solid #e3e3e3; padding: .2rem .5rem; text-align: left; vertical-align: top }
</style>
</head>
<body>
<h1>learnhook API reference</h1>
<p>Every call takes <code>Authorization: Bearer TOKEN</code> (the admin token <code>serve</code> printed, or an account token).
Errors are <code>{"error": {"code", "message"}}</code>. The raw OpenAPI document: <a href="/docs/json">/docs/json</a>.</p>
<nav id="tags"></nav>
<main id="reference"><p>Loading…</p></main>
<script>
const text = (value) => String(value ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const schemaText = (schema) => text(JSON.stringify(schema, null, 2));
fetch('/docs/json').then((r) => r.json()).then((doc) => {
  const byTag = new Map();
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(operations)) {
      const tag = op.tags?.[0] ?? 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method: method.toUpperCase(), op });
    }
  }
  document.getElementById('tags').innerHTML = [...byTag.keys()].map((tag) => '<a href="#' + text(tag) + '">' + text(tag) + '</a>').join('');
  document.getElementById('reference').innerHTML = [...byTag].map(([tag, list]) => '<h2 id="' + text(tag) + '">' + text(tag) + '</h2>' + list.map(({ path, method, op }) => {
    const params = (op.parameters ?? []).map((p) => '<tr><td><code>' + text(p.name) + '</code></td><td>' + text(p.in) + (p.required ? ', required' : '') + '</td><td>' + text(p.description ?? p.schema?.description ?? '') + '</td></tr>').join('');
    const body = op.requestBody?.content?.['application/json']?.schema;
    const answers = Object.entries(op.responses ?? {}).map(([status, r]) => '<tr><td>' + text(status) + '</td><td>' + text(r.description) + '</td></tr>').join('');
    return '<details><summary><span class="method ' + method + '">' + method + '</span> <code>' + text(path) + '</code> — ' + text(op.summary ?? '') + '</summary>' +
      (params ? '<h4>Parameters</h4><table>' + params + '</table>' : '') +
      (body ? '<h4>Body</h4><pre>' + schemaText(body) + '</pre>' : '') +
      (answers ? '<h4>Answers</h4><table>' + answers + '</table>' : '') + '</details>';
  }).join('')).join('');
}).catch((error) => { document.getElementById('reference').textContent = 'Could not load /docs/json: ' + error.message; });
</script>
</body>
</html>
`;
