/** The end-of-training HTML report: loss and accuracy curves, and the confusion matrix (self-contained SVG). */
import type { EvalResult } from './evaluate.js';
import type { EpochRecord } from './fit.js';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function chart(title: string, series: { name: string; color: string; ys: (number | null)[] }[], xs: number[]): string {
  const W = 420;
  const H = 240;
  const P = 36;
  const all = series.flatMap((s) => s.ys.filter((y): y is number => y !== null && Number.isFinite(y)));
  if (all.length === 0) return '';
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1e-9) (hi += 0.5), (lo -= 0.5);
  const x = (v: number) => P + ((v - xs[0]) / Math.max(1, xs[xs.length - 1] - xs[0])) * (W - 2 * P);
  const y = (v: number) => H - P - ((v - lo) / (hi - lo)) * (H - 2 * P);
  const lines = series
    .map((s) => {
      const pts = s.ys.map((v, i) => (v === null ? null : `${x(xs[i]).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`;
    })
    .join('');
  const legend = series.map((s, i) => `<text x="${P + i * 130}" y="16" fill="${s.color}" font-size="12">${esc(s.name)}</text>`).join('');
  const axis = `<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#999"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#999"/>
<text x="2" y="${y(hi) + 4}" font-size="10">${hi.toFixed(3)}</text><text x="2" y="${y(lo) + 4}" font-size="10">${lo.toFixed(3)}</text>
<text x="${W / 2}" y="${H - 6}" font-size="11" text-anchor="middle">epoch</text>`;
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

export function trainingReport(o: { title: string; command: string; history: EpochRecord[]; test: EvalResult | null; classNames: readonly string[]; notes?: string[] }): string {
  const xs = o.history.map((h) => h.epoch);
  const loss = chart('loss', [
    { name: 'train loss', color: '#d33', ys: o.history.map((h) => h.trainLoss) },
    { name: 'val loss', color: '#36c', ys: o.history.map((h) => h.val?.loss ?? null) },
  ], xs);
  const acc = chart('accuracy', [
    { name: 'train acc', color: '#d33', ys: o.history.map((h) => h.trainAcc) },
    { name: 'val top-1', color: '#36c', ys: o.history.map((h) => h.val?.top1 ?? null) },
  ], xs);
  const rows = o.history
    .map((h) => `<tr><td>${h.epoch}</td><td>${h.trainLoss.toFixed(4)}</td><td>${(100 * h.trainAcc).toFixed(2)}</td><td>${h.val ? (100 * h.val.top1).toFixed(2) : ''}</td><td>${h.lr.toExponential(2)}</td><td>${h.imgPerSec.toFixed(0)}</td><td>${h.seconds.toFixed(0)}</td></tr>`)
    .join('');
  const test = o.test
    ? `<h2>Test set</h2><p>top-1 <b>${(100 * o.test.top1).toFixed(2)}%</b>, top-5 ${(100 * o.test.top5).toFixed(2)}% on ${o.test.count} images</p>${confusionTable(o.test, o.classNames)}`
    : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}figure{display:inline-block;margin:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head>
<body><h1>${esc(o.title)}</h1><p><code>${esc(o.command)}</code></p>${(o.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join('')}
${loss}${acc}
<h2>Epochs</h2><table><tr><th>epoch</th><th>train loss</th><th>train acc %</th><th>val top-1 %</th><th>lr</th><th>img/s</th><th>s</th></tr>${rows}</table>
${test}</body></html>\n`;
}
