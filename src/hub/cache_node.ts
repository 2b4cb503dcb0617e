/** Node: the per-user cache folder for converted pretrained weights. */
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

/**
 * $HYBRIDVISION_CACHE if set; else the platform's user cache folder: $XDG_CACHE_HOME or ~/.cache on
 * Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows; then `hybridvision` inside it.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HYBRIDVISION_CACHE) return env.HYBRIDVISION_CACHE;
  const os = platform();
  if (os === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'hybridvision', 'Cache');
  if (os === 'darwin') return join(homedir(), 'Library', 'Caches', 'hybridvision');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hybridvision');
}

/** HYBRIDVISION_OFFLINE=1 (or true/yes): never touch the network. */
export function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test(env.HYBRIDVISION_OFFLINE ?? '');
}
