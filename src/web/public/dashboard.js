// The dashboard: accounts, webhooks, deliveries, the live event log and the catalog, through the public HTTP API only.
import { ApiProblem, ago, callJson, cardTable, duration, h, openStream, pretty, rerender, sentence, show, time } from './common.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const problemBox = document.getElementById('problem');
const noticeBox = document.getElementById('notice');

const state = {
  token: sessionStorage.getItem('learnhook.token') ?? '',
  me: null,
  accounts: [],
  accountId: null,
  catalog: null,
  stream: null,
  streamAccount: null,
  live: false,
  /** The newest webhooks snapshot of the live stream (each with `stats`). */
  webhooks: null,
  /** The account's log as the stream sent it, newest last (bounded). */
  events: [],
  eventFilter: '',
  paused: false,
  /** A secret just returned by the API: shown once on the next page, then forgotten. */
  secret: null,
  /** Attempt ids whose details are open, so live refreshes keep them open. */
  openAttempts: new Set(),
};

const api = (method, path, body) => callJson(method, path, { token: state.token, body });

// ── messages ────────────────────────────────────────────────────────────────────────────────────────────────────────

function problem(error) {
  if (!error) return show(problemBox);
  const text = error instanceof ApiProblem ? error.message : sentence(error.message ?? String(error));
  show(problemBox, text);
  if (error instanceof ApiProblem && error.status === 401 && !String(location.hash).startsWith('#code=')) signOut(text);
}

let noticeTimer;
let noticeAt = 0;
function notice(text) {
  noticeAt = Date.now();
  show(noticeBox, text ?? '');
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => show(noticeBox), 8000);
}

/** Runs an action of a button: errors go to the problem box, the button is disabled meanwhile. */
async function act(button, action) {
  problem(null);
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    problem(error);
  } finally {
    if (button) button.disabled = false;
  }
}

// ── sign-in ─────────────────────────────────────────────────────────────────────────────────────────────────────────

function signOut(reason) {
  sessionStorage.removeItem('learnhook.token');
  state.token = '';
  state.me = null;
  state.stream?.stop();
  state.stream = null;
  state.streamAccount = null;
  renderSignIn(reason);
}

function renderSignIn(reason) {
  show(nav);
  show(who);
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true });
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: (event) => {
        event.preventDefault();
        act(form.querySelector('button'), async () => {
          state.token = input.value.trim();
          await start();
        });
      },
    },
    h('h1', {}, 'Sign in'),
    reason ? h('p', {}, reason) : null,
    h(
      'p',
      { class: 'muted' },
      'Paste a token: the admin token (printed by ',
      h('code', {}, 'learnhook serve'),
      ' or ',
      h('code', {}, 'learnhook demo'),
      ') sees every account; an account token sees its own. The demo prints a one-time link that signs you in directly.',
    ),
    h('p', {}, h('label', { for: 'token' }, 'Token'), input),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
  );
  show(main, form);
  input.focus();
}

async function exchangeCode(code) {
  history.replaceState(null, '', `${location.pathname}#/`);
  const { token } = await callJson('POST', '/v1/sign-in', { body: { code } });
  state.token = token;
}

// ── navigation ─────────────────────────────────────────────────────────────────────────────────────────────────────

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'catalog') return { view: 'catalog' };
  if (parts[0] === 'a' && parts[1]) {
    const accountId = Number(parts[1]);
    if (parts[2] === 'events') return { view: 'events', accountId };
    if (parts[2] === 'webhooks' && parts[3] === 'new') return { view: 'edit', accountId };
    if (parts[2] === 'webhooks' && parts[3] && parts[4] === 'edit') return { view: 'edit', accountId, webhookId: parts[3] };
    if (parts[2] === 'webhooks' && parts[3]) return { view: 'webhook', accountId, webhookId: parts[3] };
    return { view: 'webhooks', accountId };
  }
  return { view: 'home' };
}

const link = (path, text, attributes = {}) => h('a', { href: `#${path}`, ...attributes }, text);

function renderNav(current) {
  const accountPath = state.accountId ? `/a/${state.accountId}` : null;
  const items = [
    accountPath ? ['webhooks', `${accountPath}/webhooks`, 'Webhooks'] : null,
    accountPath ? ['events', `${accountPath}/events`, 'Event log'] : null,
    ['catalog', '/catalog', 'Catalog'],
  ].filter(Boolean);
  const active = current.view === 'webhook' || current.view === 'edit' ? 'webhooks' : current.view;
  show(
    nav,
    items.map(([view, path, text]) => link(path, text, view === active ? { 'aria-current': 'page' } : {})),
    h('a', { href: '/docs' }, 'API docs'),
  );
  const accountPicker =
    state.accounts.length > 1
      ? h(
          'select',
          {
            'aria-label': 'Account',
            onchange: (event) => {
              location.hash = `#/a/${event.target.value}/webhooks`;
            },
          },
          state.accounts.map((account) =>
            h('option', { value: account.id, selected: account.id === state.accountId }, `${account.name} (#${account.id})`),
          ),
        )
      : state.accounts[0]
        ? h('span', {}, `${state.accounts[0].name} (#${state.accounts[0].id})`)
        : null;
  show(
    who,
    accountPicker,
    h('span', { class: `live${state.live ? '' : ' off'}`, title: 'Live updates' }, state.live ? 'live' : 'connecting'),
    h('span', {}, state.me?.kind === 'admin' ? 'admin' : 'account token'),
    h('button', { class: 'link', type: 'button', onclick: () => signOut('Signed out.') }, 'Sign out'),
  );
}

function ensureStream(accountId) {
  if (state.streamAccount === accountId && state.stream) return;
  state.stream?.stop();
  state.streamAccount = accountId;
  state.webhooks = null;
  state.events = [];
  state.live = false;
  state.stream = openStream(`/v1/accounts/${accountId}/live`, {
    token: state.token,
    onState: (value, error) => {
      state.live = value === 'live';
      if (error) problem(error);
      else problem(null);
      renderNav(route());
    },
    onMessage: (event, data) => {
      if (event === 'webhooks') {
        state.webhooks = data;
        liveUpdate('webhooks');
      } else if (event === 'log') {
        state.events.push(...data.events);
        if (state.events.length > 1000) state.events.splice(0, state.events.length - 1000);
        liveUpdate('log');
      }
    },
  });
}

/** What each view redraws when the stream brings news. */
let liveHandlers = {};
function liveUpdate(kind) {
  liveHandlers[kind]?.();
}

async function render() {
  problem(null);
  // A notice belongs to the page it was given on, or to the one an action just led to.
  if (Date.now() - noticeAt > 1000) show(noticeBox);
  const current = route();
  liveHandlers = {};
  if (current.accountId !== undefined) {
    if (!state.accounts.some((account) => account.id === current.accountId)) {
      show(main, h('h1', {}, 'Not found'), h('p', {}, `Account ${current.accountId} does not exist or this token may not see it.`));
      return;
    }
    state.accountId = current.accountId;
    ensureStream(current.accountId);
  }
  renderNav(current);
  try {
    if (current.view === 'home') {
      location.hash = state.accounts[0] ? `#/a/${state.accounts[0].id}/webhooks` : '#/catalog';
      return;
    }
    if (current.view === 'webhooks') return renderWebhooks(current.accountId);
    if (current.view === 'webhook') return await renderWebhook(current.accountId, current.webhookId);
    if (current.view === 'edit') return await renderEdit(current.accountId, current.webhookId);
    if (current.view === 'events') return renderEvents();
    if (current.view === 'catalog') return await renderCatalog();
  } catch (error) {
    problem(error);
  }
}

// ── webhooks ───────────────────────────────────────────────────────────────────────────────────────────────────────

function stateBadge(webhook) {
  const failing = webhook.stats?.failingSince && webhook.state === 'enabled';
  return h('span', { class: `badge ${failing ? 'bad' : webhook.state}` }, failing ? 'failing' : webhook.state);
}

function renderWebhooks(accountId) {
  const region = h('div', {}, h('p', { class: 'muted' }, 'Waiting for the live stream…'));
  const draw = () => {
    const webhooks = state.webhooks;
    if (!webhooks) return;
    if (webhooks.length === 0) {
      rerender(region, h('p', { class: 'card' }, 'No webhooks yet. Create one to receive this account’s events.'));
      return;
    }
    const rows = webhooks.map((webhook) => {
      const stats = webhook.stats;
      return h(
        'tr',
        { 'data-webhook': webhook.id },
        h(
          'td',
          {},
          link(`/a/${accountId}/webhooks/${webhook.id}`, webhook.name, { 'data-key': `open-${webhook.id}` }),
          h('div', { class: 'muted mono' }, webhook.url),
        ),
        h('td', {}, stateBadge(webhook), webhook.disabledReason ? h('div', { class: 'muted' }, webhook.disabledReason) : null),
        h('td', { class: 'num' }, `${stats.cursor} / ${stats.accountHead}`),
        h('td', { class: 'num' }, stats.backlog),
        h('td', { class: 'num' }, stats.backlog > 0 ? duration(stats.lagMs) : '—'),
        h('td', {}, stats.failingSince ? ago(stats.failingSince) : '—'),
        h('td', {}, stats.nextAttemptAt ? ago(stats.nextAttemptAt) : '—'),
        h('td', { class: 'num' }, stats.lost.count),
        h('td', {}, webhookActions(accountId, webhook, true)),
      );
    });
    rerender(
      region,
      h('p', { class: 'muted' }, `${webhooks.length} webhook${webhooks.length === 1 ? '' : 's'}`),
      cardTable(
        'webhooks',
        ['Webhook', 'State', 'Cursor / head', 'Backlog', 'Lag', 'Failing since', 'Next attempt', 'Lost', 'Actions'],
        rows,
      ),
    );
  };
  show(
    main,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, 'Webhooks'),
      link(`/a/${accountId}/webhooks/new`, 'New webhook', { class: 'button primary', 'data-key': 'new' }),
    ),
    secretBox(),
    region,
  );
  liveHandlers.webhooks = draw;
  draw();
}

function secretBox() {
  if (!state.secret) return null;
  const { secret, what } = state.secret;
  state.secret = null;
  return h(
    'div',
    { class: 'secret', role: 'note' },
    h('strong', {}, `${what} `),
    'Copy it now: it is shown only this once. ',
    h('code', { class: 'mono', 'data-secret': '' }, secret),
  );
}

/** The buttons of a webhook; `compact` on the list (the rest are on its page). */
function webhookActions(accountId, webhook, compact) {
  const base = `/v1/accounts/${accountId}/webhooks/${webhook.id}`;
  const key = (name) => `${name}-${webhook.id}`;
  const button = (name, text, action, attributes = {}) =>
    h(
      'button',
      { type: 'button', 'data-key': key(name), 'data-action': name, onclick: (event) => act(event.currentTarget, action), ...attributes },
      text,
    );
  const enabled = webhook.state === 'enabled';
  const failing = Boolean(webhook.stats?.failingSince);
  const buttons = [
    enabled
      ? button('deactivate', 'Deactivate', async () => {
          await api('PATCH', base, { active: false });
          notice(`${webhook.name} is paused: events wait in its backlog.`);
        })
      : button('activate', 'Activate', async () => {
          await api('PATCH', base, { active: true });
          notice(`${webhook.name} is active: its backlog is delivered in order.`);
        }),
    button('test', 'Send test', async () => {
      const result = await api('POST', `${base}/test`);
      const answer = result.statusCode === null ? result.error : `answered ${result.statusCode} in ${result.durationMs} ms`;
      if (result.acknowledged) notice(`Test ${result.eventName} delivered: ${answer}.`);
      else problem(new Error(`The test delivery failed: ${answer}.`));
    }),
    enabled && failing
      ? button('retry', 'Retry now', async () => {
          const result = await api('POST', `${base}/retry`);
          notice(result.wasWaiting ? 'Retrying now.' : 'No attempt was waiting; the dispatcher looks at it again now.');
        })
      : null,
  ];
  if (!compact) {
    buttons.push(
      link(`/a/${accountId}/webhooks/${webhook.id}/edit`, 'Edit', { class: 'button', 'data-key': key('edit') }),
      webhook.auth.type === 'signature'
        ? button('rotate', 'Rotate secret', async () => {
            if (!confirm('Make a new signing secret? The old one keeps signing for the overlap period, so receivers can switch.')) return;
            const result = await api('POST', `${base}/rotate-secret`);
            state.secret = {
              secret: result.secret,
              what: `New signing secret (the old one stays valid until ${new Date(result.previousSecretValidUntil).toLocaleString()}).`,
            };
            await render();
          })
        : null,
      button(
        'delete',
        'Delete',
        async () => {
          if (!confirm(`Delete the webhook “${webhook.name}” and its deliveries log? This cannot be undone.`)) return;
          await api('DELETE', base);
          notice(`${webhook.name} was deleted.`);
          location.hash = `#/a/${accountId}/webhooks`;
        },
        { class: 'danger' },
      ),
    );
  }
  return h('div', { class: 'actions' }, buttons);
}

// ── one webhook: its state, replay, deliveries ──────────────────────────────────────────────────────────────────────

function statTile(label, value) {
  return h('div', { class: 'stat' }, h('b', {}, value), h('span', {}, label));
}

async function renderWebhook(accountId, webhookId) {
  const base = `/v1/accounts/${accountId}/webhooks/${webhookId}`;
  const webhook = await api('GET', base);
  const head = h('div');
  const deliveries = h('div', {}, h('p', { class: 'muted' }, 'Loading deliveries…'));
  const since = h('input', { type: 'datetime-local', id: 'replay-since', step: 1, value: localInput(Date.now() - 3_600_000) });
  const replay = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (event) => {
        event.preventDefault();
        act(event.submitter, async () => {
          const sinceIso = new Date(since.value).toISOString();
          const result = await api('POST', `${base}/replay`, { since: sinceIso });
          notice(
            result.fromSeq <= result.untilSeq
              ? `Replaying events ${result.fromSeq} to ${result.untilSeq} as new batches flagged learnhook-replay.`
              : 'Nothing delivered since then: there is nothing to replay.',
          );
        });
      },
    },
    h('label', { for: 'replay-since' }, 'Replay events logged since'),
    since,
    h('button', { type: 'submit', 'data-key': 'replay' }, 'Replay'),
  );

  const drawHead = (current) => {
    const stats = current.stats;
    rerender(
      head,
      h('div', { class: 'toolbar' }, h('h1', {}, current.name), stateBadge(current)),
      h('p', { class: 'mono muted' }, current.url),
      current.description ? h('p', {}, current.description) : null,
      stats
        ? h(
            'div',
            { class: 'stats' },
            statTile('cursor / account head', `${stats.cursor} / ${stats.accountHead}`),
            statTile('backlog', stats.backlog),
            statTile('lag', stats.backlog > 0 ? duration(stats.lagMs) : '—'),
            statTile('failing since', stats.failingSince ? ago(stats.failingSince) : '—'),
            statTile('next attempt', stats.nextAttemptAt ? ago(stats.nextAttemptAt) : '—'),
            statTile('lost to retention', stats.lost.count),
            statTile('delivery sequence', stats.deliverySeq),
            statTile('replaying', stats.replay ? `${stats.replay.cursor} → ${stats.replay.until}` : 'no'),
          )
        : null,
      webhookActions(accountId, current, false),
      h(
        'p',
        { class: 'muted' },
        `Events: ${current.events.length === 27 ? 'all 27' : current.events.join(', ')} · auth: ${current.auth.type}`,
      ),
    );
  };

  const drawDeliveries = async () => {
    const page = await api('GET', `${base}/deliveries?limit=50`);
    if (page.deliveries.length === 0) {
      rerender(deliveries, h('p', { class: 'card' }, 'No attempts yet.'));
      return;
    }
    rerender(
      deliveries,
      cardTable('deliveries', ['When', 'Kind', 'Events', 'Status', 'Latency', 'Exchange'], page.deliveries.map(attemptRow)),
    );
  };

  let lastStats = '';
  let loading = false;
  liveHandlers.webhooks = () => {
    const current = state.webhooks?.find((candidate) => candidate.id === webhookId);
    if (!current) return;
    drawHead(current);
    // Deliveries change when the cursor, the batch in flight or the failure state does.
    const { lagMs: _lag, ...rest } = current.stats;
    const signature = JSON.stringify(rest);
    if (signature !== lastStats && !loading) {
      lastStats = signature;
      loading = true;
      drawDeliveries()
        .catch(problem)
        .finally(() => {
          loading = false;
        });
    }
  };
  show(
    main,
    link(`/a/${accountId}/webhooks`, '← Webhooks'),
    secretBox(),
    head,
    h('h2', {}, 'Replay'),
    replay,
    h('h2', {}, 'Deliveries'),
    deliveries,
  );
  drawHead(state.webhooks?.find((candidate) => candidate.id === webhookId) ?? webhook);
  await drawDeliveries();
}

function localInput(ms) {
  const date = new Date(ms);
  const pad = (value) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function attemptRow(attempt) {
  const range = attempt.deliveryRange ? `#${attempt.deliveryRange.first}–${attempt.deliveryRange.last}` : 'test';
  const status =
    attempt.statusCode === null
      ? h('span', { class: 'badge failed' }, attempt.cause ?? 'failed')
      : h('span', { class: `badge ${attempt.outcome}` }, attempt.statusCode);
  const details = h(
    'details',
    {
      open: state.openAttempts.has(attempt.id),
      ontoggle: (event) => {
        if (event.target.open) state.openAttempts.add(attempt.id);
        else state.openAttempts.delete(attempt.id);
      },
    },
    h('summary', { 'data-key': `attempt-${attempt.id}` }, attempt.error ? sentence(attempt.error) : 'Request and response'),
    attempt.request
      ? [
          h(
            'h3',
            { class: 'muted' },
            `Request: POST, ${attempt.request.bytes} bytes${attempt.request.truncated ? ' (body cut at 64 KiB)' : ''}`,
          ),
          h(
            'pre',
            { 'data-part': 'request-headers' },
            Object.entries(attempt.request.headers)
              .map(([name, value]) => `${name}: ${value}`)
              .join('\n'),
          ),
          attempt.request.body === null
            ? h('p', { class: 'muted' }, 'The events this body carried have left the log (retention).')
            : h('pre', { 'data-part': 'request-body' }, pretty(attempt.request.body)),
        ]
      : h('p', { class: 'muted' }, 'This attempt was logged before requests were kept.'),
    attempt.response
      ? [
          h('h3', { class: 'muted' }, `Response: ${attempt.response.status}`),
          h('pre', { 'data-part': 'response-body' }, attempt.response.body || '(empty body)'),
        ]
      : h('p', { class: 'muted' }, 'No response: ', attempt.error ?? 'the request did not complete', '.'),
  );
  return h(
    'tr',
    { 'data-attempt': attempt.id, 'data-outcome': attempt.outcome, 'data-kind': attempt.kind },
    h('td', {}, time(attempt.startedAt), h('div', { class: 'muted mono' }, attempt.batchId.slice(0, 14))),
    h('td', {}, attempt.kind, attempt.attempt > 1 ? h('div', { class: 'muted' }, `attempt ${attempt.attempt}`) : null),
    h('td', {}, `${attempt.eventCount} `, h('span', { class: 'muted' }, range)),
    h('td', {}, status),
    h('td', { class: 'num' }, `${attempt.durationMs} ms`),
    h('td', {}, details),
  );
}

// ── create and edit ─────────────────────────────────────────────────────────────────────────────────────────────────

async function loadCatalog() {
  state.catalog ??= (await api('GET', '/v1/catalog')).events;
  return state.catalog;
}

async function renderEdit(accountId, webhookId) {
  const catalog = await loadCatalog();
  const existing = webhookId ? await api('GET', `/v1/accounts/${accountId}/webhooks/${webhookId}`) : null;
  const chosen = new Set(existing?.events ?? catalog.map((event) => event.name));
  const field = (id, label, input, hint) => [
    h('label', { for: id }, label),
    h('div', {}, input, hint ? h('div', { class: 'muted' }, hint) : null),
  ];
  const name = h('input', { type: 'text', id: 'wh-name', required: true, maxlength: 200, value: existing?.name ?? '' });
  const description = h('input', { type: 'text', id: 'wh-description', maxlength: 2000, value: existing?.description ?? '' });
  const url = h('input', {
    type: 'url',
    id: 'wh-url',
    required: true,
    placeholder: 'https://example.com/webhooks/learning',
    value: existing?.url ?? '',
  });
  const authType = h(
    'select',
    { id: 'wh-auth' },
    ['signature', 'basic', 'none'].map((type) =>
      h('option', { value: type, selected: (existing?.auth.type ?? 'signature') === type }, type),
    ),
  );
  const username = h('input', { type: 'text', id: 'wh-username', placeholder: 'user', value: existing?.auth.username ?? '' });
  const password = h('input', { type: 'password', id: 'wh-password', placeholder: existing ? 'unchanged unless typed' : 'password' });
  const basic = h('div', { hidden: authType.value !== 'basic' }, username, ' ', password);
  authType.addEventListener('change', () => {
    basic.hidden = authType.value !== 'basic';
  });
  const boxes = catalog.map((event) => h('input', { type: 'checkbox', name: 'event', value: event.name, checked: chosen.has(event.name) }));
  const all = h('input', { type: 'checkbox', id: 'wh-all', checked: boxes.every((box) => box.checked) });
  all.addEventListener('change', () => {
    for (const box of boxes) box.checked = all.checked;
  });
  for (const box of boxes) box.addEventListener('change', () => (all.checked = boxes.every((candidate) => candidate.checked)));
  const group = (eventClass, title) =>
    h(
      'div',
      {},
      h('div', { class: 'muted' }, title),
      h(
        'div',
        { class: 'events-grid' },
        catalog.map((event, index) =>
          event.class === eventClass ? h('label', { title: event.description }, boxes[index], ` ${event.name}`) : null,
        ),
      ),
    );
  const active = h('input', { type: 'checkbox', id: 'wh-active', checked: existing ? existing.active : true });
  const form = h(
    'form',
    {
      class: 'grid card',
      onsubmit: (event) => {
        event.preventDefault();
        act(event.submitter, async () => {
          const events = boxes.filter((box) => box.checked).map((box) => box.value);
          if (events.length === 0) throw new Error('choose at least one event (or All events)');
          const auth =
            authType.value === 'basic' ? { type: 'basic', username: username.value, password: password.value } : { type: authType.value };
          const body = { name: name.value.trim(), description: description.value, url: url.value.trim(), events, active: active.checked };
          // Restating basic auth without a password would erase it: only send auth when it changes.
          if (!existing || existing.auth.type !== authType.value || (authType.value === 'basic' && password.value)) body.auth = auth;
          const saved = existing
            ? await api('PATCH', `/v1/accounts/${accountId}/webhooks/${existing.id}`, body)
            : await api('POST', `/v1/accounts/${accountId}/webhooks`, body);
          if (saved.secret) state.secret = { secret: saved.secret, what: 'Signing secret (whsec_…) for the receiver’s signature check.' };
          notice(existing ? `${saved.name} was saved.` : `${saved.name} was created.`);
          location.hash = `#/a/${accountId}/webhooks/${saved.id}`;
        });
      },
    },
    field('wh-name', 'Name', name),
    field('wh-description', 'Description', description),
    field(
      'wh-url',
      'Target URL',
      url,
      'Where the events are POSTed. Loopback and private addresses are refused unless the server allows them (--allow-private-targets).',
    ),
    field(
      'wh-auth',
      'Authentication',
      [authType, basic],
      'signature: Standard Webhooks HMAC headers, its secret shown once; basic: an Authorization header.',
    ),
    h('label', { for: 'wh-all' }, 'Events'),
    h(
      'fieldset',
      {},
      h('legend', { class: 'muted' }, 'Which catalog events to deliver'),
      h('label', {}, all, ' ', h('strong', {}, 'All events')),
      group('realtime', 'Real-time'),
      group('batch', 'Batch (admin, manager and platform actions, migration, progress)'),
    ),
    field(
      'wh-active',
      'Active',
      active,
      'An inactive webhook keeps its cursor: its events wait and are delivered, in order, once it is activated.',
    ),
    h('span'),
    h(
      'div',
      { class: 'actions' },
      h('button', { class: 'primary', type: 'submit' }, existing ? 'Save' : 'Create webhook'),
      link(existing ? `/a/${accountId}/webhooks/${existing.id}` : `/a/${accountId}/webhooks`, 'Cancel', { class: 'button' }),
    ),
  );
  show(main, h('h1', {}, existing ? `Edit ${existing.name}` : 'New webhook'), form);
  name.focus();
}

// ── the event log, live ─────────────────────────────────────────────────────────────────────────────────────────────

const keyFields = [
  'userId',
  'loInstanceId',
  'loId',
  'loType',
  'progressPercent',
  'hasPassed',
  'enrollmentCount',
  'seatLimit',
  'waitlistCount',
];

function renderEvents() {
  const names = [...new Set([...(state.catalog ?? []).map((event) => event.name), ...state.events.map((event) => event.eventName)])].sort();
  const filter = h(
    'select',
    {
      id: 'event-filter',
      onchange: (event) => {
        state.eventFilter = event.target.value;
        draw();
      },
    },
    h('option', { value: '' }, 'All events'),
    names.map((name) => h('option', { value: name, selected: state.eventFilter === name }, name)),
  );
  const pause = h(
    'button',
    {
      type: 'button',
      'aria-pressed': String(state.paused),
      onclick: () => {
        state.paused = !state.paused;
        pause.setAttribute('aria-pressed', String(state.paused));
        pause.textContent = state.paused ? 'Resume' : 'Pause';
        if (!state.paused) draw();
      },
    },
    state.paused ? 'Resume' : 'Pause',
  );
  const count = h('span', { class: 'muted' });
  const region = h('div');
  const draw = () => {
    if (state.paused) return;
    const shown = state.events
      .filter((event) => !state.eventFilter || event.eventName === state.eventFilter)
      .slice(-200)
      .reverse();
    count.textContent = `${shown.length} shown · newest first · account head ${state.events.at(-1)?.seq ?? '—'}`;
    if (shown.length === 0) {
      rerender(
        region,
        h(
          'p',
          { class: 'card' },
          state.eventFilter
            ? `No ${state.eventFilter} event yet; new ones appear here as they are logged.`
            : 'No events yet; they appear here as they are logged.',
        ),
      );
      return;
    }
    rerender(
      region,
      cardTable(
        'events',
        ['Seq', 'Time', 'Event', 'Key fields'],
        shown.map((event) =>
          h(
            'tr',
            { 'data-seq': event.seq, 'data-event': event.eventName },
            h('td', { class: 'num' }, event.seq),
            h('td', {}, time(event.timestamp)),
            h(
              'td',
              {},
              h(
                'span',
                {
                  class: `badge ${event.eventName.endsWith('_BATCH') || event.eventName === 'LEARNER_PROGRESS' ? 'batch' : 'realtime'}`,
                },
                event.eventName,
              ),
            ),
            h(
              'td',
              {},
              h(
                'details',
                {},
                h(
                  'summary',
                  {},
                  keyFields
                    .filter((field) => field in event.data)
                    .map((field) => `${field}=${event.data[field]}`)
                    .join(' · '),
                ),
                h('pre', {}, JSON.stringify(event, null, 2)),
              ),
            ),
          ),
        ),
      ),
    );
  };
  show(
    main,
    h('h1', {}, 'Event log'),
    h('div', { class: 'toolbar' }, h('label', { for: 'event-filter' }, 'Show'), filter, pause, count),
    region,
  );
  liveHandlers.log = () => {
    // New names may appear in the filter before the catalog is loaded.
    draw();
  };
  draw();
  loadCatalog().catch(problem);
}

// ── catalog ─────────────────────────────────────────────────────────────────────────────────────────────────────────

async function renderCatalog() {
  const catalog = await loadCatalog();
  show(
    main,
    h('h1', {}, 'Event catalog'),
    h(
      'p',
      { class: 'muted' },
      `${catalog.length} events. Real-time events follow learner actions and UI changes; batch events follow admin, manager and platform actions, migrations and progress.`,
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'catalog' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Event', 'Class', 'When it is sent'].map((text) => h('th', { scope: 'col' }, text)),
          ),
        ),
        h(
          'tbody',
          {},
          catalog.map((event) =>
            h(
              'tr',
              { 'data-event': event.name },
              h('td', { class: 'mono' }, event.name),
              h('td', {}, h('span', { class: `badge ${event.class}` }, event.class)),
              h(
                'td',
                {},
                event.description,
                h(
                  'details',
                  {},
                  h('summary', {}, 'Schema and sample'),
                  h('pre', {}, JSON.stringify(event.schema, null, 2)),
                  h('pre', {}, JSON.stringify(event.sample, null, 2)),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// ── start ───────────────────────────────────────────────────────────────────────────────────────────────────────────

async function start() {
  state.me = await api('GET', '/v1/me');
  sessionStorage.setItem('learnhook.token', state.token);
  state.accounts =
    state.me.kind === 'admin' ? (await api('GET', '/v1/accounts')).accounts : [await api('GET', `/v1/accounts/${state.me.accountId}`)];
  await render();
}

window.addEventListener('hashchange', () => {
  if (state.me) render();
});

(async () => {
  try {
    const code = /^#code=([\w-]+)/.exec(location.hash)?.[1];
    if (code) await exchangeCode(code);
    if (!state.token) return renderSignIn();
    await start();
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 401) signOut(error.message);
    else problem(error);
  }
})();
