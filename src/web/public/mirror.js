// The mirror's page: per-account progress, enrichment budget, anomalies, set-aside rows and the mirrored enrollments.
import { ApiProblem, ago, callJson, cardTable, duration, h, rerender, sentence, show, time } from './common.js';

const refreshMs = 3000;
const problemBox = document.getElementById('problem');
const noticeBox = document.getElementById('notice');
const regions = Object.fromEntries(
  ['accounts', 'enrichment', 'anomalies', 'set-aside', 'enrollments'].map((id) => [id, document.getElementById(id)]),
);
const enrollmentView = { account: '', offset: 0, limit: 25 };

/** What each anomaly kind means, in one line. */
const kindText = {
  duplicate_event: 'An event that was already applied came again (kept once).',
  duplicate_batch: 'A whole batch came again under the same batch id (kept once).',
  ignored_by_rule: 'Ignored by the guide’s ordering rules (e.g. progress after completion).',
  out_of_order: 'Older than what the row already holds; the newer value was kept.',
  gap: 'Delivery sequence numbers were skipped: events may be missing.',
  unknown_event: 'An event not in the catalog: kept, never applied.',
  unprocessable: 'An inbox row failed to apply too often and was set aside.',
};

const table = cardTable;

function problem(error) {
  show(problemBox, error ? (error instanceof ApiProblem ? error.message : sentence(error.message ?? String(error))) : '');
}

function drawAccounts({ accounts }) {
  if (accounts.length === 0) return rerender(regions.accounts, h('p', { class: 'card' }, 'No deliveries received yet.'));
  rerender(
    regions.accounts,
    table(
      'accounts-table',
      ['Account', 'Last applied event', 'Pending', 'Lag', 'Highest sequence', 'Open gaps', 'Enrollments'],
      accounts.map((account) =>
        h(
          'tr',
          { 'data-account': account.accountId },
          h('td', { class: 'num' }, account.accountId),
          h(
            'td',
            {},
            account.lastApplied
              ? [
                  h('span', { class: 'mono' }, account.lastApplied.eventName),
                  ' ',
                  h('span', { class: 'muted' }, `applied ${ago(account.lastApplied.appliedAt)}`),
                ]
              : '—',
          ),
          h('td', { class: 'num' }, account.pendingBatches),
          h('td', { class: 'num' }, account.pendingBatches > 0 ? duration(account.lagMs) : 'caught up'),
          h('td', { class: 'num' }, account.highestSequence ?? '—'),
          h('td', { class: 'num' }, account.openGaps > 0 ? h('span', { class: 'badge bad' }, account.openGaps) : 0),
          h('td', { class: 'num' }, account.enrollments),
        ),
      ),
    ),
  );
}

function drawEnrichment(status) {
  const budget = status.enrichment;
  rerender(
    regions.enrichment,
    h(
      'div',
      { class: 'stats' },
      tile('calls left in the window', `${budget.remaining} / ${budget.rateLimit}`),
      tile('window', duration(budget.windowMs)),
      tile('ids waiting to be fetched', budget.queued),
      tile('blocked by 429 until', budget.blockedUntil ? ago(budget.blockedUntil) : 'not blocked'),
      tile('inbox backlog', status.inbox.backlog),
      tile('events applied', status.counts.applied),
    ),
  );
}

const tile = (label, value) => h('div', { class: 'stat' }, h('b', {}, value), h('span', {}, label));

function drawAnomalies({ kinds }) {
  if (kinds.length === 0) return rerender(regions.anomalies, h('p', { class: 'card' }, 'No anomalies.'));
  rerender(
    regions.anomalies,
    kinds.map((kind) =>
      h(
        'details',
        { class: 'card', 'data-kind': kind.kind },
        h(
          'summary',
          { 'data-key': `kind-${kind.kind}` },
          h('strong', { class: 'mono' }, kind.kind),
          ` — ${kind.count} · `,
          h('span', { class: 'muted' }, kindText[kind.kind] ?? ''),
        ),
        table(
          `anomalies-${kind.kind}`,
          ['When', 'Account', 'Event', 'Subject', 'Detail'],
          kind.examples.map((example) =>
            h(
              'tr',
              {},
              h('td', {}, time(example.recordedAt)),
              h('td', { class: 'num' }, example.accountId ?? '—'),
              h('td', { class: 'mono' }, example.eventName ?? '—'),
              h('td', { class: 'mono' }, example.subject ?? '—'),
              h('td', {}, example.detail),
            ),
          ),
        ),
      ),
    ),
  );
  // Open details stay open across refreshes.
  for (const element of regions.anomalies.querySelectorAll('details')) {
    if (openKinds.has(element.dataset.kind)) element.open = true;
    element.addEventListener('toggle', () => (element.open ? openKinds.add(element.dataset.kind) : openKinds.delete(element.dataset.kind)));
  }
}
const openKinds = new Set();

async function retry(ids, button) {
  button.disabled = true;
  try {
    const result = await callJson('POST', '/api/set-aside/retry', { body: ids ? { ids } : {} });
    show(noticeBox, `${result.retried} row${result.retried === 1 ? '' : 's'} put back in line; the projector applies them now.`);
    await refresh();
  } catch (error) {
    problem(error);
  } finally {
    button.disabled = false;
  }
}

function drawSetAside({ rows }) {
  if (rows.length === 0) return rerender(regions['set-aside'], h('p', { class: 'card' }, 'No rows set aside.'));
  rerender(
    regions['set-aside'],
    h(
      'p',
      {},
      h(
        'button',
        { type: 'button', 'data-key': 'retry-all', onclick: (event) => retry(null, event.currentTarget) },
        `Retry all ${rows.length}`,
      ),
    ),
    table(
      'set-aside-table',
      ['Inbox row', 'Account', 'Sequence', 'Events', 'Attempts', 'Last error', ''],
      rows.map((row) =>
        h(
          'tr',
          { 'data-inbox': row.inboxId },
          h('td', { class: 'num' }, row.inboxId),
          h('td', { class: 'num' }, row.accountId),
          h('td', {}, row.sequence ? `${row.sequence.first}–${row.sequence.last}` : '—'),
          h('td', { class: 'num' }, row.eventCount),
          h('td', { class: 'num' }, row.attempts),
          h('td', {}, row.lastError ?? '—'),
          h(
            'td',
            {},
            h(
              'button',
              { type: 'button', 'data-key': `retry-${row.inboxId}`, onclick: (event) => retry([row.inboxId], event.currentTarget) },
              'Retry',
            ),
          ),
        ),
      ),
    ),
  );
}

function drawEnrollments({ enrollments }, accounts) {
  const picker = h(
    'select',
    {
      id: 'enrollment-account',
      'data-key': 'enrollment-account',
      onchange: (event) => {
        enrollmentView.account = event.target.value;
        enrollmentView.offset = 0;
        refresh();
      },
    },
    h('option', { value: '' }, 'All accounts'),
    accounts.map((account) =>
      h(
        'option',
        { value: account.accountId, selected: String(account.accountId) === enrollmentView.account },
        `Account ${account.accountId}`,
      ),
    ),
  );
  const page = (delta) => () => {
    enrollmentView.offset = Math.max(0, enrollmentView.offset + delta);
    refresh();
  };
  rerender(
    regions.enrollments,
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'enrollment-account' }, 'Show'),
      picker,
      h(
        'button',
        { type: 'button', 'data-key': 'newer', disabled: enrollmentView.offset === 0, onclick: page(-enrollmentView.limit) },
        'Newer',
      ),
      h(
        'button',
        { type: 'button', 'data-key': 'older', disabled: enrollments.length < enrollmentView.limit, onclick: page(enrollmentView.limit) },
        'Older',
      ),
      h('span', { class: 'muted' }, `rows ${enrollmentView.offset + 1}–${enrollmentView.offset + enrollments.length}, newest change first`),
    ),
    enrollments.length === 0
      ? h('p', { class: 'card' }, 'No enrollments mirrored yet.')
      : table(
          'enrollments-table',
          ['Learner', 'Learning object', 'Status', 'Progress', 'Enrolled', 'Completed'],
          enrollments.map((row) =>
            h(
              'tr',
              {},
              h(
                'td',
                {},
                row.learner ?? h('span', { class: 'muted' }, `user ${row.userId} (not enriched yet)`),
                h('div', { class: 'muted' }, row.email ?? ''),
              ),
              h(
                'td',
                {},
                row.learningObject ?? h('span', { class: 'muted' }, row.loId),
                h('div', { class: 'muted mono' }, row.instance ? `${row.instance} · ${row.loInstanceId}` : row.loInstanceId),
              ),
              h(
                'td',
                {},
                h('span', { class: `badge ${row.status === 'COMPLETED' ? 'ok' : row.status === 'UNENROLLED' ? 'warn' : ''}` }, row.status),
                row.hasPassed === false ? h('div', { class: 'muted' }, 'not passed') : null,
              ),
              h('td', { class: 'num' }, `${row.progressPercent} %`),
              h('td', {}, row.dateEnrolled ? time(row.dateEnrolled) : '—'),
              h('td', {}, row.dateCompleted ? time(row.dateCompleted) : '—'),
            ),
          ),
        ),
  );
}

let refreshing = false;
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const query = new URLSearchParams({ limit: String(enrollmentView.limit), offset: String(enrollmentView.offset) });
    if (enrollmentView.account) query.set('account', enrollmentView.account);
    const [accounts, status, anomalies, setAside, enrollments] = await Promise.all([
      callJson('GET', '/api/accounts'),
      callJson('GET', '/status'),
      callJson('GET', '/api/anomalies'),
      callJson('GET', '/api/set-aside'),
      callJson('GET', `/api/enrollments?${query}`),
    ]);
    problem(null);
    drawAccounts(accounts);
    drawEnrichment(status);
    drawAnomalies(anomalies);
    drawSetAside(setAside);
    drawEnrollments(enrollments, accounts.accounts);
    show(document.getElementById('updated'), `updated ${new Date().toLocaleTimeString([], { hour12: false })}`);
  } catch (error) {
    problem(error);
  } finally {
    refreshing = false;
  }
}

refresh();
setInterval(() => {
  if (!document.hidden) refresh();
}, refreshMs);
