// Small line charts of the last minutes, drawn as SVG polylines.

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#4fb3ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff9bce', '#8a96a3'];
const W = 600, H = 150, PAD_LEFT = 44, PAD_BOTTOM = 16, PAD_TOP = 8;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent.appendChild(node);
  return node;
}

const short = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/**
 * Draws `series` ([{ name, points: [[t, v], ...] }]) into `svg`, over the
 * time range of the points; y from 0 to the largest value.
 */
export function drawChart(svg, series) {
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const all = series.flatMap((s) => s.points);
  if (all.length < 2) {
    el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, svg).textContent = 'collecting…';
    return;
  }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const top = Math.max(1, ...all.map((p) => p[1]));
  const x = (t) => PAD_LEFT + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD_LEFT - 4);
  const y = (v) => H - PAD_BOTTOM - (v / top) * (H - PAD_BOTTOM - PAD_TOP);
  el('line', { class: 'axis', x1: PAD_LEFT, y1: H - PAD_BOTTOM, x2: W, y2: H - PAD_BOTTOM }, svg);
  el('line', { class: 'axis', x1: PAD_LEFT, y1: PAD_TOP, x2: PAD_LEFT, y2: H - PAD_BOTTOM }, svg);
  el('text', { x: PAD_LEFT - 4, y: PAD_TOP + 8, 'text-anchor': 'end' }, svg).textContent = short.format(top);
  el('text', { x: PAD_LEFT - 4, y: H - PAD_BOTTOM, 'text-anchor': 'end' }, svg).textContent = '0';
  el('text', { x: PAD_LEFT, y: H - 3 }, svg).textContent = `-${Math.round((t1 - t0) / 1000)}s`;
  el('text', { x: W - 4, y: H - 3, 'text-anchor': 'end' }, svg).textContent = 'now';
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    el('polyline', { stroke: color, points: s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ') }, svg);
    el('text', { x: PAD_LEFT + 8 + (i % 4) * 130, y: PAD_TOP + 10 + Math.floor(i / 4) * 12, fill: color }, svg).textContent = s.name;
  });
}

/** The series of one chart from the frames: `pick(frame)` gives { name: value }. */
export function seriesOf(frames, pick) {
  const byName = new Map();
  for (const frame of frames) {
    for (const [name, value] of Object.entries(pick(frame))) {
      if (value === undefined) continue;
      (byName.get(name) ?? byName.set(name, []).get(name)).push([frame.at, value]);
    }
  }
  return [...byName].map(([name, points]) => ({ name, points }));
}
