// Serves the pages under src/web/public (the dashboard at the platform's `/`, the mirror's page at the mirror's `/`).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** Beside this module, so it resolves the same from src/ and from a compiled copy (a build copies `public/` along). */
export const publicFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Reads every file of the folder once: a handful of small files, held in memory and revalidated by ETag. */
function loadFolder(folder: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of fs.readdirSync(folder)) {
    const type = types[path.extname(name)];
    if (!type) continue;
    const body = fs.readFileSync(path.join(folder, name));
    files.set(name, { body, type, etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
  }
  return files;
}

/** Registers GET `/` (the given page) and GET `/assets/{file}` on an app; routes are hidden from the OpenAPI document. */
export function servePage(app: FastifyInstance, page: string, folder = publicFolder): void {
  const files = loadFolder(folder);
  const reply = (name: string, file: StaticFile | undefined, ifNoneMatch: string | undefined, res: import('fastify').FastifyReply) => {
    // The same refusal shape as every other route, so tools and fuzzers read it like the API's.
    if (!file)
      return res.status(404).send({ error: { code: 'not_found', message: `${name} is not a file of this page (see / for the page)` } });
    res.header('etag', file.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
    if (ifNoneMatch === file.etag) return res.status(304).send();
    return res.type(file.type).send(file.body);
  };
  const pageFile = files.get(page);
  if (!pageFile) throw new Error(`${page} is missing from ${folder}`);
  app.get('/', { schema: { hide: true } }, async (request, res) => {
    res.header(
      'content-security-policy',
      "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:",
    );
    return reply(page, pageFile, request.headers['if-none-match'], res);
  });
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, res) =>
    reply(request.params.file, files.get(request.params.file), request.headers['if-none-match'], res),
  );
}
