/**
 * Safe descriptions of file-derived values for error messages (core: no Node built-ins): control
 * characters become visible escapes, long strings are shortened, and nested values are described
 * to a bounded depth (a hostile file can nest lists millions deep; String() on them overflows the stack).
 */

// C0 and C1 controls, DEL, and the bidirectional overrides that reorder terminal text.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Replaces control characters with \xNN / \uNNNN escapes. */
export function escapeControl(s: string): string {
  return s.replace(CONTROL, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** A file-derived string as it may appear in a message: escaped and at most `max` characters. */
export function cleanText(s: string, max = 120): string {
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return escapeControl(t);
}

/** A short, bounded description of any value a pickle or JSON header may produce. */
export function describeValue(v: unknown, depth = 2): string {
  if (v === null || v === undefined) return 'None';
  switch (typeof v) {
    case 'string':
      return `'${cleanText(v, 60)}'`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return cleanText(String(v), 40);
    case 'object':
      break;
    default:
      return typeof v;
  }
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) {
    if (depth <= 0) return `[…${v.length} items]`;
    const items = v.slice(0, 6).map((x) => describeValue(x, depth - 1));
    return `(${items.join(', ')}${v.length > 6 ? `, …${v.length - 6} more` : ''})`;
  }
  if (v instanceof Map) return `dict(${v.size} items)`;
  if (v instanceof Set) return `set(${v.size} items)`;
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name && name !== 'Object' ? `a ${cleanText(name, 40)} object` : 'an object';
}
