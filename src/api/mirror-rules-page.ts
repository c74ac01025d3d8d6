// The mirror's rules page (GET /rules in a browser): rules, their last sends and failures, channel health, and "Send test". Plain HTML and a little JS.

export function rulesPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>learnhook mirror · notification rules</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; background: #fff; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  p.lead { margin: 0 0 1rem; color: #555; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
  th, td { text-align: left; vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid #ddd; }
  th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: #555; }
  code { font-size: .85em; background: #f3f3f3; padding: 0 .2em; border-radius: 3px; }
  .failing, .error { color: #a30000; }
  .ok { color: #0a6b2b; }
  button { font: inherit; padding: .25rem .7rem; border: 1px solid #555; border-radius: 4px; background: #f7f7f7; cursor: pointer; }
  button:focus-visible, a:focus-visible { outline: 3px solid #1657d0; outline-offset: 2px; }
  #result { min-height: 1.5em; font-weight: 600; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
</style>
</head>
<body>
<main>
<h1>Notification rules</h1>
<p class="lead">Rules of this mirror, their last sends and failures. Manage them with <code>learnhook mirror rules …</code> or the <code>/rules</code> API. <a href="/">Mirror overview</a> · <a href="/status">Status</a></p>
<p id="result" role="status" aria-live="polite"></p>
<table aria-labelledby="rules-heading">
  <caption id="rules-heading" style="text-align:left;font-weight:600;padding-bottom:.3rem">Rules</caption>
  <thead><tr><th scope="col">Rule</th><th scope="col">Events</th><th scope="col">Channel</th><th scope="col">Sent</th><th scope="col">Last sent</th><th scope="col">Pending</th><th scope="col">Failures</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
  <tbody id="rules"><tr><td colspan="8">Loading…</td></tr></tbody>
</table>
<table>
  <caption style="text-align:left;font-weight:600;padding-bottom:.3rem">Channels</caption>
  <thead><tr><th scope="col">Channel</th><th scope="col">State</th><th scope="col">Since</th><th scope="col">Last error</th><th scope="col">Last success</th></tr></thead>
  <tbody id="channels"><tr><td colspan="5">Loading…</td></tr></tbody>
</table>
</main>
<script>
const text = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
let token = sessionStorage.getItem('learnhook-rules-token') || '';

async function load() {
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.rule : undefined;
  const response = await fetch('/rules', { headers: { accept: 'application/json' } });
  const body = await response.json();
  const rules = document.getElementById('rules');
  rules.innerHTML = body.rules.length === 0
    ? '<tr><td colspan="8">No rules yet: <code>learnhook mirror rules load rules.yaml</code></td></tr>'
    : body.rules.map((rule) => {
        const d = rule.definition;
        const channel = d.channel.type === 'email' ? 'e-mail to ' + d.channel.to.join(', ') : 'chat';
        const failure = rule.lastFailure ? '<span class="error">' + text(rule.lastFailure.error) + '</span><br><small>' + when(rule.lastFailure.at) + '</small>' : '—';
        return '<tr><th scope="row">' + text(d.name) + (d.enabled === false ? ' (off)' : '') + (d.condition ? '<br><small><code>' + text(d.condition) + '</code></small>' : '') + '</th>' +
          '<td>' + d.events.map(text).join('<br>') + '</td><td>' + text(channel) + (d.digest ? '<br><small>digest ' + text(d.digest) + '</small>' : '') + '</td>' +
          '<td>' + rule.sent + (rule.inDoubt ? ' <small>(' + rule.inDoubt + ' in doubt)</small>' : '') + '</td><td>' + when(rule.lastSentAt) + '</td><td>' + rule.pending + '</td>' +
          '<td>' + (rule.failed ? rule.failed + ' given up<br>' : '') + failure + '</td>' +
          '<td><button type="button" data-rule="' + text(d.name) + '">Send test</button></td></tr>';
      }).join('');
  const channels = document.getElementById('channels');
  channels.innerHTML = body.channels.length === 0
    ? '<tr><td colspan="5">No message sent yet.</td></tr>'
    : body.channels.map((c) => '<tr><th scope="row">' + text(c.channel) + '</th><td class="' + c.state + '">' + c.state + '</td><td>' + when(c.failingSince) + '</td><td>' + text(c.lastError || '—') + '</td><td>' + when(c.lastSuccessAt) + '</td></tr>').join('');
  // A refresh rebuilds the rows: keep the keyboard where it was.
  if (focused) document.querySelector('button[data-rule="' + CSS.escape(focused) + '"]')?.focus();
}

async function sendTest(name, button) {
  const result = document.getElementById('result');
  button.disabled = true;
  result.className = '';
  result.textContent = 'Sending a test for ' + name + '…';
  try {
    let response = await fetch('/rules/' + encodeURIComponent(name) + '/test', { method: 'POST', headers: token ? { authorization: 'Bearer ' + token } : {} });
    if (response.status === 401) {
      token = prompt('This mirror needs its --rules-token to send tests:') || '';
      sessionStorage.setItem('learnhook-rules-token', token);
      response = await fetch('/rules/' + encodeURIComponent(name) + '/test', { method: 'POST', headers: { authorization: 'Bearer ' + token } });
    }
    const body = await response.json();
    result.className = response.ok ? 'ok' : 'error';
    result.textContent = response.ok ? 'Test of ' + name + ' sent (' + body.detail + ').' : 'Test of ' + name + ' failed: ' + (body.error ? body.error.message : response.status);
  } catch (error) {
    result.className = 'error';
    result.textContent = 'Test of ' + name + ' failed: ' + error.message;
  }
  await load();
  document.querySelector('button[data-rule="' + CSS.escape(name) + '"]')?.focus();
}

document.getElementById('rules').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-rule]');
  if (button) sendTest(button.dataset.rule, button);
});
load();
setInterval(() => { if (!document.hidden) load(); }, 10000);
</script>
</body>
</html>
`;
}
