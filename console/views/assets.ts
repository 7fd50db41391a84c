/**
 * The console's only stylesheet and script, served from `/assets/` by the console itself: no CDN, no build
 * step, works offline. Kept as strings so the package ships them inside its compiled code. The script writes
 * every value from a JSON answer with `textContent`, never as markup; pages are rendered (and escaped) on the
 * server, and the Content-Security-Policy allows scripts from the console only (no inline script runs).
 */

export const consoleCss = `
:root { --fg: #1d2430; --muted: #5d6778; --line: #d9dee7; --bg: #f6f7f9; --accent: #1f5fbf; --warn: #a04a00; --bad: #b3261e; --ok: #1e7b34; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #17202e; color: #fff; padding: 0 20px; display: flex; align-items: center; gap: 24px; height: 48px; }
header .brand { font-weight: 600; letter-spacing: .02em; }
header nav a { color: #c9d3e3; text-decoration: none; margin-right: 16px; padding: 14px 0; }
header nav a.active, header nav a:hover { color: #fff; border-bottom: 2px solid #6ea8ff; }
header .who { margin-left: auto; color: #c9d3e3; font-size: 12px; }
header form { display: inline; }
header button { background: none; border: 1px solid #4a5870; color: #c9d3e3; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); margin-bottom: 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; font-size: 12px; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre { background: #fff; border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 400px; white-space: pre-wrap; word-break: break-all; }
a { color: var(--accent); }
.muted { color: var(--muted); }
.bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); }
.ok { color: var(--ok); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin-bottom: 12px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.cards .card { min-width: 160px; }
.card .big { font-size: 22px; font-weight: 600; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 12px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select { font: inherit; padding: 4px 6px; border: 1px solid #b9c2d0; border-radius: 4px; background: #fff; }
button { font: inherit; padding: 5px 12px; border-radius: 4px; border: 1px solid #9aa6b8; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.actions { display: flex; gap: 8px; margin: 8px 0; align-items: center; }
.panel { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--accent); padding: 10px 14px; margin: 10px 0; }
.panel.error { border-left-color: var(--bad); }
.panel.done { border-left-color: var(--ok); }
progress { width: 320px; height: 14px; }
.stamp { font-size: 12px; color: var(--muted); }
.login { max-width: 380px; margin: 80px auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 24px; }
.login label { display: block; margin: 10px 0 4px; }
.login input { width: 100%; }
.login button { margin-top: 14px; width: 100%; }
`;

export const consoleJs = `
'use strict';
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || ('HTTP ' + response.status));
        return data;
      });
    });
  }

  function table(headers, rows) {
    var t = el('table');
    var head = el('tr');
    headers.forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(head);
    rows.forEach(function (row) {
      var tr = el('tr');
      row.forEach(function (cell) { tr.appendChild(el('td', cell)); });
      t.appendChild(tr);
    });
    return t;
  }

  function panel(target, cls) {
    target.replaceChildren();
    var box = el('div', null, 'panel' + (cls ? ' ' + cls : ''));
    target.appendChild(box);
    return box;
  }

  function showError(target, error) {
    var box = panel(target, 'error');
    box.appendChild(el('strong', 'Refused: '));
    box.appendChild(el('span', error.message));
    box.setAttribute('data-state', 'error');
  }

  function showAudit(box, audit) {
    box.appendChild(el('h2', 'Audit record'));
    box.appendChild(table(['when', 'who', 'what', 'confirmed', 'outcome', 'result'], [[
      audit.startedAt + (audit.finishedAt ? ' .. ' + audit.finishedAt : ''),
      audit.operator + ' (' + audit.address + ')',
      audit.action + ' ' + audit.group + ' / ' + audit.topic + ': ' + audit.targets.join(', '),
      audit.confirmed, audit.outcome, audit.result || '',
    ]]));
  }

  function confirmButton(box, label, onConfirm) {
    var row = el('div', null, 'actions');
    var go = el('button', label, 'danger');
    go.setAttribute('data-confirm', '');
    var cancel = el('button', 'Cancel');
    cancel.addEventListener('click', function () { box.parentNode.replaceChildren(); });
    go.addEventListener('click', function () { go.disabled = true; cancel.disabled = true; onConfirm(); });
    row.appendChild(go);
    row.appendChild(cancel);
    box.appendChild(row);
  }

  // Live refresh: a [data-live] element is replaced by its server-rendered (escaped) fragment every interval.
  document.querySelectorAll('[data-live]').forEach(function (node) {
    var interval = Number(node.getAttribute('data-refresh')) || 5000;
    var stamp = document.getElementById('live-stamp');
    setInterval(function () {
      fetch(node.getAttribute('data-live'), { credentials: 'same-origin' }).then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.text();
      }).then(function (text) {
        node.innerHTML = text;
        if (stamp) stamp.textContent = 'updated ' + new Date().toLocaleTimeString();
      }).catch(function (error) {
        if (stamp) stamp.textContent = 'refresh failed: ' + error.message;
      });
    }, interval);
  });

  // Dead letters: select all, replay (dry run, then confirm with the count), purge.
  var dlt = document.getElementById('dlt-actions');
  if (dlt) {
    var base = dlt.getAttribute('data-base');
    var out = document.getElementById('action-result');
    var context = JSON.parse(dlt.getAttribute('data-context'));
    var all = document.getElementById('select-all');
    if (all) all.addEventListener('change', function () {
      document.querySelectorAll('input[name="record"]').forEach(function (box) { box.checked = all.checked; });
    });
    function chosen() {
      return Array.prototype.map.call(document.querySelectorAll('input[name="record"]:checked'), function (box) { return box.value; });
    }
    function replayRequest(preview) {
      var request = { group: context.group, topic: context.topic, filter: context.filter, records: chosen(), includeReplayed: document.getElementById('include-replayed').checked };
      if (preview) { request.confirm = preview.selected; request.selection = preview.selection; }
      return request;
    }
    function poll(job, box) {
      var bar = el('progress');
      bar.max = job.total; bar.value = job.done;
      var label = el('span', ' 0 of ' + job.total);
      box.appendChild(el('h2', 'Replaying at most ' + context.rate + ' record(s)/s'));
      box.appendChild(bar); box.appendChild(label);
      var timer = setInterval(function () {
        fetch(base + '/api/jobs/' + encodeURIComponent(job.id), { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (state) {
          bar.value = state.done;
          label.textContent = ' ' + state.done + ' of ' + state.total;
          if (state.state !== 'running') {
            clearInterval(timer);
            box.className = 'panel ' + (state.state === 'done' ? 'done' : 'error');
            box.appendChild(el('p', state.result));
            showAudit(box, state.audit);
            box.setAttribute('data-state', state.state);
          }
        });
      }, 400);
    }
    document.getElementById('replay-dry-run').addEventListener('click', function () {
      var request = replayRequest();
      if (request.records.length === 0) { showError(out, new Error('select at least one record')); return; }
      post(base + '/api/dlt/replay', request).then(function (data) {
        var preview = data.preview;
        var box = panel(out);
        box.setAttribute('data-state', 'dry-run');
        box.appendChild(el('h2', 'Dry run: nothing was changed'));
        box.appendChild(table(['action', 'record', 'key', 'event', 'reason', 'destination'], preview.items.map(function (item) {
          return [item.action === 'source' || item.action === 'lane' ? 'would replay' : item.action, item.position, item.key === null ? '(none)' : item.key, item.eventId, item.reason || '', item.destination];
        })));
        preview.warnings.forEach(function (w) { box.appendChild(el('p', 'warning: ' + w, 'warn')); });
        var c = preview.counts;
        box.appendChild(el('p', preview.selected + ' record(s) selected of ' + preview.matching + ' chosen: ' + c.source + ' to the source topic, ' + c.lane + " into parked keys' lanes; " + c.refused + ' refused, ' + c.skipped + ' skipped. Rate limit ' + preview.ratePerSecond + '/s.', 'summary'));
        if (preview.selected === 0) return;
        confirmButton(box, 'Replay ' + preview.selected + ' record(s)', function () {
          post(base + '/api/dlt/replay', replayRequest(preview)).then(function (started) { poll(started.job, box); }).catch(function (e) { showError(out, e); });
        });
      }).catch(function (e) { showError(out, e); });
    });
    document.getElementById('purge-dry-run').addEventListener('click', function () {
      post(base + '/api/dlt/purge', { group: context.group, topic: context.topic }).then(function (data) {
        var preview = data.preview;
        var box = panel(out);
        box.setAttribute('data-state', 'dry-run');
        box.appendChild(el('h2', 'Purge dry run: nothing was changed'));
        box.appendChild(table(['partition', 'would delete', 'offsets', 'stay', 'why the rest stays'], preview.partitions.map(function (p) {
          return [p.partition, p.purged, p.range || '-', p.kept, p.blockedBy || ''];
        })));
        box.appendChild(el('p', preview.selected + ' replayed record(s) would be deleted from ' + preview.dltTopic + ' (only the replayed prefix of each partition: Kafka deletes prefixes).', 'summary'));
        if (preview.selected === 0) return;
        confirmButton(box, 'Delete ' + preview.selected + ' record(s)', function () {
          post(base + '/api/dlt/purge', { group: context.group, topic: context.topic, confirm: preview.selected, selection: preview.selection }).then(function (done) {
            var result = panel(out, 'done');
            result.setAttribute('data-state', 'done');
            result.appendChild(el('p', done.audit.result));
            showAudit(result, done.audit);
          }).catch(function (e) { showError(out, e); });
        });
      }).catch(function (e) { showError(out, e); });
    });
  }

  // Parked keys: release (dry run, then confirm with the count of held entries).
  document.querySelectorAll('button[data-release]').forEach(function (button) {
    button.addEventListener('click', function () {
      var base = button.getAttribute('data-base');
      var out = document.getElementById('action-result');
      var request = { group: button.getAttribute('data-group'), topic: button.getAttribute('data-topic'), key: button.getAttribute('data-key') };
      post(base + '/api/keys/release', request).then(function (data) {
        var preview = data.preview;
        var box = panel(out);
        box.setAttribute('data-state', 'dry-run');
        box.appendChild(el('h2', 'Release ' + preview.key + ' (' + preview.topic + '): dry run, nothing was changed'));
        box.appendChild(table(['partition', 'held', 'queued', 'head tier', 'would'], preview.entries.map(function (e) { return [e.partition, e.held ? 'yes' : 'no', e.queued, e.headTier, e.change]; })));
        if (preview.selected === 0) return;
        confirmButton(box, 'Release ' + preview.selected + ' held entr' + (preview.selected === 1 ? 'y' : 'ies'), function () {
          request.confirm = preview.selected;
          request.selection = preview.selection;
          post(base + '/api/keys/release', request).then(function (done) {
            var result = panel(out, 'done');
            result.setAttribute('data-state', 'done');
            result.appendChild(el('p', done.audit.result));
            showAudit(result, done.audit);
          }).catch(function (e) { showError(out, e); });
        });
      }).catch(function (e) { showError(out, e); });
    });
  });
})();
`;
