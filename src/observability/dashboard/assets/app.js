// The dashboard page: loads the topology and the stats history, then follows
// the run over Server-Sent Events. Every value from the server is written with
// textContent (never as HTML): dead-letter messages and keys are user data.
import { renderGraph } from './graph.js';
import { drawChart, seriesOf } from './charts.js';
import { $, cell, fmt, getJson } from './dom.js';
import { deadLetterTotal, initDeadLetters, loadDeadLetters, onDeadLetters } from './dead-letters.js';
import { renderPartitions } from './partitions.js';

const HISTORY = 300;

let frames = [];
let updateGraph = () => {};
let updatePartitions = () => {};

// -- stats --------------------------------------------------------------------

function onFrame(frame) {
  frames.push(frame);
  if (frames.length > HISTORY) frames = frames.slice(-HISTORY);
  $('t-workers').textContent = `${frame.workers} (${Math.round(frame.utilization * 100)}% busy)`;
  $('t-inflight').textContent = fmt.format(frame.inFlight);
  $('t-retries').textContent = fmt.format(frame.retried);
  $('t-dlq').textContent = fmt.format(Math.max(frame.deadLettered, deadLetterTotal()));
  $('t-errors').textContent = fmt.format(frame.errors);
  updateGraph(frame, Math.max(frame.deadLettered, deadLetterTotal()));
  updatePartitions(frame);
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
  // The server ended the stream (another viewer took its slot, or the run stops); the browser reconnects in 10 s.
  events.addEventListener('closed', (e) => { connection.title = JSON.parse(e.data).detail; });
  events.addEventListener('open', () => { connection.title = ''; });
}

async function start() {
  const [topology, stats, stores] = await Promise.all([getJson('/api/topology'), getJson('/api/stats'), getJson('/api/stores')]);
  $('app-name').textContent = topology.app;
  document.title = `${topology.app} · walrus-stream`;
  updateGraph = renderGraph($('graph'), topology);
  updatePartitions = renderPartitions(topology);
  frames = stats.history.slice(0, -1);
  onFrame(stats.current);
  const storeSelect = $('store-name');
  for (const name of stores.stores) storeSelect.appendChild(new Option(name, name));
  $('stores').hidden = stores.stores.length === 0;
  initDeadLetters(topology.nodes.filter((n) => n.kind === 'processor').map((n) => n.name));
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
