/** Builds the app with Vite into `outDir` (default app/dist). */
import { join } from 'node:path';
import { REPO_ROOT } from './repo_root.js';

export async function buildApp(outDir = join(REPO_ROOT, 'app', 'dist')): Promise<string> {
  const { build } = await import('vite');
  process.env.HYBRIDVISION_APP_OUT = outDir;
  await build({ configFile: join(REPO_ROOT, 'app', 'vite.config.ts'), logLevel: 'warn' });
  return outDir;
}
