// Shared by the dashboard and the mirror's page: DOM building without innerHTML, plain-word errors, times, SSE over fetch.

/** h('button', { onclick, class: 'x' }, 'text', child…): an element; strings become text nodes (never parsed as HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * A table that turns into one card per row on a narrow window: each cell is labelled with its column's heading.
 * headings: strings; rows: <tr> elements built with h().
 */
export function cardTable(id, headings, rows) {
  for (const row of rows) {
    [...row.children].forEach((cell, index) => {
      if (headings[index]) cell.dataset.label = headings[index];
      // One box beside the label on a narrow window, however many parts the cell has.
      if (cell.childNodes.length > 1) cell.replaceChildren(h('div', { class: 'cell' }, [...cell.childNodes]));
    });
  }
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id, class: 'cards' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headings.map((text) => h('th', { scope: 'col' }, text)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

/** Replaces an element's content. */
export function show(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false));
}

/** Re-renders a region and gives focus back to the control that had it (live updates must not steal the keyboard). */
export function rerender(region, ...children) {
  const focused = document.activeElement?.dataset?.key;
  show(region, ...children);
  if (focused) region.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

/** An error from the API, in the words its body gives. */
export class ApiProblem extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** fetch() with JSON in and out; failures become ApiProblem with a sentence a person can act on. */
export async function callJson(method, url, { token, body } = {}) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiProblem(0, 'unreachable', `Cannot reach the server at ${location.origin}. Is it still running?`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // A non-JSON answer (a proxy's error page): its status says enough.
  }
  if (!response.ok) {
    const message = parsed?.error?.message ?? `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiProblem(response.status, parsed?.error?.code ?? 'http_error', sentence(message));
  }
  return parsed;
}

/** Capitalised, with a full stop: API messages are lower-case clauses. */
export function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return trimmed;
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** "3 s ago", "in 2 min": relative times read faster than timestamps in a table. */
export function ago(iso, now = Date.now()) {
  if (!iso) return '—';
  const ms = new Date(iso).getTime() - now;
  const past = ms < 0;
  const span = duration(Math.abs(ms));
  return past ? `${span} ago` : `in ${span}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 8_640_000) / 10} d`;
}

export function time(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const today = date.toDateString() === new Date().toDateString();
  const text = today ? date.toLocaleTimeString([], { hour12: false }) : date.toLocaleString([], { hour12: false });
  return h('time', { datetime: date.toISOString(), title: date.toISOString() }, text);
}

/** Pretty JSON of a text body when it is JSON, the text otherwise. */
export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * Reads a Server-Sent Events stream with fetch (so the token travels in a header, not in the URL) and calls
 * onMessage(event, data) per message; reconnects after a pause until stop() is called.
 */
export function openStream(url, { token, onMessage, onState }) {
  let stopped = false;
  let controller;
  let lastId;
  (async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { accept: 'text/event-stream' };
        if (token) headers.authorization = `Bearer ${token}`;
        if (lastId !== undefined) headers['last-event-id'] = lastId;
        const response = await fetch(url, { headers, signal: controller.signal });
        if (!response.ok || !response.body) {
          const body = await response.json().catch(() => null);
          throw new ApiProblem(response.status, 'stream', sentence(body?.error?.message ?? `the live stream answered ${response.status}`));
        }
        onState?.('live');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
              else if (line.startsWith('id: ')) lastId = line.slice(4);
            }
            if (data.length > 0) onMessage(event, JSON.parse(data.join('\n')));
            end = buffer.indexOf('\n\n');
          }
        }
      } catch (error) {
        if (stopped) return;
        onState?.('reconnecting', error);
        if (error instanceof ApiProblem && (error.status === 401 || error.status === 404)) return;
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();
  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
