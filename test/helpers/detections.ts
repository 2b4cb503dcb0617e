import assert from 'node:assert/strict';

export interface DetList {
  keys: string[];
  scores: ArrayLike<number>;
  boxes: ArrayLike<number>;
}

/**
 * Golden rule for detections: the (anchor, label) sets equal; order equal except between entries whose
 * reference scores are within `swapTol`; scores and boxes per pair within tolerance. Returns max errors.
 */
export function compareDetections(ours: DetList, ref: DetList, o: { scoreAtol: number; scoreRtol?: number; boxAtol: number; boxRtol?: number; swapTol: number; swapRelative?: boolean; label: string }): { score: number; box: number } {
  const { label } = o;
  assert.equal(ours.keys.length, ref.keys.length, `${label}: ${ours.keys.length} detections, reference ${ref.keys.length}`);
  const refPos = new Map(ref.keys.map((k, i) => [k, i]));
  assert.equal(refPos.size, ref.keys.length, `${label}: duplicate reference keys`);
  const missing = ours.keys.filter((k) => !refPos.has(k));
  assert.deepEqual(missing, [], `${label}: detections not in the reference`);
  let ms = 0;
  let mb = 0;
  ours.keys.forEach((k, i) => {
    const j = refPos.get(k)!;
    if (i !== j) {
      const a = ref.scores[i];
      const b = ref.scores[j];
      const tol = o.swapRelative ? o.swapTol * Math.abs(b) : o.swapTol;
      assert.ok(Math.abs(a - b) <= tol, `${label}: position ${i} holds reference entry ${j} (scores ${a} vs ${b})`);
    }
    const ds = Math.abs(ours.scores[i] - ref.scores[j]);
    ms = Math.max(ms, ds);
    assert.ok(ds <= o.scoreAtol + (o.scoreRtol ?? 0) * Math.abs(ref.scores[j]), `${label}: score of ${k}: ours ${ours.scores[i]} ref ${ref.scores[j]}`);
    for (let c = 0; c < 4; c++) {
      const r = ref.boxes[4 * j + c];
      const d = Math.abs(ours.boxes[4 * i + c] - r);
      mb = Math.max(mb, d);
      assert.ok(d <= o.boxAtol + (o.boxRtol ?? 0) * Math.abs(r), `${label}: box of ${k}[${c}]: ours ${ours.boxes[4 * i + c]} ref ${r}`);
    }
  });
  return { score: ms, box: mb };
}
