/**
 * `npm run app`: builds the app (app/ -> app/dist/) and serves it on 127.0.0.1:$PORT (default 5173)
 * with COOP/COEP headers; the build copies the shipped samples to /samples/<file> (listed in
 * /samples/index.json), the sample scenes to /samples/scenes/ and the default classifier, detector
 * and segmenter to /models/ (named by /models/default.json). `--no-build` serves the last build. $HYBRIDVISION_WEIGHTS (a folder) is served at /weights/, so ?model=NAME finds
 * NAME.safetensors there.
 */
import { join } from 'node:path';
import { buildApp } from './app_build.js';
import { serveApp } from './app_server.js';
import { REPO_ROOT } from './repo_root.js';

const noBuild = process.argv.includes('--no-build');
const port = Number(process.env.PORT ?? 5173);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`error: PORT must be a port number, got ${process.env.PORT}`);
  process.exit(2);
}
try {
  const out = join(REPO_ROOT, 'app', 'dist');
  if (!noBuild) await buildApp(out);
  const mounts: Record<string, string> = {};
  if (process.env.HYBRIDVISION_WEIGHTS) mounts['/weights/'] = process.env.HYBRIDVISION_WEIGHTS;
  const s = await serveApp(out, port, mounts);
  console.log(`hybridvision app: ${s.url}  (Ctrl+C to stop)`);
} catch (e) {
  console.error(`error: ${(e as Error).message.split('\n')[0]}`);
  process.exit(1);
}
