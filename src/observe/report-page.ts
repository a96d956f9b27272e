// reportPage(): the code that runs in the browser. It is type-checked here and embedded into
// report.html as its source text (Function.prototype.toString), so it must stand alone: no
// imports at run time, nothing from this module's scope. It draws each chart of the report's
// data with uPlot (bundled into the page), cursors synced across charts, run starts marked;
// each chart's element gets data-points (points drawn) and data-drawn, and the body data-ready
// once every chart has drawn — what the Chromium test and the open-time bench wait for.

import type uPlotT from 'uplot';
import type { ReportData } from './report-data.js';

export function reportPage(data: ReportData, U: typeof uPlotT): void {
  const palette = ['#1f6fb4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];
  const elapsed = (s: number | null | undefined): string => {
    if (s === null || s === undefined || !Number.isFinite(s)) return '';
    const v = Math.max(0, Math.round(s));
    const d = Math.floor(v / 86400);
    const h = Math.floor((v % 86400) / 3600);
    const m = Math.floor((v % 3600) / 60);
    const sec = v % 60;
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
    if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
    return `${sec}s`;
  };
  const num = (v: number | null | undefined): string => {
    if (v === null || v === undefined || !Number.isFinite(v)) return '';
    const a = Math.abs(v);
    if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
    return String(+v.toFixed(a < 10 ? 2 : 1));
  };
  const plots: Array<{ u: uPlotT; el: HTMLElement }> = [];
  let pending = 0;
  const drawnOnce = () => {
    pending--;
    if (pending === 0) {
      document.body.dataset.ready = '1';
      (window as unknown as { __reportReady: number }).__reportReady = performance.now();
    }
  };
  const widthOf = (el: HTMLElement) => Math.max(320, Math.floor(el.getBoundingClientRect().width) || 900);
  const starts = data.runs.filter((r) => r.n > 1);
  const markRuns = (u: uPlotT) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = '#888';
    ctx.fillStyle = '#555';
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = 1;
    ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
    for (const r of starts) {
      const px = Math.round(u.valToPos(r.x0, 'x', true));
      if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(px, u.bbox.top);
      ctx.lineTo(px, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText(`run ${r.n}`, px + 4, u.bbox.top + 12 * devicePixelRatio);
    }
    ctx.restore();
  };
  /** Points actually handed to uPlot: x positions where some series has a value. */
  const countPoints = (cols: Array<ArrayLike<number | null>>) => {
    let n = 0;
    for (let i = 0; i < cols[0].length; i++) {
      for (let k = 1; k < cols.length; k++) {
        if (cols[k][i] !== null && cols[k][i] !== undefined) {
          n++;
          break;
        }
      }
    }
    return n;
  };
  const track = (el: HTMLElement, points: number) => {
    pending++;
    let drawn = false;
    return (u: uPlotT) => {
      if (drawn) return;
      drawn = true;
      el.dataset.points = String(points);
      el.dataset.drawn = '1';
      void u;
      drawnOnce();
    };
  };

  for (const c of data.charts) {
    const el = document.getElementById(`chart-${c.id}`);
    if (!el) continue;
    const cols: uPlotT.AlignedData = [c.x, ...c.series.map((s) => s.values)] as uPlotT.AlignedData;
    const hasRight = c.series.some((s) => s.right);
    const onDraw = track(el, countPoints(cols as Array<ArrayLike<number | null>>));
    const axes: uPlotT.Axis[] = [
      { values: (_u, splits) => splits.map(elapsed), size: 36 },
      { scale: 'y', label: c.unit, size: 64, values: (_u, splits) => splits.map(num) },
    ];
    if (hasRight) axes.push({ scale: 'y2', side: 1, label: c.rightUnit, size: 56, grid: { show: false }, values: (_u, splits) => splits.map(num) });
    const opts: uPlotT.Options = {
      width: widthOf(el),
      height: 220,
      scales: { x: { time: false }, ...(hasRight ? { y2: { range: [0, 100] } } : {}) },
      series: [
        { label: 'job time', value: (_u, v) => elapsed(v) },
        ...c.series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 1.5, scale: s.right ? 'y2' : 'y', spanGaps: false, points: { show: false }, value: (_u: uPlotT, v: number | null) => num(v) })),
      ],
      axes,
      cursor: { sync: { key: 'gempipe-job' } },
      hooks: { draw: [markRuns, onDraw] },
    };
    plots.push({ u: new U(opts, cols, el), el });
  }

  // The latency distribution: one bar per histogram bucket, over the whole job.
  const dist = document.getElementById('chart-latency-dist');
  if (dist && data.latency.counts.length > 0) {
    const idx = data.latency.counts.map((_, i) => i);
    const onDraw = track(dist, data.latency.counts.length);
    const ms = (v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
    const label = (v: number) => {
      const i = Math.round(v);
      return i >= 0 && i < data.latency.upperMs.length && Math.abs(v - i) < 1e-6 ? `≤${ms(data.latency.upperMs[i])}` : '';
    };
    const opts: uPlotT.Options = {
      width: widthOf(dist),
      height: 220,
      scales: { x: { time: false, range: [-0.5, idx.length - 0.5] } },
      series: [
        { label: 'bucket', value: (_u, v) => label(v) },
        { label: 'attempts', fill: 'rgba(31,111,180,0.55)', stroke: palette[0], paths: U.paths.bars!({ size: [0.85, 64] }), points: { show: false } },
      ],
      axes: [
        { values: (_u, splits) => splits.map(label), size: 40 },
        { label: 'attempts', size: 64, values: (_u, splits) => splits.map(num) },
      ],
      hooks: { draw: [onDraw] },
    };
    plots.push({ u: new U(opts, [idx, data.latency.counts], dist), el: dist });
  }

  if (pending === 0) {
    document.body.dataset.ready = '1';
    (window as unknown as { __reportReady: number }).__reportReady = performance.now();
  }
  let resizing = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => {
      for (const p of plots) p.u.setSize({ width: widthOf(p.el), height: 220 });
    });
  });
}
