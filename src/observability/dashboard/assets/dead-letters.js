// The dead letters of the page: the latest ones in a table (new ones arrive
// over the event stream), counts by processor and code, and replay of the
// selected ones after a confirmation.
import { $, cell, fmt, getJson } from './dom.js';

const MAX_ROWS = 200;
let total = 0;
const rows = new Map(); // dead-letter id -> row data

/** Dead letters of the run so far (including those no longer listed). */
export function deadLetterTotal() {
  return total;
}

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

export async function loadDeadLetters() {
  const params = new URLSearchParams({ limit: String(MAX_ROWS) });
  if ($('dlq-processor').value) params.set('processor', $('dlq-processor').value);
  if ($('dlq-code').value.trim()) params.set('code', $('dlq-code').value.trim());
  const list = await getJson(`/api/dead-letters?${params}`);
  total = list.total;
  $('dlq-count').textContent = `${fmt.format(list.total)} this run (the latest ${fmt.format(list.capacity)} kept)`;
  rows.clear();
  $('dlq-table').tBodies[0].replaceChildren();
  addDeadLetters(list.items, false);
  renderTallies(list.tallies);
  syncReplayButton();
}

let talliesTimer;
export function onDeadLetters(event) {
  total = event.total;
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

/** Wires the filters, the select-all box and the replay button. */
export function initDeadLetters(processors) {
  for (const name of processors) $('dlq-processor').appendChild(new Option(name, name));
  $('dlq-refresh').addEventListener('click', () => void loadDeadLetters());
  $('dlq-processor').addEventListener('change', () => void loadDeadLetters());
  $('dlq-code').addEventListener('change', () => void loadDeadLetters());
  $('dlq-replay').addEventListener('click', () => void replaySelected());
  $('dlq-all').addEventListener('change', (e) => {
    for (const box of document.querySelectorAll('#dlq-table input.pick')) box.checked = e.target.checked;
    syncReplayButton();
  });
}
