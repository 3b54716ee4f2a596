// Small helpers shared by the page's modules.

export const $ = (id) => document.getElementById(id);
export const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `${path}: HTTP ${res.status}`);
  return body;
}

/** Appends a cell holding `text` (as text, never HTML: it is user data). */
export function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}
