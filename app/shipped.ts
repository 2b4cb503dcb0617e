/** What this build ships: the default models, named by models/default.json (content-hashed file names), and the sample image lists. */

export type ShippedModel = 'file' | 'detector' | 'segmenter';
const WHAT: Record<ShippedModel, string> = { file: 'classifier', detector: 'detector', segmenter: 'segmenter' };

let index: Promise<Partial<Record<ShippedModel, string>>> | null = null;

/** The URL of a shipped default: 'file' (the classifier), 'detector' or 'segmenter'. */
export async function shippedModelUrl(key: ShippedModel, base: URL): Promise<string> {
  index ??= fetch(new URL('models/default.json', base)).then((r) => {
    if (!r.ok) throw new Error(`this build ships no default models (models/default.json: HTTP ${r.status})`);
    return r.json() as Promise<Partial<Record<ShippedModel, string>>>;
  });
  const file = (await index)[key];
  if (!file) throw new Error(`this build ships no default ${WHAT[key]} (see tools/ship_default.ts)`);
  return new URL(`models/${file}`, base).href;
}

/** The file names listed in `<folder>/index.json` ('samples', 'samples/scenes'); none when the build has no list. */
export async function sampleList(folder: string, base: URL): Promise<string[]> {
  try {
    const r = await fetch(new URL(`${folder}/index.json`, base));
    return r.ok ? ((await r.json()) as string[]) : [];
  } catch {
    return [];
  }
}
