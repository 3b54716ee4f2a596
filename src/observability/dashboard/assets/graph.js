// Draws the topology as layered boxes and arrows in an SVG, then updates the
// numbers in place on every stats frame. The layout is computed here, small
// and dependency-free: a node's column is its longest path from a source,
// and nodes in a column are ordered by the average row of what feeds them.
import { ownedLagText, ownedText } from './partitions.js';

const SVG = 'http://www.w3.org/2000/svg';
const SIZE = { processor: [250, 84], source: [200, 56], sink: [200, 56], topic: [180, 44], dlq: [180, 44] };
const COLUMN_GAP = 70;
const ROW_GAP = 18;
const MARGIN = 24;
const LINE = 14;

/** The partitioned entry of a source or sink node, if it is partitioned. */
const partitionedOf = (topology, n) => (topology.partitioned ?? []).find((p) => p.kind === n.kind && p.name === n.name);

/** A node's box: partitioned sources get two more lines (partitions, lag per partition), partitioned sinks one. */
function sizeOf(topology, n) {
  const [w, h] = SIZE[n.kind];
  const entry = partitionedOf(topology, n);
  if (entry === undefined) return [w, h];
  return n.kind === 'source' ? [w + 40, h + 2 * LINE] : [w, h + LINE];
}

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** Positions every node: { id: { x, y, w, h, column } }. Exported for tests of the page. */
export function layout(topology) {
  const incoming = new Map(topology.nodes.map((n) => [n.id, []]));
  for (const e of topology.edges) incoming.get(e.to)?.push(e.from);
  const column = new Map();
  const depth = (id, seen = new Set()) => {
    if (column.has(id)) return column.get(id);
    if (seen.has(id)) return 0; // a cycle (not valid in a topology) must not hang the page
    seen.add(id);
    const from = incoming.get(id) ?? [];
    const c = from.length === 0 ? 0 : 1 + Math.max(...from.map((f) => depth(f, seen)));
    column.set(id, c);
    return c;
  };
  for (const n of topology.nodes) depth(n.id);
  const columns = [];
  for (const n of topology.nodes) (columns[column.get(n.id)] ??= []).push(n);
  // Two sweeps of the barycenter heuristic: fewer crossing edges.
  const row = new Map();
  columns.forEach((nodes) => nodes.forEach((n, i) => row.set(n.id, i)));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const nodes of columns.slice(1)) {
      const weight = (n) => {
        const from = incoming.get(n.id) ?? [];
        return from.length === 0 ? row.get(n.id) : from.reduce((s, f) => s + row.get(f), 0) / from.length;
      };
      nodes.sort((a, b) => weight(a) - weight(b) || (a.kind === 'dlq') - (b.kind === 'dlq'));
      nodes.forEach((n, i) => row.set(n.id, i));
    }
  }
  const heights = columns.map((nodes) => nodes.reduce((s, n) => s + sizeOf(topology, n)[1], 0) + ROW_GAP * (nodes.length - 1));
  const tallest = Math.max(...heights, 0);
  const positions = {};
  let x = MARGIN;
  columns.forEach((nodes, c) => {
    const width = Math.max(...nodes.map((n) => sizeOf(topology, n)[0]));
    let y = MARGIN + 14 + (tallest - heights[c]) / 2;
    for (const n of nodes) {
      const [w, h] = sizeOf(topology, n);
      positions[n.id] = { x: x + (width - w) / 2, y, w, h, column: c };
      y += h + ROW_GAP;
    }
    x += width + COLUMN_GAP;
  });
  return { positions, width: x - COLUMN_GAP + MARGIN, height: tallest + 2 * MARGIN + 14 };
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const ms = (v) => (v === undefined ? '–' : v < 1 ? `${fmt.format(v * 1000)}µs` : `${fmt.format(v)}ms`);

/** Renders the graph into `svg`; returns `update(frame)` that refreshes the numbers. */
export function renderGraph(svg, topology) {
  svg.replaceChildren();
  const { positions, width, height } = layout(topology);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));
  const defs = el('defs', {}, svg);
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
  el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#56606b' }, marker);

  // Stage groups: a dashed box around the processors that share a group id (fused into one worker task).
  const groups = new Map();
  for (const n of topology.nodes) if (n.group !== null && n.group !== undefined) (groups.get(n.group) ?? groups.set(n.group, []).get(n.group)).push(positions[n.id]);
  for (const [id, boxes] of groups) {
    if (boxes.length < 2) continue; // a group of one is just its processor
    const x0 = Math.min(...boxes.map((b) => b.x)) - 8, y0 = Math.min(...boxes.map((b) => b.y)) - 16;
    const x1 = Math.max(...boxes.map((b) => b.x + b.w)) + 8, y1 = Math.max(...boxes.map((b) => b.y + b.h)) + 8;
    const g = el('g', { class: 'group', 'data-group': id }, svg);
    el('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 8 }, g);
    el('text', { x: x0 + 6, y: y0 + 11 }, g).textContent = `stage group ${id}`;
  }

  for (const e of topology.edges) {
    const a = positions[e.from], b = positions[e.to];
    if (!a || !b) continue;
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x - 2, y2 = b.y + b.h / 2;
    const bend = Math.max(30, (x2 - x1) / 2);
    el('path', { class: `edge ${e.kind}`, d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }, svg);
    if (e.label) el('text', { class: 'edge-label', x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, 'text-anchor': 'middle' }, svg).textContent = e.label;
  }

  const cells = {};
  for (const n of topology.nodes) {
    const p = positions[n.id];
    const g = el('g', { class: `node ${n.kind}`, 'data-node': n.id, transform: `translate(${p.x},${p.y})` }, svg);
    el('rect', { width: p.w, height: p.h }, g);
    el('text', { class: 'name', x: 10, y: 18 }, g).textContent = n.name;
    const lines = [];
    const line = (cls, y) => { const t = el('text', { class: cls, x: 10, y }, g); lines.push(t); return t; };
    if (n.detail) line('detail', 32).textContent = n.detail;
    if (n.kind === 'processor') cells[n.id] = { rate: line('stat-rate', 48), latency: line('stat-latency', 62), errors: line('stat-errors', 76) };
    else if (n.kind === 'source' || n.kind === 'sink') {
      cells[n.id] = { rate: line('stat-rate', 48) };
      const entry = partitionedOf(topology, n);
      if (entry) {
        // The full list on hover (the node shows the first few): the title sits in a group
        // around the line, so the line's own text stays just what is shown.
        const hover = el('g', { class: 'hover' }, g);
        el('title', {}, hover).textContent = ownedText(entry, Infinity);
        el('text', { class: 'partitions', x: 10, y: 48 + LINE }, hover).textContent = ownedText(entry);
        if (n.kind === 'source') cells[n.id] = { ...cells[n.id], entry, partitionLag: line('partition-lag', 48 + 2 * LINE) };
      }
    } else if (n.kind === 'dlq') cells[n.id] = { rate: line('stat-rate bad', 34) };
  }

  return function update(frame, deadLetterTotal) {
    for (const n of topology.nodes) {
      const c = cells[n.id];
      if (!c) continue;
      if (n.kind === 'processor') {
        const s = frame.processors[n.name];
        if (!s) continue;
        c.rate.textContent = `${fmt.format(s.rate)}/s · ${fmt.format(s.processed)} done`;
        c.latency.textContent = `p50 ${ms(s.p50Ms)} · p99 ${ms(s.p99Ms)} · in-flight ${s.inFlight ?? '–'}`;
        c.errors.textContent = `errors ${fmt.format(s.errors)} · retries ${fmt.format(s.retries)} · DLQ ${fmt.format(s.deadLettered)}`;
        c.errors.classList.toggle('bad', s.deadLettered > 0);
      } else if (n.kind === 'source') {
        const s = frame.sources[n.name];
        if (s) c.rate.textContent = `${fmt.format(s.rate)}/s · ${fmt.format(s.records)} read${s.lag === undefined ? '' : ` · lag ${fmt.format(s.lag)}`}`;
        if (c.partitionLag) c.partitionLag.textContent = ownedLagText(c.entry, s?.partitionLag, 4) ?? 'lag per partition –';
      } else if (n.kind === 'sink') {
        const s = frame.sinks[n.name];
        if (s) c.rate.textContent = `${fmt.format(s.rate)}/s · ${fmt.format(s.records)} written`;
      } else if (n.kind === 'dlq') {
        c.rate.textContent = `${fmt.format(deadLetterTotal ?? frame.deadLettered)} dead letters`;
      }
    }
  };
}
