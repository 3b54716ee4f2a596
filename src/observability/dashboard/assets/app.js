// The dashboard page: loads the topology and the stats history, then follows
// the run over Server-Sent Events. Every value from the server is written with
// textContent (never as HTML): dead-letter messages and keys are user data.
import { renderGraph } from './graph.js';
import { drawChart, seriesOf } from './charts.js';

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const MAX_ROWS = 200;
const HISTORY = 300;

let frames = [];
let updateGraph = () => {};
let deadLetterTotal = 0;
const rows = new Map(); // dead-letter id -> row data

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `${path}: HTTP ${res.status}`);
  return body;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

// -- stats --------------------------------------------------------------------

function onFrame(frame) {
  frames.push(frame);
  if (frames.length > HISTORY) frames = frames.slice(-HISTORY);
  $('t-workers').textContent = `${frame.workers} (${Math.round(frame.utilization * 100)}% busy)`;
  $('t-inflight').textContent = fmt.format(frame.inFlight);
  $('t-retries').textContent = fmt.format(frame.retried);
  $('t-dlq').textContent = fmt.format(Math.max(frame.deadLettered, deadLetterTotal));
  $('t-errors').textContent = fmt.format(frame.errors);
  updateGraph(frame, Math.max(frame.deadLettered, deadLetterTotal));
  drawCharts();
}

let chartsPending = false;
function drawCharts() {
  // At most one redraw per animation frame (a reconnect can deliver a burst).
  if (chartsPending) return;
  chartsPending = true;
  requestAnimationFrame(() => {
    chartsPending = false;
    const recent = frames.slice(1);
    drawChart($('chart-processors'), seriesOf(recent, (f) => Object.fromEntries(Object.entries(f.processors).map(([n, s]) => [n, s.rate]))));
    drawChart($('chart-sinks'), seriesOf(recent, (f) => Object.fromEntries(Object.entries(f.sinks).map(([n, s]) => [n, s.rate]))));
    drawChart($('chart-inflight'), seriesOf(frames, (f) => ({ 'in flight': f.inFlight, ...Object.fromEntries(Object.entries(f.sources).map(([n, s]) => [`lag ${n}`, s.lag])) })));
  });
}

function onStatus(status) {
  const health = $('health'), ready = $('ready');
  health.textContent = `health ${status.health.body.status}`;
  health.className = `badge ${status.health.status === 200 ? 'ok' : 'bad'}`;
  health.title = JSON.stringify(status.health.body);
  ready.textContent = status.ready.body.status;
  ready.className = `badge ${status.ready.status === 200 ? 'ok' : 'bad'}`;
  const checks = Object.entries(status.ready.body.checks ?? {}).map(([name, c]) => `${name}: ${c.ok ? 'ok' : 'FAIL'}${c.detail ? ` (${c.detail})` : ''}`);
  ready.title = checks.join('\n');
  const reasons = $('not-ready');
  const failing = status.ready.body.failing ?? [];
  const detail = status.health.body.detail;
  reasons.hidden = failing.length === 0 && !detail;
  reasons.textContent = [...failing, ...(detail ? [detail] : [])].join(' · ');
}

// -- dead letters ----------------------------------------------------------------

function deadLetterRow(d) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(d.id);
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.className = 'pick';
  box.value = String(d.id);
  box.setAttribute('aria-label', `select dead letter ${d.id}`);
  box.addEventListener('change', syncReplayButton);
  const first = document.createElement('td');
  first.appendChild(box);
  tr.appendChild(first);
  cell(tr, String(d.id));
  cell(tr, new Date(d.at).toLocaleTimeString());
  cell(tr, d.processor, 'processor');
  cell(tr, d.code, 'code');
  cell(tr, d.message, 'message');
  cell(tr, String(d.attempts));
  cell(tr, d.key ?? '–', 'key');
  const original = document.createElement('td');
  const pre = document.createElement('pre');
  pre.textContent = d.originalEncoding === 'hex' ? `hex ${d.original}` : d.original;
  original.appendChild(pre);
  tr.appendChild(original);
  cell(tr, String(d.replays), 'replays');
  return tr;
}

function passesFilter(d) {
  const processor = $('dlq-processor').value, code = $('dlq-code').value.trim();
  return (!processor || d.processor === processor) && (!code || d.code === code);
}

function addDeadLetters(items, prepend) {
  const body = $('dlq-table').tBodies[0];
  for (const d of prepend ? [...items].reverse() : items) {
    if (rows.has(d.id) || !passesFilter(d)) continue;
    rows.set(d.id, d);
    const tr = deadLetterRow(d);
    if (prepend) body.prepend(tr); else body.append(tr);
  }
  while (body.rows.length > MAX_ROWS) {
    const last = body.rows[body.rows.length - 1];
    rows.delete(Number(last.dataset.id));
    last.remove();
  }
  ensureProcessorOption(items);
}

function ensureProcessorOption(items) {
  const select = $('dlq-processor');
  const known = new Set([...select.options].map((o) => o.value));
  for (const d of items) {
    if (known.has(d.processor)) continue;
    known.add(d.processor);
    select.appendChild(new Option(d.processor, d.processor));
  }
}

function renderTallies(tallies) {
  const box = $('dlq-tallies');
  box.replaceChildren(...tallies.slice(0, 8).map((t) => {
    const div = document.createElement('div');
    div.className = 'tally';
    const b = document.createElement('b');
    b.textContent = fmt.format(t.count);
    div.append(b, ` ${t.processor} · ${t.code} — ${t.latest}`);
    return div;
  }));
}

async function loadDeadLetters() {
  const params = new URLSearchParams({ limit: String(MAX_ROWS) });
  if ($('dlq-processor').value) params.set('processor', $('dlq-processor').value);
  if ($('dlq-code').value.trim()) params.set('code', $('dlq-code').value.trim());
  const list = await getJson(`/api/dead-letters?${params}`);
  deadLetterTotal = list.total;
  $('dlq-count').textContent = `${fmt.format(list.total)} this run (the latest ${fmt.format(list.capacity)} kept)`;
  rows.clear();
  $('dlq-table').tBodies[0].replaceChildren();
  addDeadLetters(list.items, false);
  renderTallies(list.tallies);
  syncReplayButton();
}

let talliesTimer;
function onDeadLetters(event) {
  deadLetterTotal = event.total;
  $('dlq-count').textContent = `${fmt.format(event.total)} this run`;
  addDeadLetters(event.items, true);
  // Tallies change with every dead letter; refresh them at most every 2 s.
  talliesTimer ??= setTimeout(async () => {
    talliesTimer = undefined;
    const list = await getJson('/api/dead-letters?limit=1').catch(() => undefined);
    if (list) renderTallies(list.tallies);
  }, 2000);
}

function selectedIds() {
  return [...document.querySelectorAll('#dlq-table input.pick:checked')].map((b) => Number(b.value));
}

function syncReplayButton() {
  const n = selectedIds().length;
  $('dlq-replay').disabled = n === 0;
  $('dlq-replay').textContent = n === 0 ? 'Replay selected' : `Replay ${n} selected`;
}

async function replaySelected() {
  const ids = selectedIds();
  if (ids.length === 0) return;
  const dialog = $('confirm');
  $('confirm-text').textContent = `Replay ${ids.length} dead letter${ids.length === 1 ? '' : 's'} to ${ids.length === 1 ? 'its' : 'their'} source topic${ids.length === 1 ? '' : 's'}? The pipeline will process ${ids.length === 1 ? 'it' : 'them'} again; the dead-letter topic keeps its copy.`;
  dialog.returnValue = '';
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }));
  if (answer !== 'ok') return;
  const result = $('replay-result');
  result.className = '';
  result.textContent = 'replaying…';
  try {
    const res = await fetch('/api/dead-letters/replay', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids, confirm: true }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    const ok = body.results.filter((r) => r.ok);
    const failed = body.results.filter((r) => !r.ok);
    const where = Object.entries(body.replayed).map(([topic, n]) => `${n} to ${topic}`).join(', ');
    result.className = failed.length === 0 ? 'ok' : 'bad';
    result.textContent = `replayed ${ok.length} of ${ids.length}${where ? ` (${where})` : ''}${failed.length ? `; not replayed: ${failed.map((f) => `#${f.id} ${f.reason}`).join('; ')}` : ''}`;
    for (const r of ok) {
      const tr = document.querySelector(`#dlq-table tr[data-id="${r.id}"]`);
      if (!tr) continue;
      tr.querySelector('td.replays').textContent = String(Number(tr.querySelector('td.replays').textContent) + 1);
      tr.querySelector('input.pick').checked = false;
    }
    syncReplayButton();
  } catch (error) {
    result.className = 'bad';
    result.textContent = `replay failed: ${error.message}`;
  }
}

// -- state stores ------------------------------------------------------------------

async function searchStore() {
  const store = $('store-name').value;
  if (!store) return;
  const params = new URLSearchParams({ limit: '200' });
  const prefix = $('store-prefix').value;
  if (prefix) params.set('prefix', prefix);
  const body = $('store-table').tBodies[0];
  try {
    const page = await getJson(`/api/stores/${encodeURIComponent(store)}?${params}`);
    $('store-info').textContent = `${page.entries.length}${page.truncated ? '+' : ''} matching of ${fmt.format(page.keys)} keys`;
    body.replaceChildren(...page.entries.map((e) => {
      const tr = document.createElement('tr');
      cell(tr, e.key, 'key');
      const td = document.createElement('td');
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(e.value);
      td.appendChild(pre);
      tr.appendChild(td);
      return tr;
    }));
  } catch (error) {
    $('store-info').textContent = error.message;
    body.replaceChildren();
  }
}

// -- start --------------------------------------------------------------------------

function connect() {
  const events = new EventSource('/api/events');
  const connection = $('connection');
  events.addEventListener('open', () => { connection.textContent = 'live'; connection.className = 'badge ok'; });
  events.addEventListener('error', () => { connection.textContent = 'reconnecting…'; connection.className = 'badge bad'; });
  events.addEventListener('stats', (e) => onFrame(JSON.parse(e.data)));
  events.addEventListener('deadletters', (e) => onDeadLetters(JSON.parse(e.data)));
  events.addEventListener('status', (e) => onStatus(JSON.parse(e.data)));
}

async function start() {
  const [topology, stats, stores] = await Promise.all([getJson('/api/topology'), getJson('/api/stats'), getJson('/api/stores')]);
  $('app-name').textContent = topology.app;
  document.title = `${topology.app} · walrus-stream`;
  updateGraph = renderGraph($('graph'), topology);
  for (const n of topology.nodes) if (n.kind === 'processor') $('dlq-processor').appendChild(new Option(n.name, n.name));
  frames = stats.history.slice(0, -1);
  onFrame(stats.current);
  const storeSelect = $('store-name');
  for (const name of stores.stores) storeSelect.appendChild(new Option(name, name));
  $('stores').hidden = stores.stores.length === 0;
  $('dlq-refresh').addEventListener('click', () => void loadDeadLetters());
  $('dlq-processor').addEventListener('change', () => void loadDeadLetters());
  $('dlq-code').addEventListener('change', () => void loadDeadLetters());
  $('dlq-replay').addEventListener('click', () => void replaySelected());
  $('dlq-all').addEventListener('change', (e) => {
    for (const box of document.querySelectorAll('#dlq-table input.pick')) box.checked = e.target.checked;
    syncReplayButton();
  });
  $('store-search').addEventListener('click', () => void searchStore());
  $('store-prefix').addEventListener('keydown', (e) => { if (e.key === 'Enter') void searchStore(); });
  await loadDeadLetters();
  getJson('/api/status').then(onStatus, () => undefined);
  connect();
}

start().catch((error) => {
  $('connection').textContent = `failed: ${error.message}`;
  $('connection').className = 'badge bad';
});
