import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/**
 * The dashboard's files: src/dashboard beside the sources, dist/dashboard (copied by `npm run build`)
 * beside the compiled code; both are two folders up from this file.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Serves the dashboard: `/` is its page, `/dashboard/<file>` its scripts and styles, and
 * `/dashboard/vendor/dagre.js` the DAG layout library from the package's dependencies. The files are read
 * once, when the app is built, and each gets a route of its own (no path is ever joined from a URL). They
 * need no login: they hold no data, only the code that asks for it.
 */
export async function registerDashboardAssets(app: FastifyInstance): Promise<{ bytes: number }> {
  const assets = new Map<string, Asset>();
  for (const file of await filesUnder(DASHBOARD_DIR)) {
    const type = TYPES[extname(file)];
    if (type === undefined) continue;
    const path = relative(DASHBOARD_DIR, file).split(sep).join('/');
    assets.set(path === 'index.html' ? '/' : `/dashboard/${path}`, asset(await readFile(file), type));
  }
  // dist/dagre.esm.js is self-contained (graphlib bundled in) and runs in a browser as it is.
  const dagreDir = dirname(createRequire(import.meta.url).resolve('@dagrejs/dagre/package.json'));
  const dagre = await readFile(join(dagreDir, 'dist', 'dagre.esm.js'), 'utf8');
  // Without its source map comment: the map is not served.
  const stripped = dagre.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  assets.set('/dashboard/vendor/dagre.js', asset(Buffer.from(stripped, 'utf8'), TYPES['.js']!));

  for (const [url, { body, type, etag }] of assets) {
    app.get(url, async (request, reply) => {
      // Revalidated on every load, so a new version of the server never runs with an old page.
      reply.header('cache-control', 'no-cache').header('etag', etag).type(type);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.send(body);
    });
  }
  let bytes = 0;
  for (const { body } of assets.values()) bytes += body.length;
  return { bytes };
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}
