/** The end-of-training HTML report: loss and accuracy curves, and the confusion matrix (self-contained SVG). */
import type { EvalResult } from './evaluate.js';
import type { EpochRecord } from './fit.js';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** About five round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const tickLabel = (v: number, step: number) => (step >= 1 ? v.toFixed(0) : v.toFixed(Math.min(6, Math.ceil(-Math.log10(step) + 1e-9))));

function chart(title: string, series: { name: string; color: string; ys: (number | null)[] }[], xs: number[], yLabel: string): string {
  const W = 460;
  const H = 260;
  const L = 52;
  const R = 16;
  const T = 30;
  const B = 40;
  const all = series.flatMap((s) => s.ys.filter((y): y is number => y !== null && Number.isFinite(y)));
  if (all.length === 0 || xs.length === 0) return '';
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1e-9) (hi += 0.5), (lo -= 0.5);
  const yt = niceTicks(lo, hi);
  lo = Math.min(lo, yt[0]);
  hi = Math.max(hi, yt[yt.length - 1]);
  const x0 = xs[0];
  const x1 = Math.max(xs[xs.length - 1], x0 + 1);
  const x = (v: number) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const y = (v: number) => H - B - ((v - lo) / (hi - lo)) * (H - T - B);
  const xt = niceTicks(x0, x1, Math.min(10, x1 - x0)).filter((v) => Number.isInteger(v));
  const lines = series
    .map((s) => {
      const pts = s.ys.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${x(xs[i]).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
      const dots = pts.length === 1 ? `<circle cx="${pts[0]!.split(',')[0]}" cy="${pts[0]!.split(',')[1]}" r="3" fill="${s.color}"/>` : '';
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>${dots}`;
    })
    .join('');
  const legend = series.map((s, i) => `<text x="${L + i * 200}" y="14" fill="${s.color}" font-size="12">${esc(s.name)}</text>`).join('');
  const ystep = yt.length > 1 ? yt[1] - yt[0] : 1;
  const yTicks = yt
    .map((v) => `<line x1="${L - 4}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${L - 6}" y="${(y(v) + 3).toFixed(1)}" font-size="10" text-anchor="end">${tickLabel(v, ystep)}</text>`)
    .join('');
  const xTicks = xt.map((v) => `<line x1="${x(v).toFixed(1)}" y1="${H - B}" x2="${x(v).toFixed(1)}" y2="${H - B + 4}" stroke="#999"/><text x="${x(v).toFixed(1)}" y="${H - B + 15}" font-size="10" text-anchor="middle">${v}</text>`).join('');
  const axis = `${yTicks}<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>${xTicks}
<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">epoch</text><text transform="translate(12 ${(T + H - B) / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(yLabel)}</text>`;
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${axis}${lines}${legend}</svg></figure>`;
}

function confusionTable(r: EvalResult, names: readonly string[]): string {
  const max = Math.max(...r.confusion.flat());
  const head = `<tr><th>true \\ predicted</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}<th>accuracy</th></tr>`;
  const rows = r.confusion
    .map((row, i) => {
      const cells = row.map((v) => `<td style="background:rgba(30,90,200,${(v / Math.max(1, max)).toFixed(3)})">${v}</td>`).join('');
      return `<tr><th>${esc(names[i])}</th>${cells}<td>${(100 * r.perClass[i]).toFixed(1)}%</td></tr>`;
    })
    .join('');
  return `<table>${head}${rows}</table>`;
}

/** `labelSmoothing`: the smoothing of the training loss (the validation loss is plain cross-entropy). */
export function trainingReport(o: { title: string; command: string; history: EpochRecord[]; test: EvalResult | null; classNames: readonly string[]; notes?: string[]; labelSmoothing?: number }): string {
  const xs = o.history.map((h) => h.epoch);
  const ls = o.labelSmoothing ?? 0;
  const trainLossName = ls > 0 ? `train loss (label smoothing ${ls})` : 'train loss (cross-entropy)';
  const loss = chart(
    ls > 0 ? 'loss — the training loss is label-smoothed, so it stays above the plain validation loss of the same predictions' : 'loss',
    [
      { name: trainLossName, color: '#d33', ys: o.history.map((h) => h.trainLoss) },
      { name: 'val loss (cross-entropy)', color: '#36c', ys: o.history.map((h) => h.val?.loss ?? null) },
    ],
    xs,
    'loss per image',
  );
  const dense = o.history.find((h) => h.metrics)?.metrics;
  const palette = ['#36c', '#d33', '#393', '#c6c', '#f90', '#333'];
  const acc = dense
    ? chart(
        'validation metrics',
        Object.keys(dense.metrics)
          .filter((k) => ['AP', 'AP50', 'AP75', 'mIoU', 'pixelAccuracy'].includes(k))
          .map((k, i) => ({ name: k, color: palette[i % palette.length], ys: o.history.map((h) => (h.metrics ? 100 * h.metrics.metrics[k] : null)) })),
        xs,
        '%',
      )
    : chart(
    'accuracy',
    [
      { name: 'train acc (augmented views)', color: '#d33', ys: o.history.map((h) => 100 * h.trainAcc) },
      { name: 'val top-1', color: '#36c', ys: o.history.map((h) => (h.val ? 100 * h.val.top1 : null)) },
    ],
    xs,
    'accuracy %',
  );
  const rows = o.history
    .map((h) => `<tr><td>${h.epoch}</td><td>${h.trainLoss.toFixed(4)}</td><td>${Number.isFinite(h.trainAcc) ? (100 * h.trainAcc).toFixed(2) : ''}</td><td>${h.val ? (100 * h.val.top1).toFixed(2) : h.metrics ? (100 * h.metrics.metrics[h.metrics.primary]).toFixed(2) : ''}</td><td>${h.lr.toExponential(2)}</td><td>${h.imgPerSec.toFixed(0)}</td><td>${h.seconds.toFixed(0)}</td></tr>`)
    .join('');
  const test = o.test
    ? `<h2>Test set</h2><p>top-1 <b>${(100 * o.test.top1).toFixed(2)}%</b>${o.classNames.length > 5 ? `, top-5 ${(100 * o.test.top5).toFixed(2)}%` : ''} on ${o.test.count} images</p>${confusionTable(o.test, o.classNames)}`
    : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}figure{display:inline-block;margin:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head>
<body><h1>${esc(o.title)}</h1><p><code>${esc(o.command)}</code></p>${(o.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join('')}
${loss}${acc}
<h2>Epochs</h2><table><tr><th>epoch</th><th>${esc(trainLossName)}</th><th>train acc %</th><th>${dense ? `val ${esc(dense.primary)} %` : 'val top-1 %'}</th><th>lr</th><th>img/s</th><th>s</th></tr>${rows}</table>
${test}</body></html>\n`;
}
