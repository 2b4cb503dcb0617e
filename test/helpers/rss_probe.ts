/**
 * Runs the hybridvision CLI in this process (arguments as for the CLI) and, at exit, writes the
 * process's peak resident set size in bytes to the file named by $HV_RSS_OUT. Used by
 * runLimited() to check that hostile inputs fail in bounded memory.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.HV_RSS_OUT;
process.on('exit', () => {
  if (out) writeFileSync(out, String(process.resourceUsage().maxRSS * 1024));
});
await import('../../src/cli/main.js');
