/**
 * A static file server for the built app: 127.0.0.1 only, COOP/COEP headers (so the page is
 * cross-origin isolated and onnxruntime-web may use threads), the shipped samples under /samples/.
 * Extra mounts map URL prefixes to folders (tests serve golden files this way, without copying them).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.idx': 'application/octet-stream',
};

export interface AppServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `root` at /, plus `mounts` (URL prefix like '/golden/' -> folder). Port 0 picks a free one. */
export function serveApp(root: string, port: number, mounts: Record<string, string> = {}): Promise<AppServer> {
  const table = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let base = root;
    let rel = path;
    for (const [prefix, dir] of table) {
      if (path.startsWith(prefix)) {
        base = dir;
        rel = path.slice(prefix.length - 1);
        break;
      }
    }
    const file = resolve(base, '.' + normalize(rel));
    const headers: Record<string, string> = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-cache',
    };
    let target = file;
    if (!(target === resolve(base) || target.startsWith(resolve(base) + sep))) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    if (existsSync(target) && statSync(target).isDirectory()) target = join(target, 'index.html');
    if (!existsSync(target) || !statSync(target).isFile()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const st = statSync(target);
    // Revalidation (no-cache + Last-Modified) as a plain static server does, so the browser's
    // HTTP and compiled-wasm caches work on a second visit.
    headers['Last-Modified'] = st.mtime.toUTCString();
    const since = req.headers['if-modified-since'];
    if (since && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(since) / 1000)) {
      res.writeHead(304, headers).end();
      return;
    }
    headers['Content-Type'] = MIME[extname(target).toLowerCase()] ?? 'application/octet-stream';
    headers['Content-Length'] = String(st.size);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else createReadStream(target).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const p = (server.address() as { port: number }).port;
      ok({ url: `http://127.0.0.1:${p}/`, port: p, close: () => new Promise((c) => server.close(() => c())) });
    });
  });
}
