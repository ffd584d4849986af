// The operator GUI's files (web/dist/, built by `npm run build:web`), served by `syncord serve`
// on its HTTP port for every path that is not the API's or the health endpoints': a file of the
// build when there is one, else index.html (the page's router takes the path). index.html is
// never cached without a check; assets/* carry a content hash in their names and are cached for
// good. Nothing outside the build directory is ever read.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type http from 'node:http';
import { extname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { PACKAGE_ROOT } from '../models/package-root.js';

/** Where `npm run build:web` writes the page. */
export const WEB_DIST = join(PACKAGE_ROOT, 'web', 'dist');

export const NOT_BUILT = 'the GUI is not built: run npm run build:web\n';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';

export type StaticHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function text(res: http.ServerResponse, code: number, body: string, head: boolean): void {
  res.writeHead(code, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : body);
}

/** Whether `file` is `dir` or lies under it. */
function inside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** The file of `dir` a URL path names; undefined when the path leaves the directory. */
function within(dir: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const file = resolve(dir, `.${sep}${decoded}`);
  return inside(dir, file) ? file : undefined;
}

async function fileAt(
  dir: string,
  file: string,
): Promise<{ path: string; size: number; mtime: Date } | undefined> {
  try {
    const s = await stat(file);
    if (!s.isFile()) return undefined;
    // A link inside the build that leads out of it is not followed.
    const real = await realpath(file);
    if (!inside(await realpath(dir), real)) return undefined;
    return { path: real, size: s.size, mtime: s.mtime };
  } catch {
    return undefined;
  }
}

/** Serves the build in `dir` (default web/dist). GET and HEAD only. */
export function staticSite(dir: string = WEB_DIST): StaticHandler {
  const root = resolve(dir);
  const serveFile = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      text(res, 405, `${String(req.method)}: the page is read with GET or HEAD\n`, false);
      return;
    }
    const path = (req.url ?? '/').split(/[?#]/)[0] ?? '/';
    const wanted = within(root, path);
    if (wanted === undefined) {
      text(res, 403, 'forbidden: the path leaves the GUI build\n', head);
      return;
    }
    let found = path.endsWith('/') ? undefined : await fileAt(root, wanted);
    const asset = relative(root, wanted).split(sep)[0] === 'assets';
    if (!found && asset) {
      // A missing asset is not the page (a script would get HTML).
      text(res, 404, `not found: ${path}\n`, head);
      return;
    }
    if (!found) {
      found = await fileAt(root, join(root, 'index.html'));
      if (!found) {
        text(res, 503, NOT_BUILT, head);
        return;
      }
    }
    const etag = `W/"${found.size.toString(16)}-${Math.floor(found.mtime.getTime()).toString(16)}"`;
    const headers: http.OutgoingHttpHeaders = {
      'content-type': TYPES[extname(found.path).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': asset ? IMMUTABLE : 'no-cache',
      'last-modified': found.mtime.toUTCString(),
      etag,
      'x-content-type-options': 'nosniff',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': found.size });
    if (head) {
      res.end();
      return;
    }
    const stream = createReadStream(found.path);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
  return (req, res) => {
    serveFile(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else text(res, 500, `${err instanceof Error ? err.message : String(err)}\n`, false);
    });
  };
}
